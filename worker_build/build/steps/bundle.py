"""Step: bundle our shim with wasm-bindgen's glue into worker-build 0.8's output layout.

Layout written to the staging out dir (moved to build/ at the end):
  index.js, index_bg.wasm, package.json, worker/shim.mjs, .gitignore
or, for the legacy layout (--no-panic-recovery, CUSTOM_SHIM), as the Rust tool writes it:
  index.js (re-exports worker/shim.mjs), worker/shim.mjs, worker/index.wasm, package.json,
  .gitignore
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from worker_build.build.context import BuildContext
from worker_build.errors import UsageError, WorkerBuildError
from worker_build.serve import wrangler
from worker_build.tools import resolve
from worker_build.util import proc
from worker_build.util.resources import template

EXTERNALS = (
    "./index_bg.wasm",
    "node:async_hooks",
    "cloudflare:sockets",
    "cloudflare:workers",
    "cloudflare:email",
)
# wasm-bindgen emits a source-phase import; wrangler's CompiledWasm rule (and
# workerd's wasm module type) expect a plain default import of the .wasm.
# Minified output has no space before the specifier and identifiers may hold `$`.
SOURCE_IMPORT = re.compile(
    r"""import\s+source\s+([A-Za-z_$][\w$]*)\s+from\s*(["']\./index_bg\.wasm["'])"""
)
# An `export` keyword that starts a statement: at the start of the text or after whitespace,
# `;` or `}` (so minified glue, `...}export function f(){...}`, is read like formatted glue).
EXPORT_KEYWORD = re.compile(r"(?:^|(?<=[\s;}]))export\b")
IDENT = r"[A-Za-z_$][\w$]*"
DECLARATION = re.compile(
    rf"""export\s*(?:
        (?P<fkw>(?:async\s+)?function\b\s*\*?)\s*(?P<fname>{IDENT})
      | class\s+(?P<cname>{IDENT})
      | (?:const|let|var)\s+(?P<vname>{IDENT})\s*=\s*(?P<vkind>class\b|(?:async\s+)?function\b)?
      | \{{(?P<list>[^}}]*)\}}
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class GlueExports:
    """What wasm-bindgen's glue exports, read from its text (formatted or minified)."""

    functions: tuple[str, ...]
    classes: tuple[str, ...]


def _local_kind(glue_js: str, local: str) -> str | None:
    """The kind of a name declared in the glue: "function", "class" or None."""
    name = re.escape(local)  # identifiers may hold `$`: no \b around them
    if re.search(rf"(?:^|[\s;}}])class\s+{name}(?![\w$])", glue_js) or re.search(
        rf"(?<![\w$.]){name}\s*=\s*class\b", glue_js
    ):
        return "class"
    if re.search(rf"(?:^|[\s;}}])(?:async\s+)?function\s*\*?\s*{name}\s*\(", glue_js):
        return "function"
    return None


def parse_exports(glue_js: str) -> GlueExports:
    """The glue's exported functions and classes, in order of appearance.

    Handles `export [async] function NAME(`, `export class NAME`, `export const NAME =
    class|function`, and `export { local as NAME, ... }` lists (the kind is that of the local
    declaration), whether one declaration per line or minified.
    """
    functions: list[str] = []
    classes: list[str] = []

    def add(name: str, kind: str | None) -> None:
        bucket = classes if kind == "class" else functions if kind == "function" else None
        if bucket is not None and name != "default" and name not in bucket:
            bucket.append(name)

    for keyword in EXPORT_KEYWORD.finditer(glue_js):
        match = DECLARATION.match(glue_js, keyword.start())
        if match is None:
            continue
        if match["fname"]:
            add(match["fname"], "function")
        elif match["cname"]:
            add(match["cname"], "class")
        elif match["vname"]:
            vkind = (match["vkind"] or "").strip()
            add(match["vname"], "class" if vkind == "class" else "function" if vkind else None)
        elif match["list"] is not None:
            for spec in match["list"].split(","):
                parts = spec.split()
                if len(parts) == 3 and parts[1] == "as":
                    add(parts[2], _local_kind(glue_js, parts[0]))
                elif len(parts) == 1:
                    add(parts[0], _local_kind(glue_js, parts[0]))
    return GlueExports(tuple(functions), tuple(classes))


def shim_config(ctx: BuildContext) -> str:
    options = ctx.options
    return json.dumps(
        {
            "panicUnwind": options.panic_unwind,
            "panicBody": options.panic_body.value,
            "runToCompletion": options.run_to_completion,
            "replay": list(options.replay_on_abort) or None,
        },
        separators=(",", ":"),
    )


def esbuild_command(ctx: BuildContext, esbuild: str) -> list[str]:
    argv = [
        esbuild,
        str(ctx.bindgen_dir / "shim.js"),
        "--bundle",
        "--format=esm",
        f"--outfile={ctx.out_dir / 'index.js'}",
        *(f"--external:{name}" for name in EXTERNALS),
        f"--define:WORKER_BUILD_CONFIG={shim_config(ctx)}",
        "--log-level=warning",
    ]
    if ctx.options.minify:
        argv.append("--minify")
    return argv


def package_json(ctx: BuildContext) -> str:
    crate = ctx.need_crate()
    name = crate.package_name
    if ctx.options.scope:
        name = f"@{ctx.options.scope.lstrip('@')}/{name}"
    doc = {"name": name, "type": "module", "main": "index.js", "private": True}
    return json.dumps(doc, indent=2) + "\n"


# The module shim.js imports for replay on abort: the real one with --replay-on-abort (it
# imports node:async_hooks, which needs a compatibility flag), a stub without.
REPLAY_MODULE = "worker-build-replay.js"


def replay_module(rules: tuple[str, ...]) -> str:
    name = "shim-replay.js" if rules else "shim-replay-off.js"
    return template(name).read_text(encoding="utf-8")


def shim_source(glue_js: str) -> str:
    """Our shim plus the module's exports: the entrypoint over the glue's functions and
    one wrapper per class the glue exports."""
    exports = parse_exports(glue_js)
    lines = [f"export default __workerBuildEntrypoint({json.dumps(list(exports.functions))});"]
    lines += [f'export const {name} = __workerBuildClass("{name}");' for name in exports.classes]
    return template("shim.js").read_text(encoding="utf-8") + "\n" + "\n".join(lines) + "\n"


def run(ctx: BuildContext) -> None:
    tool = resolve.esbuild(ctx.options.crate_path, ctx.options.install_policy)
    ctx.tools["esbuild"] = tool
    out = ctx.out_dir
    (out / "worker").mkdir(parents=True, exist_ok=True)
    if ctx.options.legacy_layout:
        _bundle_legacy(ctx, str(tool.path))
    else:
        _bundle_module(ctx, str(tool.path))
    (out / "package.json").write_text(package_json(ctx), encoding="utf-8")
    (out / ".gitignore").write_text("*\n", encoding="utf-8")


def _bundle_module(ctx: BuildContext, esbuild: str) -> None:
    out = ctx.out_dir
    glue = (ctx.bindgen_dir / "index.js").read_text(encoding="utf-8")
    (ctx.bindgen_dir / "shim.js").write_text(shim_source(glue), encoding="utf-8")
    (ctx.bindgen_dir / REPLAY_MODULE).write_text(
        replay_module(ctx.options.replay_on_abort), encoding="utf-8"
    )
    if ctx.options.replay_on_abort:
        _note_missing_als_flag(ctx)
    proc.run(esbuild_command(ctx, esbuild))

    bundled = out / "index.js"
    text = bundled.read_text(encoding="utf-8")
    bundled.write_text(SOURCE_IMPORT.sub(r"import \1 from \2", text), encoding="utf-8")
    shutil.copyfile(ctx.bindgen_dir / "index_bg.wasm", out / "index_bg.wasm")
    (out / "worker" / "shim.mjs").write_text(
        'export * from "../index.js";\nexport { default } from "../index.js";\n', encoding="utf-8"
    )


# The compatibility flags that give a Worker `node:async_hooks` (AsyncLocalStorage), which
# the replay module imports: without one, workerd refuses to load the Worker at all.
ALS_FLAGS = ("nodejs_als", "nodejs_compat")


def _note_missing_als_flag(ctx: BuildContext) -> None:
    """Say at build time, not at the first deploy, when the crate's wrangler
    configuration lacks the flag a --replay-on-abort build needs."""
    config = wrangler.find_config(ctx.options.crate_path, ctx.options.out_dir)
    if config is None:
        return
    try:
        flags = wrangler.load(config).compatibility_flags
    except WorkerBuildError:  # a configuration wrangler will reject itself: not ours to judge
        return
    if not set(flags) & set(ALS_FLAGS):
        ctx.notes.append(
            f'--replay-on-abort needs compatibility_flags = ["nodejs_als"] (or '
            f'"nodejs_compat") in {config.name}: without it workerd refuses this Worker '
            '(No such module "node:async_hooks")'
        )


# ---------------------------------------------------------------------------------------------
# The legacy layout (--no-panic-recovery, CUSTOM_SHIM), as the Rust tool writes it:
#   index.js            re-exports ./worker/shim.mjs
#   worker/shim.mjs     the shim template + wasm-bindgen's bundler-target glue, bundled
#   worker/index.wasm   the module, instantiated by the shim

LEGACY_EXTERNALS = ("./index.wasm", "cloudflare:sockets", "cloudflare:workers", "cloudflare:email")
LEGACY_INDEX = 'export * from "./worker/shim.mjs";\nexport { default } from "./worker/shim.mjs";\n'


def snippet_paths(bindgen_dir: Path) -> list[str]:
    """wasm-bindgen's snippet files, as `./snippets/...` specifiers, in a stable order."""
    root = bindgen_dir / "snippets"
    if not root.is_dir():
        return []
    return sorted(
        "./" + path.relative_to(bindgen_dir).as_posix()
        for path in root.rglob("*")
        if path.is_file()
    )


def fill_legacy_template(text: str, snippets: list[str], run_to_completion: bool) -> str:
    """The template's placeholders replaced, as the Rust tool replaces them."""
    js_imports = "".join(f'import * as snippets_{i} from "{p}";\n' for i, p in enumerate(snippets))
    wasm_imports = "".join(f'"{p}": snippets_{i},\n' for i, p in enumerate(snippets))
    wait = "this.ctx.waitUntil(response);" if run_to_completion else ""
    return (
        text.replace("$WAIT_UNTIL_RESPONSE", wait)
        .replace("$SNIPPET_JS_IMPORTS", js_imports)
        .replace("$SNIPPET_WASM_IMPORTS", wasm_imports)
    )


def legacy_template(ctx: BuildContext) -> str:
    custom = ctx.options.custom_shim
    if custom is None:
        return template("shim-legacy.js").read_text(encoding="utf-8")
    try:
        return custom.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"CUSTOM_SHIM: cannot read {custom.path} ({exc})",
            "point CUSTOM_SHIM at a shim template file, or unset it",
        ) from None


def _bundle_legacy(ctx: BuildContext, esbuild: str) -> None:
    out, src = ctx.out_dir, ctx.bindgen_dir
    shim = src / "shim.js"
    shim.write_text(
        fill_legacy_template(
            legacy_template(ctx), snippet_paths(src), ctx.options.run_to_completion
        ),
        encoding="utf-8",
    )
    argv = [
        esbuild,
        str(shim),
        "--bundle",
        "--format=esm",
        f"--outfile={out / 'worker' / 'shim.mjs'}",
        *(f"--external:{name}" for name in LEGACY_EXTERNALS),
        "--log-level=warning",
    ]
    if ctx.options.minify:
        argv.append("--minify")
    proc.run(argv)
    shutil.copyfile(src / "index_bg.wasm", out / "worker" / "index.wasm")
    (out / "index.js").write_text(LEGACY_INDEX, encoding="utf-8")
