"""parse_glue (glue/__init__.py): the whole glue file read into functions, classes, enums
and imports, with wasm-bindgen's own internals left out. No real tools."""

from __future__ import annotations

from tests.support.glue_function_samples import GLUE, SIGS
from worker_build.loader.glue import parse_glue


def test_internals_classes_and_enums() -> None:
    glue = parse_glue(GLUE, SIGS)
    assert "__wbg_reset_state" not in {f.name for f in glue.functions}
    assert [c.name for c in glue.classes] == ["Thing"]
    assert glue.classes[0].problem == "the glue has no free() the loader can call"
    assert [(e.name, e.values) for e in glue.enums] == [("Color", (("Red", 1),))]


def test_the_import_object_is_kept_and_wasm_bindgens_own_imports_are_not_the_crates() -> None:
    glue = parse_glue(GLUE, SIGS)
    assert glue.imports["__wbindgen_jstag"] == "WebAssembly.JSTag"
    assert "__wbg_Error_208446807d0d1e30" in glue.imports
    assert glue.js_imports == ()  # `Error` is wasm-bindgen's, not a JS function of the crate
