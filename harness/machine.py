"""The shared machine a benchmark or the compat suite runs on, and what they measure on it.

Every figure is printed beside the machine's load average: two cores are shared by
whatever else runs, so a ratio against a peer measured in the same run is the result,
never the seconds alone. CPU time (`timed_run`) is the work a process tree did, much
less disturbed than wall time by other processes; idle waits do not count in it.
Progress goes to stderr (`log`), so stdout holds the results alone.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as `0.52/0.61/0.70`."""
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # user+system seconds of the child and every process it waited for


def timed_run(argv: list[str], **kw: Any) -> tuple[subprocess.CompletedProcess[str], Sample]:
    """Run `argv` to completion (stdin closed, never raising on its exit status): the
    process and its wall and CPU time. RUSAGE_CHILDREN covers the whole waited-for
    tree (cargo, rustc, node, ...), so the CPU time is the tree's."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, text=True, stdin=subprocess.DEVNULL, check=False, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, Sample(wall, cpu)


@contextmanager
def stopwatch(timings: dict[str, float], key: str) -> Iterator[None]:
    """Record the seconds the block took (to 0.1 s) as `timings[key]`, even if it raised."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(time.perf_counter() - start, 1)
