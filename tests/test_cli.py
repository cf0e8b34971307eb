"""The command line: exit codes, one-line errors, no tracebacks (fakes only, no real builds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cratefix import GOOD_MANIFEST, write_crate
from fakes import fake_rustc

from worker_build import cli, entry
from worker_build.errors import (
    EXIT_CRATE,
    EXIT_INTERNAL,
    EXIT_TOOLCHAIN,
    EXIT_USAGE,
)


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = entry.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--panic-unwind" in out and "Exit codes:" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("worker-build ")
    code, out, _ = run(capsys, "verify", "--help")
    assert code == 0 and "--expect" in out


def test_missing_crate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE
    assert_one_line_error(err, "no Cargo.toml", "run worker-build in the crate's directory")


def test_not_a_cdylib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c", GOOD_MANIFEST.replace('"cdylib"', '"rlib"'))
    code, _, err = run(capsys, str(root))
    assert code == EXIT_CRATE
    assert_one_line_error(err, 'crate-type does not include "cdylib"')


def test_conflicting_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c")
    code, _, err = run(capsys, str(root), "--dev", "--release")
    assert code == EXIT_USAGE
    assert_one_line_error(err, "--dev and --release conflict")


def test_unknown_click_option_value_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--lock-timeout", "soon")
    assert code == EXIT_USAGE and "Traceback" not in err


def test_toolchain_without_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    code, _, err = run(capsys, str(root), "--panic-unwind", "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert_one_line_error(err, "has no std sources")


def test_failed_build_leaves_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_crate(tmp_path / "c")
    previous = root / "build"
    previous.mkdir()
    (previous / "index.js").write_text("previous")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    code, _, _ = run(capsys, str(root), "--panic-unwind", "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert (previous / "index.js").read_text() == "previous"
    assert sorted(p.name for p in root.iterdir()) == ["Cargo.lock", "Cargo.toml", "build", "src"]


def test_github_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE
    # on stderr, so --json's stdout stays one JSON document; the runner reads both
    assert err.splitlines()[-1].startswith("::error title=worker-build::no Cargo.toml")


def test_internal_errors_get_their_own_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr("worker_build.crate.load_crate", boom)
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_INTERNAL
    assert "internal error: RuntimeError: unexpected" in err and "--traceback" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError):
        cli.main([str(tmp_path), "--traceback"])
