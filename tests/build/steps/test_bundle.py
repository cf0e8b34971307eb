from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.stepctx import isolate, step_context
from worker_build.build.steps import bundle
from worker_build.util.resources import template_dir


# A trimmed wasm-bindgen glue (the shape 0.2.130 emits for hello-worker).
def glue_sample() -> str:
    return (
        "import { state } from './snippets/worker-64cc4b2d035528c7/inline0.js';\n"
        'import source wasmModule from "./index_bg.wasm";\n'
        "export class Counter {\n  constructor(state, env) {}\n}\n"
        "export class R2Range {\n}\n"
        "export function __wbg_reset_state () {}\n"
        "export function fetch(req, env, ctx) {}\n"
    )


def test_source_phase_import_is_rewritten_minified_and_not() -> None:
    for text in (
        'import source wasmModule from "./index_bg.wasm";',
        "import source $w from'./index_bg.wasm';",
    ):
        out = bundle.SOURCE_IMPORT.sub(r"import \1 from \2", text)
        assert "source" not in out and "./index_bg.wasm" in out


def test_other_imports_are_left_alone() -> None:
    text = 'import source other from "./other.wasm";'
    assert bundle.SOURCE_IMPORT.sub(r"import \1 from \2", text) == text


def test_every_exported_class_gets_a_wrapper() -> None:
    source = bundle.shim_source(glue_sample())
    assert 'export const Counter = __workerBuildClass("Counter");' in source
    assert 'export const R2Range = __workerBuildClass("R2Range");' in source
    assert '__workerBuildClass("fetch")' not in source
    assert source.index("function __workerBuildClass") < source.index("export const Counter")


def test_the_entrypoint_is_built_over_the_function_exports() -> None:
    source = bundle.shim_source(glue_sample())
    line = 'export default __workerBuildEntrypoint(["__wbg_reset_state", "fetch"]);'
    assert line in source
    assert source.index("function __workerBuildEntrypoint") < source.index(line)


def test_export_parsing_formatted_glue() -> None:
    glue = (
        "export class Counter {\n}\n"
        "export function fetch(req, env, ctx) {}\n"
        "export async function connect(socket, env, ctx) {}\n"
        "export function* gen() {}\n"
        "export const Obj = class Obj {};\n"
        "export var later = async function () {};\n"
        "const notExported = 1;\n"
        "// export function commented_but_harmless() {}\n"
    )
    exports = bundle.parse_exports(glue)
    assert exports.classes == ("Counter", "Obj")
    assert exports.functions == (
        "fetch",
        "connect",
        "gen",
        "later",
        "commented_but_harmless",  # a text scan, like the Rust tool's
    )


def test_export_parsing_minified_glue() -> None:
    glue = (
        'import{state as s}from"./snippets/x/inline0.js";var a$=1;'
        "export class Counter{constructor(t,e){}}export async function fetch(a,b,c){return a}"
        "function q(a){}class R$ {}function $w(){}"
        "export{q as scheduled,R$ as R2Range,$w,q as default};"
    )
    exports = bundle.parse_exports(glue)
    assert exports.classes == ("Counter", "R2Range")
    assert exports.functions == ("fetch", "scheduled", "$w")


def test_export_parsing_ignores_the_word_inside_identifiers() -> None:
    glue = "function reexport(){}var exporter=1;const x=notexport;export function f(){}"
    assert bundle.parse_exports(glue).functions == ("f",)


# -- the legacy layout (--no-panic-recovery, CUSTOM_SHIM) --------------------------------------


