"""A built Worker in the real runtime (workerd) on loopback, for tests and benchmarks.

Not a test module: `tests/test_shim_workerd.py`, `benchmarks/load.py` and
`benchmarks/compare_real.py` import it. The runtime side is the product's
(`worker_build.serve.workerd_config` and `.workerd_process`: config, process, port
read-back); this module keeps the small interface those scripts were written against:
`Workerd(build_dir, ...)`, `.get(path)`, `.port`, `.log_text()`, and `build_hello_worker`.

The served build gets a Durable Object namespace per entry of `durable_objects` (binding
name -> class name; hello-worker: `COUNTER` -> `Counter`), stored in `storage_dir` or in
memory, and one HTTP socket on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harness.paths import CACHE, NODE_BIN, REPO, SAMPLES
from worker_build.serve.workerd_config import (
    COMPATIBILITY_DATE,
    InMemory,
    Module,
    OnDisk,
    Service,
    WorkerdError,
)
from worker_build.serve.workerd_process import serve_build
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy

__all__ = ["COMPATIBILITY_DATE", "Response", "Workerd", "WorkerdError", "build_hello_worker"]


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
        self.log_path = self._process.log_path
        self.port = 0

    def start(self) -> Workerd:
        self.port = self._process.start()["http"]
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
        return self._process.log_text()

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
