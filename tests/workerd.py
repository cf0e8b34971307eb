"""Run a built Worker in the real runtime (workerd) on loopback, for tests and benchmarks.

Not a test module: `tests/test_shim_workerd.py` and `benchmarks/load.py` import it.

A build output dir (`build/` of worker-build: `index.js` + `index_bg.wasm`) is served by
`node_modules/.bin/workerd serve` with a generated Cap'n Proto config:

- modules `index.js` (esModule) and `index_bg.wasm` (wasm), embedded by path;
- a Durable Object namespace per entry of `durable_objects` (binding name -> class name;
  hello-worker: `COUNTER` -> `Counter`), stored on local disk (a DiskDirectory service in a
  temporary dir) or in memory;
- one HTTP socket on 127.0.0.1. The port is chosen by workerd (`127.0.0.1:0`) and read back
  from its `--control-fd` "listen" message, so there is no race for a free port and the
  message is also the readiness signal.

Everything workerd prints (including the Worker's console output) goes to `log_path`.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

REPO = Path(__file__).resolve().parent.parent
WORKERD = REPO / "node_modules" / ".bin" / "workerd"

COMPATIBILITY_DATE = "2025-09-01"
START_TIMEOUT = 60.0  # seconds until workerd must report its socket
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL


class WorkerdError(RuntimeError):
    """workerd failed to start or stopped unexpectedly; the message carries its log."""


@dataclass(frozen=True)
class Response:
    status: int
    body: str


def _capnp_string(text: str) -> str:
    # Cap'n Proto text literals use C-style escapes; json.dumps produces a compatible subset.
    return json.dumps(text)


def render_config(
    build_dir: Path,
    *,
    config_dir: Path,
    durable_objects: Mapping[str, str],
    storage_dir: Path | None,
    entry: Path | None = None,
    service_bindings: Mapping[str, str] | None = None,
    socket_entrypoint: str | None = None,
) -> str:
    """The workerd config text for `build_dir`, to be written into `config_dir`.

    `embed` paths are relative to the config file (absolute ones would be looked up in the
    import path); the socket is 127.0.0.1:0. `entry`: an extra ES module served as the main
    module (named `entry.js`, it can `import ... from "./index.js"`). `service_bindings`:
    binding name -> service (the worker itself is the service "main": RPC to its default
    export). `socket_entrypoint`: the named export the HTTP socket serves (default export
    when None).
    """
    index_js = (build_dir / "index.js").resolve()
    wasm = (build_dir / "index_bg.wasm").resolve()
    for path in (index_js, wasm):
        if not path.is_file():
            raise WorkerdError(f"{path} does not exist: is {build_dir} a worker-build output dir?")

    def rel(path: Path) -> str:
        return _capnp_string(os.path.relpath(path.resolve(), config_dir.resolve()))

    modules = [
        f'(name = "index.js", esModule = embed {rel(index_js)})',
        f'(name = "index_bg.wasm", wasm = embed {rel(wasm)})',
    ]
    if entry is not None:  # the first module is the main module
        modules.insert(0, f'(name = "entry.js", esModule = embed {rel(entry)})')

    bindings = [
        f"(name = {_capnp_string(name)}, durableObjectNamespace = "
        f"(className = {_capnp_string(cls)}))"
        for name, cls in durable_objects.items()
    ]
    bindings += [
        f"(name = {_capnp_string(name)}, service = {_capnp_string(service)})"
        for name, service in (service_bindings or {}).items()
    ]
    socket_service = (
        '"main"'
        if socket_entrypoint is None
        else f'(name = "main", entrypoint = {_capnp_string(socket_entrypoint)})'
    )
    namespaces = ", ".join(
        f"(className = {_capnp_string(cls)}, uniqueKey = {_capnp_string('test-' + cls)})"
        for cls in sorted(set(durable_objects.values()))
    )
    services = ['(name = "main", worker = .mainWorker)']
    if not durable_objects:
        storage = ""
    elif storage_dir is None:
        storage = "durableObjectStorage = (inMemory = void),"
    else:
        storage = 'durableObjectStorage = (localDisk = "do-storage"),'
        services.append(
            f'(name = "do-storage", disk = (path = {_capnp_string(str(storage_dir))}, '
            "writable = true))"
        )

    return f"""using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [{", ".join(services)}],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = {socket_service})],
);

