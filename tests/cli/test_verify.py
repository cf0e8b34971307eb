"""`worker-build verify` (cli/verify.py): arguments, output, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ehmodules import (
    EXNREF,
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
from worker_build.wasm.eh import inspect_bytes


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
    with pytest.raises(UsageError, match="is a directory without a built module"):
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
    assert "error: expected exactly one FILE.wasm (see `worker-build verify -h`)" in err
    assert "error: unknown option --fast (see `worker-build verify -h`)" in err
    assert "error: --expect needs a value (legacy|exnref|any) (see" in err
    assert verify.main([str(good), "--expect="]) == EXIT_USAGE
    assert "error: --expect needs a value (legacy|exnref|any), not ''" in capsys.readouterr().err


def test_verify_finds_the_module_of_a_build_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`verify build/` verifies build/index_bg.wasm (or the legacy layout's module)."""
    out = tmp_path / "build"
    out.mkdir()
    (out / "index_bg.wasm").write_bytes(wb_module(LEGACY))
    assert verify.main([str(out), "--expect", "legacy"]) == 0
    assert "ok: matches --expect legacy" in capsys.readouterr().out
    (out / "index_bg.wasm").unlink()
    (out / "worker").mkdir()
    (out / "worker" / "index.wasm").write_bytes(wb_module(EXNREF, RUST_THROW))
    assert verify.main([str(out), "--expect", "exnref", "--json"]) == 0


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