def test_snippet_paths_are_specifiers_in_a_stable_order(tmp_path: Path) -> None:
    assert bundle.snippet_paths(tmp_path) == []
    for rel in ("snippets/b-1/inline0.js", "snippets/a-2/inline1.js", "snippets/a-2/inline0.js"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("export const x = 1;\n")
    assert bundle.snippet_paths(tmp_path) == [
        "./snippets/a-2/inline0.js",
        "./snippets/a-2/inline1.js",
        "./snippets/b-1/inline0.js",
    ]


def test_legacy_template_placeholders_are_filled_like_the_rust_tool() -> None:
    text = "$SNIPPET_JS_IMPORTS|{\n$SNIPPET_WASM_IMPORTS}|$WAIT_UNTIL_RESPONSE;"
    snippets = ["./snippets/a/inline0.js", "./snippets/b/inline0.js"]
    filled = bundle.fill_legacy_template(text, snippets, run_to_completion=True)
    assert filled == (
        'import * as snippets_0 from "./snippets/a/inline0.js";\n'
        'import * as snippets_1 from "./snippets/b/inline0.js";\n'
        '|{\n"./snippets/a/inline0.js": snippets_0,\n"./snippets/b/inline0.js": snippets_1,\n}'
        "|this.ctx.waitUntil(response);;"
    )
    assert bundle.fill_legacy_template(text, [], run_to_completion=False) == "|{\n}|;"


def test_our_legacy_template_has_the_rust_tool_placeholders() -> None:
    text = (template_dir() / "shim-legacy.js").read_text()
    for placeholder in ("$SNIPPET_JS_IMPORTS", "$SNIPPET_WASM_IMPORTS", "$WAIT_UNTIL_RESPONSE"):
        assert placeholder in text
    assert 'from "./index.wasm"' in text and 'from "./index_bg.js"' in text


def test_the_replay_module_is_chosen_by_the_option() -> None:
    imports = 'from "node:async_hooks"'
    assert imports in bundle.replay_module(("GET",))
    assert imports not in bundle.replay_module(())  # default builds need no compatibility flag
    assert "node:async_hooks" in bundle.EXTERNALS


def test_both_replay_modules_export_what_the_shim_imports() -> None:
    def exported(name: str) -> set[str]:
        text = (template_dir() / name).read_text()
        return set(re.findall(r"^export (?:const|function) (\w+)", text, re.MULTILINE))

    assert exported("shim-replay.js") == exported("shim-replay-off.js")
    used = set(re.findall(r"(?<![-\w])replay\.(\w+)", (template_dir() / "shim.js").read_text()))
    assert used <= exported("shim-replay.js")


def test_the_replay_module_is_evaluated_before_the_glue() -> None:
    shim = (template_dir() / "shim.js").read_text()
    replay = shim.index(f'from "./{bundle.REPLAY_MODULE}";')
    assert replay < shim.index('from "./index.js";')  # it wraps WebAssembly.Instance first


def test_shim_config_carries_the_replay_rules(tmp_path: Path) -> None:
    from worker_build.build.context import BuildContext
    from worker_build.build.options import RawArgs, resolve

    def config(replay: bool) -> dict[str, object]:
        options = resolve(RawArgs(path=tmp_path, replay_on_abort=replay), tmp_path, {})
        ctx = BuildContext(options=options, staging=tmp_path / "staging")
        result: dict[str, object] = json.loads(bundle.shim_config(ctx))
        return result

    assert config(False)["replay"] is None
    assert config(True)["replay"] == ["GET", "HEAD", "OPTIONS"]


@pytest.mark.parametrize(
    ("config", "noted"),
    [
        ('name = "w"\nmain = "build/index.js"\n', True),
        ('name = "w"\ncompatibility_flags = ["nodejs_als"]\n', False),
        ('name = "w"\ncompatibility_flags = ["nodejs_compat"]\n', False),
        (None, False),  # no wrangler configuration: nothing to check
        ("name = [broken", False),  # wrangler's to reject, not the build's
    ],
)
def test_a_replay_build_notes_a_missing_async_hooks_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, config: str | None, noted: bool
) -> None:
    isolate(tmp_path, monkeypatch)
    ctx = step_context(tmp_path, replay_on_abort=True)
    if config is not None:
        (ctx.options.crate_path / "wrangler.toml").write_text(config, encoding="utf-8")
    bundle._note_missing_als_flag(ctx)
    found = [n for n in ctx.notes if "--replay-on-abort needs" in n]
    assert bool(found) is noted
    if noted:
        assert 'compatibility_flags = ["nodejs_als"]' in found[0] and "wrangler.toml" in found[0]
