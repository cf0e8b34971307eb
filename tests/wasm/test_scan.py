"""Scanning a module's bodies in two processes (wasm/scan.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.ehmodules import (
    EXNREF,
    LEGACY,
    PLAIN,
    wb_module,
)
from worker_build.errors import (
    InvalidWasmError,
)
from worker_build.wasm.eh import inspect_bytes

# ------------------------------------------------------ forked (2-way) scanning

SEEDS = sorted((Path(__file__).parents[1] / "data" / "verify").glob("*.wasm"))


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
