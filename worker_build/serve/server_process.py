"""A local Workers server (workerd, or miniflare on Node) as a child process on loopback.

`ServerProcess` writes the server's files (its config) into a private directory and runs
the server with a control fd: for each socket it listens on, the server writes one JSON
line `{"event": "listen", "socket": NAME, "port": N}` there (workerd's `--control-fd`
protocol; templates/serve_miniflare.mjs speaks it too). Sockets listen on `127.0.0.1:0`
unless a fixed port is asked for, so the server picks the port, there is no race for a
free one, and the last message is also the readiness signal.

Everything the server prints, the Worker's console output included, goes to one log file.
The process runs in its own process group and is stopped with it (SIGTERM, then SIGKILL):
on `stop()`, at interpreter exit, and (Linux) when the parent dies (proc.spawn).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from worker_build.serve.workerd_config import LOOPBACK, WorkerdError
from worker_build.util import proc

START_TIMEOUT = 60.0  # seconds until the server must report all its sockets
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 40  # lines of the server's log quoted in an error

# How workerd ("Address already in use") and Node ("EADDRINUSE") report a taken port.
_IN_USE = re.compile(r"address already in use|EADDRINUSE", re.IGNORECASE)

# Every running server, stopped at interpreter exit if its owner did not stop it.
_RUNNING: weakref.WeakSet[ServerProcess] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        process.stop()


class PortInUseError(WorkerdError):
    """`serve(port=N)`: something else listens on 127.0.0.1:N."""


def port_in_use(port: int) -> PortInUseError:
    return PortInUseError(
        f"port {port} on {LOOPBACK} is already in use",
        "pass another port= (or none: the server then picks a free one), or stop what "
        f"listens on {port}",
    )


def check_port(port: int) -> None:
    """Refuse a taken port before starting the server, for a clear error (the server's own
    failure is still recognised when another process takes the port in between)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise port_in_use(port) from exc


class ServerProcess:
    """One server. Subclasses say what to write (`files`), how to run it (`argv`) and which
    sockets it reports. `start()` returns {socket name: port}; `stop()` is idempotent.
    `log_path` defaults to a file in a private temporary directory, removed by `stop()`
    unless the caller chose the path."""

    name = "server"
    fix = "see its log above"  # how to get a working binary when it cannot be run

    def __init__(
        self,
        binary: Path,
        sockets: Mapping[str, int],
        *,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self._sockets = dict(sockets)
        self.env = dict(env or {})
        self._workdir = Path(tempfile.mkdtemp(prefix=f"worker-build-{self.name}-"))
        self._own_log = log_path is None
        self.log_path = log_path or self._workdir / f"{self.name}.log"
        self.ports: dict[str, int] = {}
        self._child: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._saved_log: str | None = None  # our own log's text, kept when stop() removes it

    # -- what subclasses provide ------------------------------------------------------------

    @property
    def sockets(self) -> dict[str, int]:
        """{socket name: the port asked for (0: any)}, read when the server starts."""
        return self._sockets

    def files(self, workdir: Path) -> dict[str, str]:
        """{file name: text} written into the private directory before the start and
        removed once the server listens (it reads them at startup)."""
        return {}

    def argv(self, workdir: Path, control_fd: int) -> list[str | os.PathLike[str]]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Create what the server expects to exist (storage directories)."""

    # -- the process --------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def log_text(self) -> str:
        if self._saved_log is not None:
            return self._saved_log
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().rstrip().splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT) -> dict[str, int]:
        written = []
        for file_name, text in self.files(self._workdir).items():
            path = self._workdir / file_name
            path.write_text(text, encoding="utf-8")
            written.append(path)
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            child = proc.spawn(
                self.argv(self._workdir, write_fd),
                stdout=self._log,
                pass_fds=(write_fd,),
                env=self.env,
                fix=self.fix,
            )
            with self._lock:
                self._child = child
            _RUNNING.add(self)
            os.close(write_fd)
            write_fd = -1
            self.ports = self._wait_for_sockets(child, read_fd, timeout)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
            for path in written:  # read at startup; the paths in them are private
                path.unlink(missing_ok=True)
        return self.ports

    def _exited(self, child: subprocess.Popen[bytes]) -> WorkerdError:
        child.wait(timeout=STOP_TIMEOUT)
        tail = self.log_tail()
        fixed = [port for port in self.sockets.values() if port]
        if fixed and _IN_USE.search(tail):
            error = port_in_use(fixed[0])
            return PortInUseError(f"{error.message}\n{tail}", error.fix)
        return WorkerdError(
            f"{self.name} exited with code {child.returncode} before listening\n{tail}",
            f"see {self.name}'s log above",
        )

    def _wait_for_sockets(
        self, child: subprocess.Popen[bytes], read_fd: int, timeout: float
    ) -> dict[str, int]:
        wanted = set(self.sockets)
        ports: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        buffer = b""
        while not wanted <= ports.keys():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerdError(
                    f"{self.name} did not listen within {timeout:.0f} s\n{self.log_tail()}",
                    "see the log above",
                )
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.5))
            chunk = os.read(read_fd, 4096) if ready else b""
            if not chunk and (ready or child.poll() is not None):
                raise self._exited(child)  # EOF on the control fd, or the process is gone
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                if message.get("event") == "listen" and message.get("socket") in wanted:
                    ports[message["socket"]] = int(message["port"])
        return ports

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            proc.stop_group(child, timeout)
        _RUNNING.discard(self)
        log, self._log = self._log, None
        if log is not None:
            log.close()
        if self._own_log and self._workdir.exists():
            self._saved_log = self.log_text()  # still readable after the directory is gone
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