const mainWorker :Workerd.Worker = (
  modules = [{", ".join(modules)}],
  compatibilityDate = {_capnp_string(COMPATIBILITY_DATE)},
  bindings = [{", ".join(bindings)}],
  durableObjectNamespaces = [{namespaces}],
  {storage}
);
"""


class Workerd:
    """A running `workerd serve` for one build dir. Use as a context manager.

    `storage_dir`: where Durable Object storage lives (kept across restarts of workerd if
    the same dir is passed again); None keeps it in memory.
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
    ) -> None:
        self.build_dir = Path(build_dir)
        self.durable_objects = dict(
            {"COUNTER": "Counter"} if durable_objects is None else durable_objects
        )
        self.service_bindings = dict(service_bindings or {})
        self.socket_entrypoint = socket_entrypoint
        self.storage_dir = storage_dir
        self.entry = entry
        self._tmp = Path(tempfile.mkdtemp(prefix="workerd-"))
        self.log_path = log_path or (self._tmp / "workerd.log")
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Workerd:
        if not WORKERD.exists():
            raise WorkerdError(f"{WORKERD} missing: run `npm ci` in {REPO}")
        if self.storage_dir is not None:
            self.storage_dir.mkdir(parents=True, exist_ok=True)
        config = self._tmp / "config.capnp"
        config.write_text(
            render_config(
                self.build_dir,
                config_dir=self._tmp,
                durable_objects=self.durable_objects,
                storage_dir=self.storage_dir,
                entry=self.entry,
                service_bindings=self.service_bindings,
                socket_entrypoint=self.socket_entrypoint,
            )
        )
        read_fd, write_fd = os.pipe()
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file = log
        try:
            self._proc = subprocess.Popen(
                [
                    str(WORKERD),
                    "serve",
                    "--experimental",
                    f"--control-fd={write_fd}",
                    str(config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        try:
            self.port = self._wait_for_listen(read_fd)
        except BaseException:
            self.stop()
            raise
        finally:
            os.close(read_fd)
            config.unlink()  # read at startup; only the log stays in the temporary dir
        return self

    def _wait_for_listen(self, read_fd: int) -> int:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        buffer = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerdError(
                    f"workerd did not listen within {START_TIMEOUT:.0f}s\n" + self.log_text()
                )
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 0.5))
            if ready:
                chunk = os.read(read_fd, 4096)
                if not chunk:  # workerd closed the pipe: it exited
                    self._proc.wait(timeout=STOP_TIMEOUT)
                    raise WorkerdError(
                        f"workerd exited ({self._proc.returncode}) before listening\n"
                        + self.log_text()
                    )
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    message = json.loads(line)
                    if message.get("event") == "listen" and message.get("socket") == "http":
                        return int(message["port"])
            elif self._proc.poll() is not None:
                raise WorkerdError(
                    f"workerd exited ({self._proc.returncode}) before listening\n" + self.log_text()
                )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        log, self._log_file = self._log_file, None
        if log is not None:
            log.close()

    def __enter__(self) -> Workerd:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def get(self, path: str, timeout: float = 60.0) -> Response:
        """One GET on a fresh loopback connection."""
        if not self.running:
            raise WorkerdError("workerd is not running\n" + self.log_text())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return Response(resp.status, resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------
# Builds for benchmarks/load.py: the real worker-build CLI, with the same cargo target dirs as
# the test fixtures in conftest.py (so a benchmark after a test run compiles nothing new).

SAMPLES = REPO / "sample-crates"
BUILD_TIMEOUT = 3600  # a cold build on 2 cores takes minutes; never hang forever


def build_hello_worker(out_dir: Path, *, panic_unwind: bool) -> Path:
    """hello-worker built by `worker-build` into out_dir, with or without --panic-unwind."""
    variant = "unwind" if panic_unwind else "abort"
    env = dict(os.environ)
    env.setdefault("WORKER_BUILD_RUSTC", "/usr/bin/rustc")
    env["PATH"] = os.pathsep.join([str(REPO / "node_modules" / ".bin"), env.get("PATH", "")])
    env["CARGO_TARGET_DIR"] = str(REPO / ".cache" / "test-target" / f"hello-worker-{variant}")
    argv = [
        str(Path(sys.executable).parent / "worker-build"),
        str(SAMPLES / "hello-worker"),
        "--out-dir",
        str(out_dir.resolve()),  # a relative --out-dir is relative to the crate
        "--no-loader",
    ]
    if panic_unwind:
        argv.append("--panic-unwind")
    result = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"worker-build failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return out_dir
