"""EH verification report and the `verify` command (verify.py, verify.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
from worker_build.cli import verify
from worker_build.errors import (
    EXIT_INTERNAL,
    EXIT_INVALID_WASM,
    EXIT_NO_EH,
    EXIT_USAGE,
    InvalidWasmError,
    NoExceptionHandlingError,
    UsageError,
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


def test_cli_run_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(wb_module(LEGACY))
    assert verify.run(path, "any", False) == 0
    out = capsys.readouterr().out
    assert "exception handling: legacy" in out and "ok: matches --expect any" in out
    assert verify.run(path, "legacy", True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["error"] is None and doc["expect"] == "legacy"
    assert doc["instructions"]["try"] == 1


def test_cli_run_prints_report_then_raises(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(wb_module(PLAIN))
    with pytest.raises(NoExceptionHandlingError):
        verify.run(path, "any", True)
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and "no exception-handling" in doc["error"]
    assert doc["encodings"] == []


def test_cli_run_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        verify.run(tmp_path / "missing.wasm", "any", False)
    with pytest.raises(UsageError, match="cannot read"):
        verify.run(tmp_path, "any", False)
    with pytest.raises(UsageError, match="--expect must be one of"):
        verify.run(tmp_path, "maybe", False)
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\x00asm\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InvalidWasmError, match="type section size 5 goes past"):
        verify.run(bad, "any", True)
    assert capsys.readouterr().out == ""


def test_cli_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, none, bad = tmp_path / "good.wasm", tmp_path / "none.wasm", tmp_path / "bad.wasm"
    good.write_bytes(wb_module(EXNREF, RUST_THROW))
    none.write_bytes(wb_module(PLAIN, bindgen=False))
    bad.write_bytes(b"\x00asm\x02\x00\x00\x00")
    assert verify.main([str(good), "--expect", "exnref"]) == 0
    assert verify.main([str(good), "--expect", "legacy"]) == EXIT_NO_EH
    assert verify.main([str(none)]) == EXIT_NO_EH
    assert verify.main([str(bad), "--json"]) == EXIT_INVALID_WASM
    err = capsys.readouterr().err
    assert "error: invalid wasm at byte 0x4: unsupported version" in err
    assert "Traceback" not in err
    assert "wasm-bindgen: no EH/abort machinery" in "\n".join(
        inspect_bytes(wb_module(LEGACY, bindgen=False)).summary_lines()
    )


def test_cli_main_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.wasm"
    good.write_bytes(wb_module(LEGACY))
    assert verify.main(["--expect=legacy", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["expect"] == "legacy"
    assert verify.main(["--help"]) == 0
    assert "usage: worker-build verify FILE.wasm" in capsys.readouterr().out
    assert verify.main([]) == EXIT_USAGE
    assert verify.main([str(good), str(good)]) == EXIT_USAGE
    assert verify.main([str(good), "--fast"]) == EXIT_USAGE
    assert verify.main([str(good), "--expect"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "error: expected exactly one FILE.wasm (usage:" in err
    assert "error: unknown option --fast" in err
    assert "error: --expect must be one of legacy, exnref, any, not ''" in err


def test_cli_main_internal_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.wasm"
    good.write_bytes(wb_module(LEGACY))

    def boom(path: object) -> None:
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(verify, "inspect_file", boom)
    monkeypatch.delenv("WORKER_BUILD_TRACEBACK", raising=False)
    assert verify.main([str(good)]) == EXIT_INTERNAL
    assert "internal error: RuntimeError: decoder bug" in capsys.readouterr().err
    monkeypatch.setenv("WORKER_BUILD_TRACEBACK", "1")  # the traceback too; the same code
    assert verify.main([str(good)]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "decoder bug" in err


def test_verify_imports_stay_light() -> None:
    """verify must start fast: no typer/rich (or json) at import time."""
    code = (
        "import sys, worker_build.cli.verify, worker_build.wasm.eh; "
        "print(sorted(m for m in ('typer', 'rich', 'json', 'click', 'argparse', 'pathlib', 'typing')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------ forked (2-way) scanning

SEEDS = sorted((Path(__file__).parent / "data" / "verify").glob("*.wasm"))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_forked_scan_equals_serial(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = path.read_bytes()
    serial = inspect_bytes(data, jobs=1)
    forks: list[int] = []
    real_fork = os.fork

    def counting_fork() -> int:
        forks.append(1)
        return real_fork()

    monkeypatch.setattr(os, "fork", counting_fork)
    assert inspect_bytes(data, jobs=2) == serial
    assert forks == [1]


def _two_bad_bodies() -> tuple[bytes, int, int]:
    codes = [LEGACY] * 6 + [b"\x41\x01\x16\x0b"] + [LEGACY] * 6 + [b"\xfd\x9a\x01\x0b"]
    data = wb_module(*codes)
    return data, data.index(b"\x41\x01\x16\x0b") + 2, data.index(b"\xfd\x9a\x01\x0b")


def test_forked_scan_reports_the_first_error() -> None:
    data, first_bad, _ = _two_bad_bodies()
    with pytest.raises(InvalidWasmError) as serial:
        inspect_bytes(data, jobs=1)
    with pytest.raises(InvalidWasmError) as forked:
        inspect_bytes(data, jobs=2)
    assert (forked.value.reason, forked.value.offset) == (serial.value.reason, first_bad)
    # only the second half is bad: the child's error comes back through the pipe
    codes = [LEGACY] * 12 + [b"\xfd\x9a\x01\x0b"]
    data = wb_module(*codes)
    with pytest.raises(InvalidWasmError, match="function 14 \\(code body 12\\): unknown SIMD"):
        inspect_bytes(data, jobs=2)


def test_forked_scan_survives_a_dead_child(monkeypatch: pytest.MonkeyPatch) -> None:
    data = wb_module(*[LEGACY, EXNREF, PLAIN] * 5)
    serial = inspect_bytes(data, jobs=1)

    def broken_write(fd: int, payload: object) -> int:
        raise OSError("child cannot answer")

    monkeypatch.setattr(os, "write", broken_write)  # only the child writes
    assert inspect_bytes(data, jobs=2) == serial


def test_no_fork_while_other_threads_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    def no_fork() -> int:
        raise AssertionError("forked with a second thread running")

    monkeypatch.setattr(os, "fork", no_fork)
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)
    worker.start()
    try:
        assert inspect_bytes(wb_module(LEGACY, LEGACY), jobs=2).count("try") == 2
    finally:
        stop.set()
        worker.join()


def test_jobs_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from worker_build.wasm import scan

    monkeypatch.setenv("WORKER_BUILD_VERIFY_JOBS", "1")
    assert scan._default_jobs([(0, 10), (10, 1 << 22)]) == 1
    monkeypatch.delenv("WORKER_BUILD_VERIFY_JOBS")
    assert scan._default_jobs([(0, 10), (10, 100)]) == 1  # too small to be worth a fork
    assert scan._split([(0, 10), (10, 20), (20, 100)]) == 2
