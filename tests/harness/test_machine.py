"""harness/machine.py: the load average as benchmarks print it, a child's run with its
wall and CPU time, and the stopwatch of a set-up part."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import machine


def test_loadavg_is_the_three_averages_to_two_places(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine.os, "getloadavg", lambda: (1.0, 0.256, 12.5))
    assert machine.loadavg() == "1.00/0.26/12.50"


def test_timed_run_closes_stdin_returns_text_and_never_raises() -> None:
    code = "import sys; print(repr(sys.stdin.read())); sys.exit(3)"
    proc, sample = machine.timed_run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == 3
    assert proc.stdout == "''\n"  # stdin is closed, not the caller's terminal
    assert sample.wall >= 0 and sample.cpu >= 0


def test_timed_run_passes_options_through(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    with log.open("w") as fh:
        proc, _ = machine.timed_run(
            [sys.executable, "-c", "import os; print(os.getcwd(), os.environ['X'])"],
            cwd=tmp_path,
            env={"X": "y"},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    assert proc.returncode == 0
    assert log.read_text() == f"{tmp_path} y\n"


def test_stopwatch_records_tenths_of_seconds_even_when_the_block_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    readings = iter([10.0, 12.34, 20.0, 20.96])
    monkeypatch.setattr(machine, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    timings: dict[str, float] = {}
    with machine.stopwatch(timings, "extract"):
        pass
    with pytest.raises(RuntimeError), machine.stopwatch(timings, "relock"):
        raise RuntimeError("cargo failed")
    assert timings == {"extract": 2.3, "relock": 1.0}
