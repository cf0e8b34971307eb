"""workerd, the Workers runtime, as a child process serving a config on loopback.

`WorkerdProcess` writes the config (workerd_config.py) into a private directory and runs
`workerd serve --control-fd=N config.capnp`. Every socket listens on `127.0.0.1:0`:
workerd picks the port and reports it on the control fd ("listen" messages, one per
socket), so there is no race for a free port and the last message is also the readiness
signal.

Everything workerd prints, the Worker's console output included, goes to one log file.
The process runs in its own process group and is stopped with it (SIGTERM, then SIGKILL):
on `stop()`, at interpreter exit, and (Linux) when the parent dies (proc.spawn).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from worker_build.serve.workerd_config import (
    Binding,
    Config,
    DurableObject,
    InMemory,
    Module,
    OnDisk,
    Socket,
    Storage,
    Worker,
    WorkerdError,
    build_modules,
    render,
)
from worker_build.util import proc

START_TIMEOUT = 60.0  # seconds until workerd must report all its sockets
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 40  # lines of workerd's log quoted in an error

# Every running workerd, stopped at interpreter exit if its owner did not stop it.
_RUNNING: weakref.WeakSet[WorkerdProcess] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for process in list(_RUNNING):
        process.stop()


class WorkerdProcess:
    """One `workerd serve` of `config`. `start()` returns {socket name: port}; `stop()` is
    idempotent. `log_path` defaults to a file in a private temporary directory, removed
    by `stop()` unless the caller chose the path."""

    def __init__(
        self,
        binary: Path,
        config: Config,
        *,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.binary = binary
        self.config = config
        self.env = dict(env or {})
        self._workdir = Path(tempfile.mkdtemp(prefix="worker-build-workerd-"))
        self._own_log = log_path is None
        self.log_path = log_path or self._workdir / "workerd.log"
        self.ports: dict[str, int] = {}
        self._child: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._saved_log: str | None = None  # our own log's text, kept when stop() removes it

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
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log_text().rstrip().splitlines()[-lines:])

    def start(self, timeout: float = START_TIMEOUT) -> dict[str, int]:
        config_file = self._workdir / "config.capnp"
        config_file.write_text(render(self.config, self._workdir))
        for worker in self.config.workers:
            if isinstance(worker.storage, OnDisk) and worker.durable_object_classes:
                worker.storage.path.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
            child = proc.spawn(
                [self.binary, "serve", "--experimental", f"--control-fd={write_fd}", config_file],
                stdout=self._log,
                pass_fds=(write_fd,),
                env=self.env,
                fix="set WORKERD_BIN to a working workerd, or `npm install workerd`",
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
            config_file.unlink(missing_ok=True)  # read at startup; paths in it are private
        return self.ports

    def _wait_for_sockets(
        self, child: subprocess.Popen[bytes], read_fd: int, timeout: float
    ) -> dict[str, int]:
        wanted = {s.name for s in self.config.sockets}
        ports: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        buffer = b""
        while not wanted <= ports.keys():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerdError(
                    f"workerd did not listen within {timeout:.0f} s\n{self.log_tail()}",
                    "see the log above",
                )
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.5))
            chunk = os.read(read_fd, 4096) if ready else b""
            if not chunk and (ready or child.poll() is not None):
                # EOF on the control fd, or the process is gone: it exited.
                child.wait(timeout=STOP_TIMEOUT)
                raise WorkerdError(
                    f"workerd exited with code {child.returncode} before listening\n"
                    f"{self.log_tail()}",
                    "see workerd's log above",
                )
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

    def __enter__(self) -> WorkerdProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_build(
    binary: Path,
    build_dir: Path,
    *,
    durable_objects: Mapping[str, str] | None = None,
    storage: Storage | None = None,
    extra_modules: Sequence[Module] = (),
    bindings: Sequence[Binding] = (),
    log_path: Path | None = None,
    socket_entrypoint: str | None = None,
) -> WorkerdProcess:
    """A WorkerdProcess (not started) serving one build on one socket, "http"."""
    classes = tuple(sorted(set((durable_objects or {}).values())))
    do_bindings = tuple(DurableObject(n, c) for n, c in (durable_objects or {}).items())
    worker = Worker(
        name="main",
        modules=(*extra_modules, *build_modules(build_dir)),
        bindings=(*do_bindings, *bindings),
        durable_object_classes=classes,
        storage=storage or InMemory(),
    )
    return WorkerdProcess(
        binary,
        Config((worker,), (Socket("http", "main", socket_entrypoint),)),
        log_path=log_path,
    )
