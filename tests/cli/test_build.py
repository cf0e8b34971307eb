"""The build command (cli/build.py) through `worker-build`: exit codes, one-line errors,
no tracebacks, the report it writes (fakes only, no real builds)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import assert_one_line_error, cli_env, run
from tests.support.cratefix import GOOD_MANIFEST, write_crate
from tests.support.fakes import fake_exe, fake_rustc
from worker_build import __version__
from worker_build.build import report as report_mod
from worker_build.cli import build, build_args
from worker_build.errors import (
    EXIT_CRATE,
    EXIT_INTERNAL,
    EXIT_NOT_WRITABLE,
    EXIT_TOOL_FAILED,
    EXIT_TOOLCHAIN,
    EXIT_USAGE,
)

_env = cli_env  # autouse: a cache of the test's own, no caller settings


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--panic-unwind" in out and "Exit codes:" in out
    block = out.split("Options:\n", 1)[1].split("\n\n", 1)[0]
    shown = set(re.findall(r"(?<![\w-])(-[\w-]+)", block))
    for opt in build_args.OPTIONS:  # every visible flag is in the help, hidden ones are not
        assert all((name in shown) != opt.hidden for name in opt.names), opt.names
    for args in (["--version"], ["-v"], ["--release", "-v"]):
        code, out, _ = run(capsys, *args)
        assert code == 0 and out == f"worker-build {__version__}\n"
    code, out, _ = run(capsys, "--features", "x", "-h")
    assert code == 0 and out.startswith("usage: worker-build")


def test_help_fits_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    _, narrow, _ = run(capsys, "--help")
    assert max(len(line) for line in narrow.splitlines()[3:]) <= 60
    assert "  --lock-timeout SECONDS        how long to wait for another" in narrow
    monkeypatch.setenv("COLUMNS", "300")  # at most 100 wide
    _, wide, _ = run(capsys, "--help")
    assert max(len(line) for line in wide.splitlines()) <= 100
    assert " ".join(narrow.split()) == " ".join(wide.split())  # the same words
    code, out, _ = run(capsys, "verify", "--help")
    assert code == 0 and "--expect" in out
    code, out, _ = run(capsys, "doctor", "--help")
    assert code == 0 and "--panic-unwind" in out


def test_help_and_version_do_not_import_the_build(tmp_path: Path) -> None:
    """--help and --version answer from build_args.py alone (no typer, rich or pipeline)."""
    probe = (
        "import sys; from worker_build.cli import main; main.main(sys.argv[1:]); "
        "heavy = {'typer', 'rich', 'pydantic', 'worker_build.build.pipeline', 'worker_build.build.options'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    for flag in ("--help", "--version"):
        proc = subprocess.run(
            [sys.executable, "-c", probe, flag], capture_output=True, text=True, check=True
        )
        assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


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


def test_bad_option_value_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--lock-timeout", "soon")
    assert code == EXIT_USAGE
    assert_one_line_error(err, "--lock-timeout 'soon' is not a number of seconds")


def test_usage_error_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """A command-line error is reported in the mode asked for, wherever --json is."""
    code, out, _ = run(capsys, "--target", "wasm32-wasip1", "--json")
    assert code == EXIT_USAGE
    assert json.loads(out)["error"]["type"] == "UsageError"


def test_crate_found_from_the_current_directory_upwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PATH: the nearest Cargo.toml upwards, as the Rust tool; cargo's flags and
    their values never become the path."""
    root = write_crate(tmp_path / "c")
    monkeypatch.chdir(root / "src")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", wasm_std=True)
    fake_exe(
        tmp_path / "bin" / "cargo",
        f'printf "%s\\n" "$@" > {tmp_path}/argv; '
        "echo \"error: the package 'my-worker' does not contain this feature: http\" >&2; exit 101",
    )
    code, _, err = run(capsys, "--release", "--features", "http", "--rustc", str(rustc))
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[-2:] == ["--features", "http"] and "--release" in argv
    assert code == EXIT_TOOL_FAILED
    # cargo's own line (shown as cargo printed it), then ours with the cause and the fix
    assert err.splitlines()[-1] == (
        "error: cargo exited with code 101: the package 'my-worker' does not contain this "
        "feature: http (check the --features names against the [features] table of Cargo.toml)"
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--features", "http")
    assert code == EXIT_CRATE
    assert_one_line_error(err, f"no Cargo.toml in {tmp_path} or its parents")


def test_toolchain_without_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    code, _, err = run(capsys, str(root), "--panic-unwind", "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert_one_line_error(err, "has no std sources")


def test_rustc_that_does_not_run_is_exit_4_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--rustc /bin/false`: a toolchain problem (exit 4), not a failed tool (exit 1)."""
    root = write_crate(tmp_path / "c")
    rustc = fake_exe(tmp_path / "bin" / "rustc", "exit 1")
    fake_exe(tmp_path / "bin" / "cargo", "exit 0")
    code, _, err = run(capsys, str(root), "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert_one_line_error(err, "does not answer as a rustc", "unset it")


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
        raise RuntimeError("unexpected\nsecond line")

    monkeypatch.setattr("worker_build.build.crate.read_manifest", boom)
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_INTERNAL
    assert "internal error: RuntimeError: unexpected second line" in err and "--traceback" in err
    assert "Traceback" not in err
    # --traceback adds the traceback; the exit code and the error line stay
    code, _, err = run(capsys, str(tmp_path), "--traceback")
    assert code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in err
    assert "internal error: RuntimeError: unexpected second line" in err


def test_traceback_keeps_the_exit_code_of_expected_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, str(tmp_path), "--traceback")
    assert code == EXIT_CRATE
    assert "Traceback (most recent call last)" in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: no Cargo.toml in {tmp_path} "
        "(run worker-build in the crate's directory or pass its path)"
    ]
    monkeypatch.setenv("WORKER_BUILD_TRACEBACK", "1")
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE and "Traceback (most recent call last)" in err


@pytest.mark.parametrize("extra", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_unwritable_output_is_exit_9_with_or_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    """A new user's `chattr +i build`: one line naming the path, exit 9, found in
    pre-flight (before any tool runs), whether or not --traceback is given."""
    from tests.support.fsfaults import unwritable

    root = write_crate(tmp_path / "c")
    (root / "build").mkdir()
    (root / "build" / "index.js").write_text("previous")
    with unwritable(root / "build") as why:
        code, _, err = run(capsys, str(root), *extra)
    assert code == EXIT_NOT_WRITABLE
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot write {root / 'build'}: ")
    assert why in errors[0] and "choose another --out-dir" in errors[0]
    assert ("Traceback (most recent call last)" in err) == bool(extra)
    # nothing ran: no step after pre-flight (step lines, not a traceback's file paths)
    steps = [line for line in err.splitlines() if line.startswith(("▸", "✓", "✗"))]
    assert not any("cargo build" in line or "toolchain" in line for line in steps), steps
    assert (root / "build" / "index.js").read_text() == "previous"
    code, _, err = run(capsys, str(root), "--out-dir", str(root / "Cargo.lock" / "build"))
    assert code == EXIT_NOT_WRITABLE
    assert_one_line_error(err, f"{root / 'Cargo.lock'} is not a directory")


def test_successful_cli_build_writes_report_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """build.py wiring, with the pipeline replaced by one that writes a fake output."""
    from worker_build.build import options, pipeline
    from worker_build.build.context import BuildContext

    root = write_crate(tmp_path / "crate")

    def fake_build(raw: options.RawArgs, reporter: Any, finish: Any = None) -> pipeline.BuildResult:
        opts = options.resolve(raw, root, {})
        reporter.step_started("cargo build")
        reporter.step_finished("cargo build", 2.0)
        opts.out_dir.mkdir()
        (opts.out_dir / "index_bg.wasm").write_bytes(b"\0asm" + bytes(1000))
        (opts.out_dir / "index.js").write_text("export default {};\n" * 10)
        ctx = BuildContext(options=opts, staging=tmp_path / "staging")
        ctx.staging.mkdir()
        ctx.facts.update(toolchain="rustc 1.96.0 (stable, --rustc)", eh_encoding="none")
        ctx.facts.update(report_mod.measure(opts.out_dir))  # as pipeline.build records them
        result = pipeline.BuildResult(ctx, [("cargo build", 2.0)])
        if finish is not None:
            finish(result)
        return result

    monkeypatch.setattr(pipeline, "build", fake_build)
    assert build.main([str(root), "--json"]) == 0
    stdout_doc = json.loads(capsys.readouterr().out)
    report = root / "build" / "worker-build.json"
    assert report.is_file(), "build.py does not call report.write(facts) after a build"
    file_doc = json.loads(report.read_text())
    assert file_doc["wasm_bytes"] == 1004 == stdout_doc["wasm_bytes"]
    assert file_doc["steps"] == [{"name": "cargo build", "seconds": 2.0}]
    assert file_doc["ok"] is True and file_doc["out_dir"] == str(root / "build")
