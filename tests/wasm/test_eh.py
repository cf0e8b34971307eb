"""EH verification of a module (wasm/eh.py): the report, its JSON, the expectations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.ehmodules import (
    EXNREF,
    JS_WRAPPER,
    LEGACY,
    PLAIN,
    RUST_THROW,
    wb_module,
)
from worker_build.errors import (
    EXIT_INVALID_WASM,
    EXIT_NO_EH,
    InvalidWasmError,
    NoExceptionHandlingError,
)
from worker_build.wasm.eh import EHReport, Expect, inspect_bytes, verify_bytes, verify_file


def test_report_for_a_legacy_module() -> None:
    r = verify_bytes(wb_module(LEGACY, PLAIN, LEGACY), "legacy")
    assert r.encodings == ("legacy",)
    assert r.count("try") == 2 and r.count("catch") == 2 and r.count("catch_all") == 2
    assert r.count("rethrow") == 2 and r.count("try_table") == 0
    assert (r.functions_defined, r.functions_imported, r.functions_with_eh) == (3, 2, 2)
    assert [(t.index, t.imported, t.name, t.params, t.catches) for t in r.tags] == [
        (0, True, "__wbindgen_jstag_9f3e", ("externref",), 0),
        (1, True, "__wbindgen_wrapped_jstag", ("externref",), 0),
        (2, False, None, ("i32",), 2),
    ]
    assert r.unwind_tags == (2,) and r.can_unwind
    assert [t.bindgen_js for t in r.tags] == [True, True, False]
    b = r.bindgen
    assert b.instance_terminated and b.abort_handler
    assert b.jstag_import == "__wbindgen_jstag_9f3e"
    assert b.wrapped_jstag_import == "__wbindgen_wrapped_jstag"
    assert b.panic_error_import and b.panic_error_import.startswith("__wbg___wbindgen_panic")
    assert b.rethrow_import and b.reset_state_exports == ()
    assert r.custom_sections == ("producers",)
    assert r.expect == "legacy" and r.has_eh


def test_json_shape() -> None:
    doc = verify_bytes(wb_module(EXNREF, RUST_THROW), "exnref").to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["encodings"] == ["exnref"]
    assert doc["expect"] == "exnref"
    assert list(doc["instructions"]) == [
        "try", "catch", "catch_all", "rethrow", "delegate", "throw", "try_table", "throw_ref",
    ]  # fmt: skip
    assert doc["instructions"]["try_table"] == 1 and doc["instructions"]["throw_ref"] == 1
    assert doc["try_table_catches"] == {"catch": 1, "catch_ref": 0, "catch_all": 0,
                                        "catch_all_ref": 1}  # fmt: skip
    assert doc["functions"] == {"defined": 2, "imported": 2, "with_eh": 2}
    assert doc["tags"][0] == {
        "index": 0, "imported": True, "module": "./index_bg.js", "name": "__wbindgen_jstag_9f3e",
        "type": 1, "params": ["externref"], "throws": 0, "catches": 0, "wasm_bindgen_js": True,
    }  # fmt: skip
    assert doc["tags"][2]["throws"] == 1 and doc["tags"][2]["catches"] == 1
    assert doc["can_unwind"] is True and doc["unwind_tags"] == [2]
    assert doc["wasm_bindgen"]["instance_terminated"] is True
    assert doc["size"] == len(wb_module(EXNREF, RUST_THROW)) and doc["file"] is None


def test_summary_lines() -> None:
    lines = verify_bytes(wb_module(LEGACY)).summary_lines()
    text = "\n".join(lines)
    assert lines[0].startswith("module: ") and "1 functions (+2 imported)" in lines[0]
    assert "exception handling: legacy" in text
    assert "try 1, catch 1, catch_all 1, rethrow 1 in 1 functions" in text
    assert "import ./index_bg.js::__wbindgen_jstag_9f3e" in text
    assert "export __instance_terminated" in text


@pytest.mark.parametrize(
    ("codes", "expect", "error"),
    [
        ((LEGACY,), "legacy", None),
        ((LEGACY,), "any", None),
        ((LEGACY,), "exnref", "uses the legacy exception-handling encoding .*expected exnref"),
        ((EXNREF,), "exnref", None),
        ((EXNREF,), "legacy", "uses the exnref .*expected legacy"),
        ((LEGACY, EXNREF), "any", None),
        ((LEGACY, EXNREF), "legacy", "legacy \\+ exnref"),
        ((LEGACY, EXNREF), "exnref", "legacy \\+ exnref"),
        ((PLAIN,), "any", "no exception-handling instructions"),
        ((PLAIN,), "legacy", "no exception-handling instructions"),
        ((b"\x08\x00\x0b",), "any", "only `throw` \\(throw x1\\)"),
        ((JS_WRAPPER,), "any", "only in wasm-bindgen's JS-exception wrappers"),
        ((JS_WRAPPER, PLAIN), "exnref", "no Rust exception tag is thrown or caught"),
        ((JS_WRAPPER, RUST_THROW), "exnref", None),  # a panic can be thrown (and reach JS)
    ],
)
def test_expectations(codes: tuple[bytes, ...], expect: Expect, error: str | None) -> None:
    data = wb_module(*codes)
    if error is None:
        assert verify_bytes(data, expect).expect == expect
        return
    with pytest.raises(NoExceptionHandlingError, match=error) as e:
        verify_bytes(data, expect)
    assert e.value.exit_code == EXIT_NO_EH
    assert e.value.fix
    if "no exception" in error or "throw" in error or "wrappers" in error:
        assert e.value.fix == "build with --panic-unwind"
    else:
        assert f"--expect {'exnref' if expect == 'legacy' else 'legacy'}" in e.value.fix


def test_bad_expect_value() -> None:
    with pytest.raises(ValueError, match="expect must be one of"):
        inspect_bytes(wb_module(LEGACY)).check("both")


def test_invalid_body_names_function_and_offset() -> None:
    data = wb_module(LEGACY, b"\x41\x01\x16\x0b")
    with pytest.raises(InvalidWasmError) as e:
        verify_bytes(data)
    assert e.value.reason == "function 3 (code body 1): unknown opcode 0x16"
    assert data[e.value.offset] == 0x16
    assert e.value.exit_code == EXIT_INVALID_WASM
    assert str(e.value).startswith(f"invalid wasm at byte {e.value.offset:#x}: function 3")


def test_verify_accepts_bytearray_and_memoryview() -> None:
    data = wb_module(LEGACY)
    assert verify_bytes(bytearray(data)).count("try") == 1
    assert inspect_bytes(memoryview(data)).count("try") == 1  # type: ignore[arg-type]


def test_verify_file(tmp_path: Path) -> None:
    path = tmp_path / "index_bg.wasm"
    path.write_bytes(wb_module(LEGACY))
    r = verify_file(path, "legacy")
    assert isinstance(r, EHReport) and r.path == str(path)
    assert r.summary_lines()[0].startswith("index_bg.wasm: ")
