"""cli/guard.py run_guarded: every outcome of a command body mapped to one exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from worker_build.cli.guard import run_guarded
from worker_build.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_STDOUT_CLOSED,
    CrateError,
    WorkerBuildError,
)

DATA = Path(__file__).parents[1] / "data" / "verify"


def _guarded(body: object, reported: list[WorkerBuildError] | None = None) -> int:
    sink = reported if reported is not None else []
    return run_guarded(
        body,  # type: ignore[arg-type]
        sink.append,
        show_traceback=False,
        interrupted="interrupted",
    )


def test_expected_error_is_reported_with_its_code() -> None:
    reported: list[WorkerBuildError] = []

    def body() -> int:
        raise CrateError("no Cargo.toml", "run it in a crate")

    assert _guarded(body, reported) == CrateError.exit_code
    assert [str(e) for e in reported] == [str(CrateError("no Cargo.toml", "run it in a crate"))]


def test_interrupt_and_bug(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted() -> int:
        raise KeyboardInterrupt

    def bug() -> int:
        raise ValueError("boom")

    assert _guarded(interrupted) == EXIT_INTERRUPTED
    assert _guarded(bug) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "interrupted" in err
    assert "internal error: ValueError: boom (a bug in worker-build" in err


def test_a_broken_pipe_that_is_not_stdout_is_a_bug(capsys: pytest.CaptureFixture[str]) -> None:
    # stdout (pytest's capture) is fine: the pipe that broke was another one.
    def body() -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert _guarded(body) == EXIT_INTERNAL
    assert "internal error: BrokenPipeError" in capsys.readouterr().err


def test_reader_gone_from_stdout_ends_quietly_as_sigpipe_would() -> None:
    # `worker-build verify x.wasm | head -0`, made certain: the read end is closed
    # before the process starts, so its first write to stdout fails.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "worker_build.cli.verify",
                str(DATA / "pure-exports-legacy.wasm"),
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == EXIT_STDOUT_CLOSED, proc.stderr
    assert proc.stderr == ""
