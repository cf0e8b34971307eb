from __future__ import annotations

from worker_build.steps import bundle


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
