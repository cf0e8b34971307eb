"""Whether a process still runs, for tests that check nothing outlives what started it; waiting
for a child to reach a point (a FIFO handshake)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
from pathlib import Path

import pytest


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for_fifo(fifo: Path, proc: subprocess.Popen[str], what: str) -> None:
    """Block until something writes a line into `fifo` (a handshake, not a delay); fail
    if `proc` exits first. The select timeout only lets us notice that exit."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        for _ in range(600):  # hang guard: 10 minutes
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready and os.read(fd, 64):
                return
            if proc.poll() is not None:
                pytest.fail(f"worker-build exited ({proc.returncode}) before {what}")
        pytest.fail(f"{what}: never happened")
    finally:
        os.close(fd)


def interrupt_when(proc: subprocess.Popen[str], fifo: Path, what: str, timeout: float = 120) -> str:
    """Once `proc` reached `what` (its line in `fifo`), Ctrl-C as a terminal sends it, to
    the whole process group (started with start_new_session); returns its stderr once it
    exited. A child still there at the end is killed, so no test leaves one behind."""
    try:
        wait_for_fifo(fifo, proc, what)
        os.killpg(proc.pid, signal.SIGINT)
        return proc.communicate(timeout=timeout)[1]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
