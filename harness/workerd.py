"""A built Worker in the real runtime (workerd) on loopback, for tests and benchmarks.

Not a test module: the integration tests (`tests/integration/test_shim_workerd.py`,
`test_js_sys_env.py`), `benchmarks/load.py` and `benchmarks/compare_real.py` import it. The
runtime side is the product's (`worker_build.serve.workerd_config` and `.workerd_process`:
config, process, port read-back); this module keeps the small interface those scripts were
written against: `Workerd(build_dir, ...)`, `.get(path)`, `.port`, `.log_text()`, and
`build_hello_worker`.

The served build gets a Durable Object namespace per entry of `durable_objects` (binding
name -> class name; hello-worker: `COUNTER` -> `Counter`), stored in `storage_dir` or in
memory, and one HTTP socket on 127.0.0.1.

workerd writes its log as the Worker runs, not necessarily before the response leaves, so
a test never reads it the moment a response arrives: `wait_for_log` waits for a line (with
the product's `Logs.wait_for`), and `log_caught_up` proves the log complete up to now
before a test asserts that a line is absent. For that, the same workerd also serves a
small second worker (log_marker.js) on a socket of its own: it logs a fresh marker on each
request. workerd runs all its workers on one event loop and writes each log line when it
happens, so once the marker is in the log, so is every line written before the marker
request was served.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from harness.paths import CACHE, NODE_BIN, REPO, SAMPLES
from worker_build.serve.client import Logs, RequestTimeout
from worker_build.serve.workerd_config import (
    COMPATIBILITY_DATE,
    InMemory,
    Module,
    OnDisk,
    Service,
    Socket,
    Worker,
    WorkerdError,
)
from worker_build.serve.workerd_process import serve_build
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy

__all__ = ["COMPATIBILITY_DATE", "Response", "Workerd", "WorkerdError", "build_hello_worker"]

LOG_MARKER = Module("log_marker.js", Path(__file__).resolve().with_name("log_marker.js"))
LOG_MARKER_SERVICE = "log-marker"  # the marker worker's service and socket name
LOG_TIMEOUT = 30.0  # seconds a line may take to reach the log before the test fails
LOG_SHOWN = 6000  # characters of the log's end quoted when a wait fails


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def workerd_binary() -> Path:
    """The workerd the product would use for this repository (never installs one)."""
    return resolve.workerd(REPO, InstallPolicy.OFFLINE).path


class Workerd:
    """A running `workerd serve` for one build dir. Use as a context manager.

    `storage_dir`: where Durable Object storage lives (kept across restarts of workerd if
    the same dir is passed again); None keeps it in memory. `entry`: an extra ES module
    served as the main module (named `entry.js`, it can `import ... from "./index.js"`).
    `service_bindings`: binding name -> service (the worker itself is the service "main").
    `socket_entrypoint`: the named export the HTTP socket serves (default export if None).
    `compatibility_flags`: the served worker's (e.g. `nodejs_als` for --replay-on-abort).
    """

    def __init__(
        self,
        build_dir: Path,
        *,
        durable_objects: Mapping[str, str] | None = None,
        storage_dir: Path | None = None,
        log_path: Path | None = None,
        entry: Path | None = None,
        service_bindings: Mapping[str, str] | None = None,
        socket_entrypoint: str | None = None,
        compatibility_flags: tuple[str, ...] = (),
    ) -> None:
        self.build_dir = Path(build_dir)
        self.durable_objects = dict(
            {"COUNTER": "Counter"} if durable_objects is None else durable_objects
        )
        self.storage_dir = storage_dir
        self.entry = entry
        self._process = serve_build(
            workerd_binary(),
            self.build_dir,
            durable_objects=self.durable_objects,
            storage=InMemory() if storage_dir is None else OnDisk(storage_dir),
            extra_modules=() if entry is None else (Module("entry.js", entry),),
            bindings=[Service(n, s) for n, s in (service_bindings or {}).items()],
            log_path=log_path,
            socket_entrypoint=socket_entrypoint,
        )
        config = self._process.config  # not started yet: the marker worker joins it
        served = dataclasses.replace(config.workers[0], compatibility_flags=compatibility_flags)
        self._process.config = dataclasses.replace(
            config,
            workers=(served, *config.workers[1:], Worker(LOG_MARKER_SERVICE, (LOG_MARKER,))),
            sockets=(*config.sockets, Socket(LOG_MARKER_SERVICE, LOG_MARKER_SERVICE)),
        )
        self.log_path = self._process.log_path
        self.port = 0
        self._marker_port = 0

    def start(self) -> Workerd:
        ports = self._process.start()
        self.port, self._marker_port = ports["http"], ports[LOG_MARKER_SERVICE]
        return self

    def stop(self) -> None:
        self._process.stop()

    def __enter__(self) -> Workerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._process.running

    def log_text(self) -> str:
        """The log as it is on disk now (what the runtime wrote so far; see the module's
        docstring before asserting on it)."""
        return self._process.log_text()

    def log_mark(self) -> int:
        """A position in the log, for `wait_for_log(since=...)`: its length so far."""
        return len(self.log_text())

    def wait_for_log(
        self, text: str, *, count: int = 1, since: int = 0, timeout: float = LOG_TIMEOUT
    ) -> str:
        """Wait until `text` occurs `count` times in the log after position `since`; return
        the log from `since`. After `timeout` seconds the calling test fails with an
        AssertionError quoting the end of the log."""
        logs = Logs(self._process)
        deadline = time.monotonic() + timeout
        position = since
        for found in range(count):
            try:
                tail = logs.wait_for(text, since=position, timeout=deadline - time.monotonic())
            except RequestTimeout:
                raise AssertionError(
                    f"{text!r} appeared {found} of {count} times in workerd's log within "
                    f"{timeout:g} s; the log ends:\n{self.log_text()[-LOG_SHOWN:]}"
                ) from None
            position += tail.index(text) + len(text)
        return logs.since(since)

    def log_caught_up(self, timeout: float = LOG_TIMEOUT) -> str:
        """The whole log, once every line workerd wrote before this call is in it: the
        marker worker logs a fresh line on stdout and stderr, and both are waited for
        (module docstring). Assert that a line is absent only on this text."""
        marker = f"harness log marker {uuid.uuid4().hex}"
        since = self.log_mark()
        answer = self._get(self._marker_port, "/?marker=" + quote(marker), timeout)
        assert answer.status == 200, answer
        self.wait_for_log(f"{marker}:stdout", since=since, timeout=timeout)
        self.wait_for_log(f"{marker}:stderr", since=since, timeout=timeout)
        return self.log_text()

    def get(self, path: str, timeout: float = 60.0) -> Response:
        """One GET to the served build on a fresh loopback connection."""
        return self._get(self.port, path, timeout)

    def request(
        self, method: str, path: str, body: str | None = None, timeout: float = 60.0
    ) -> Response:
        """One request (`body` sent as UTF-8) to the served build on a fresh connection."""
        return self._get(self.port, path, timeout, method, body)

    def _get(
        self, port: int, path: str, timeout: float, method: str = "GET", body: str | None = None
    ) -> Response:
        if not self.running:
            raise WorkerdError("workerd is not running\n" + self.log_text())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request(method, path, None if body is None else body.encode())
            resp = conn.getresponse()
            return Response(resp.status, resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------
# Builds for benchmarks/serve_startup.py: the real worker-build CLI, with the same cargo target
# dirs as the test fixtures (tests/support/builds.py), so a benchmark after a test run compiles
# nothing new.

BUILD_TIMEOUT = 3600  # a cold build on 2 cores takes minutes; never hang forever


def build_hello_worker(out_dir: Path, *, panic_unwind: bool, loader: bool = False) -> Path:
    """hello-worker built by `worker-build` into out_dir, with or without --panic-unwind;
    with `loader`, its `loader.py` too (benchmarks/serve_startup.py serves it)."""
    variant = "unwind" if panic_unwind else "abort"
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(NODE_BIN), env.get("PATH", "")])
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / f"hello-worker-{variant}")
    argv = [
        str(Path(sys.executable).parent / "worker-build"),
        str(SAMPLES / "hello-worker"),
        "--out-dir",
        str(out_dir.resolve()),  # a relative --out-dir is relative to the crate
    ]
    if not loader:
        argv.append("--no-loader")
    if panic_unwind:
        argv.append("--panic-unwind")
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker-build failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return out_dir
