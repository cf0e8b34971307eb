"""A redis-server of our own on loopback: the shared sccache backend of the compile cache's
tests (tests/integration/test_sccache.py) and benchmark (benchmarks/compile_cache.py).

Debian's redis-server (setup.sh installs it) runs unprivileged, in the foreground, with
no persistence, bound to 127.0.0.1 on a port nobody listened on a moment before. Ready
means its log said so (a reader thread sets an event on the line); a port taken in
between makes it exit, and another port is tried. It is stopped (SIGTERM, then SIGKILL)
when the block ends, however it ends.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READY = "Ready to accept connections"
START_SECONDS = 60.0  # an upper bound for a machine under load, not a timing


class RedisMissing(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Log(threading.Thread):
    """Reads the server's log; `ready` is set on READY or when the server exits."""

    def __init__(self, stream: Iterator[str]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.ready = threading.Event()
        self.lines: list[str] = []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line.rstrip())
            if READY in line:
                self.ready.set()
        self.ready.set()  # exited


@contextmanager
def redis_server(workdir: Path, attempts: int = 5) -> Iterator[str]:
    """A running redis-server; yields its endpoint, `redis://127.0.0.1:PORT`."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RedisMissing("redis-server is not installed: run ./setup.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    tail: list[str] = []
    for _ in range(attempts):
        port = _free_port()
        argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]  # fmt: skip
        proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        assert proc.stdout is not None
        log = _Log(proc.stdout)
        log.start()
        log.ready.wait(START_SECONDS)
        if proc.poll() is None and any(READY in line for line in log.lines):
            break
        _stop(proc)
        tail = log.lines[-5:]
    else:
        raise RedisMissing("redis-server did not start: " + " | ".join(tail))
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
