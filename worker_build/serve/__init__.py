"""Serve a Worker build in the real runtime (workerd, or miniflare) on loopback, from Python.

    from worker_build.serve import serve
    with serve("build", crate_dir=".") as worker:
        assert worker.fetch("/").status == 200

A Worker crate's generated `build/loader.py` calls this with its own paths
(`loader.serve()`). Bindings come from the crate's wrangler configuration (`wrangler.py`),
replaced or removed by `bindings=`. When plain workerd can provide them all (vars, secrets,
KV, the Worker's own Durable Objects and service bindings) it serves the build: it starts
fastest. Otherwise (R2, D1, queues, rate limiters, assets, ...) miniflare does, the local
simulator `wrangler dev` runs, with its own implementations of those bindings; `runtime=`
chooses explicitly. Data lives in memory, or under `storage=` (a directory). The server
listens on 127.0.0.1 only (`port=` fixes the Worker's port) and is stopped when the `with`
block ends, however it ends (and at interpreter exit, or when the parent process dies:
see server_process.py).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker_build.errors import NotWritableError, UsageError
from worker_build.serve import miniflare_options as mo
from worker_build.serve import workerd_config as wd
from worker_build.serve import wrangler
from worker_build.serve.bindings import (
    LocalD1,
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    LocalRateLimit,
    MiniflareBinding,
    SelfService,
)
from worker_build.serve.client import (
    DEFAULT_TIMEOUT,
    QueueMessage,
    QueueResult,
    RequestTimeout,
    Response,
    RpcError,
    ScheduledResult,
    Worker,
)
from worker_build.serve.miniflare_process import MiniflareProcess
from worker_build.serve.server_process import START_TIMEOUT, PortInUseError, ServerProcess
from worker_build.serve.server_process import check_port as _probe_port
from worker_build.serve.workerd_config import WorkerdError
from worker_build.serve.workerd_process import WorkerdProcess
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy
from worker_build.util import resources

__all__ = [
    "AUTO",
    "RUNTIMES",
    "LocalD1",
    "LocalDurableObject",
    "LocalKv",
    "LocalQueue",
    "LocalR2",
    "LocalRateLimit",
    "MiniflareBinding",
    "PortInUseError",
    "QueueMessage",
    "QueueResult",
    "RequestTimeout",
    "Response",
    "RpcError",
    "ScheduledResult",
    "SelfService",
    "Worker",
    "WorkerdError",
    "resolve_settings",
    "serve",
    "worker_config",
]

AUTO = "auto"  # config=AUTO: find the crate's wrangler configuration; runtime=AUTO: pick one
RUNTIMES = (AUTO, "workerd", "miniflare")
HARNESS = "harness"  # the service name of templates/serve_harness.js
HARNESS_FLAGS = ("service_binding_extra_handlers",)  # Fetcher.scheduled() / .queue()


def _binding(name: str, value: Any) -> wd.Binding:
    if isinstance(value, str):
        return wd.Text(name, value)
    if isinstance(value, LocalKv):
        props = json.dumps({"namespace": value.namespace})
        return wd.Kv(name, HARNESS, "KvNamespace", props)
    if isinstance(value, LocalDurableObject):
        return wd.DurableObject(name, value.class_name)
    if isinstance(value, SelfService):
        return wd.Service(name, "main", value.entrypoint)
    try:
        return wd.Json(name, json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"binding {name}: a {type(value).__name__} cannot be passed to the Worker",
            "use a str, a JSON value, LocalKv(...), LocalDurableObject(...), "
            "SelfService(...) or None",
        ) from exc


def worker_config(
    build_dir: Path, settings: wrangler.Settings, storage: Path | None, *, port: int = 0
) -> wd.Config:
    """The workerd config: the build as "main" on socket "http", the harness on "control"."""

    def where(part: str) -> wd.Storage:
        return wd.InMemory() if storage is None else wd.OnDisk(storage / part)

    main = wd.Worker(
        name="main",
        modules=wd.build_modules(build_dir),
        compatibility_date=settings.compatibility_date or wd.COMPATIBILITY_DATE,
        compatibility_flags=settings.compatibility_flags,
        bindings=tuple(_binding(n, v) for n, v in settings.bindings.items()),
        durable_object_classes=settings.durable_object_classes,
        sqlite_classes=settings.sqlite_classes,
        storage=where("durable-objects"),
    )
    harness = wd.Worker(
        name=HARNESS,
        modules=(
            wd.Module("harness.js", resources.template("serve_harness.js")),
            wd.Module("serve_control.mjs", resources.template("serve_control.mjs")),
        ),
        compatibility_flags=HARNESS_FLAGS,
        bindings=(wd.Service("WORKER", "main"), wd.DurableObject("KV_STORE", "KvStore")),
        durable_object_classes=("KvStore",),
        storage=where("kv"),
    )
    sockets = (wd.Socket("http", "main", port=port), wd.Socket("control", HARNESS))
    return wd.Config((main, harness), sockets)


def resolve_settings(
    build_dir: Path,
    *,
    crate_dir: Path | None,
    config: Path | str | None,
    environment: str | None,
    bindings: Mapping[str, Any] | None,
) -> wrangler.Settings:
    if config == AUTO:
        path = None if crate_dir is None else wrangler.find_config(crate_dir, build_dir)
    else:
        path = None if config is None else Path(config)
        if path is not None and not path.is_file():
            raise UsageError(f"{path} does not exist", "pass the path of a wrangler.toml")
    settings = wrangler.with_overrides(wrangler.load(path, environment), bindings)
    wrangler.require_providable(settings)
    return settings


def pick_runtime(settings: wrangler.Settings, runtime: str) -> str:
    """ "workerd" or "miniflare" for these settings (runtime: AUTO or one of them)."""
    if runtime not in RUNTIMES:
        raise UsageError(
            f"runtime={runtime!r} is not a runtime", f"use one of {', '.join(map(repr, RUNTIMES))}"
        )
    reasons = settings.miniflare_reasons()
    if runtime == "workerd" and reasons:
        raise UsageError(
            f"runtime='workerd' cannot serve {', '.join(reasons)}: only miniflare has local "
            "implementations of these",
            "leave runtime= out (miniflare is then used), or leave them out with "
            f"bindings={{{', '.join(f'{n!r}: None' for n in reasons if n != '[assets]')}}}",
        )
    if runtime == AUTO:
        return "miniflare" if reasons else "workerd"
    return runtime


def check_storage(storage: Path) -> Path:
    """The `storage=` directory, created when missing and proven writable (one clear error
    rather than the server failing on its first write)."""
    keep = "or leave storage= out to keep the data in memory"
    if storage.exists() and not storage.is_dir():
        raise NotWritableError(
            f"storage={storage} is a file, not a directory", f"pass a directory, {keep}"
        )
    try:
        storage.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".worker-build-probe-", dir=storage)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise NotWritableError(
            f"storage={storage} cannot be written: {exc.strerror or exc}",
            f"pass a directory you can write (it is created when missing), {keep}",
        ) from exc
    return storage.resolve()


def check_port(port: int | None) -> int:
    """0 for any free port, else the port asked for, refused when it is taken."""
    if port is None or port == 0:
        return 0
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise UsageError(f"port={port!r} is not a TCP port", "pass 1-65535, or none")
    _probe_port(port)
    return port


def _server(
    runtime: str,
    build: Path,
    settings: wrangler.Settings,
    *,
    crate: Path | None,
    storage: Path | None,
    port: int,
    log_path: Path | None,
    workerd: Path | None,
) -> ServerProcess:
    if runtime == "workerd":
        binary = workerd or resolve.workerd(crate or build, InstallPolicy.ALLOW).path
        config = worker_config(build, settings, storage, port=port)
        return WorkerdProcess(binary, config, log_path=log_path)
    node = resolve.node(InstallPolicy.ALLOW)
    package = resolve.miniflare(crate or build, InstallPolicy.ALLOW)
    mo.main_worker(build, settings)  # a missing module or a bad value fails before Node starts
    env = {} if workerd is None else {"MINIFLARE_WORKERD_PATH": str(workerd)}
    return MiniflareProcess(
        node.path,
        package.path,
        lambda tmp: mo.options(build, settings, storage=storage, tmp=tmp, port=port),
        port=port,
        log_path=log_path,
        env=env,
    )


@contextmanager
def serve(
    build_dir: Path | str,
    *,
    crate_dir: Path | str | None = None,
    config: Path | str | None = AUTO,
    environment: str | None = None,
    bindings: Mapping[str, Any] | None = None,
    storage: Path | str | None = None,
    port: int | None = None,
    runtime: str = AUTO,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = START_TIMEOUT,
    log_path: Path | str | None = None,
    workerd: Path | str | None = None,
) -> Iterator[Worker]:
    """Run `build_dir` (a worker-build output) on 127.0.0.1; yield a `Worker`.

    crate_dir: where to look for the wrangler configuration (config=AUTO); config: a
    wrangler.toml/json/jsonc to use instead, or None for none; environment: its [env.NAME];
    bindings: {name: value} replacing the configuration's (str: text, other JSON values:
    JSON, LocalKv/LocalDurableObject/SelfService/LocalR2/LocalD1/LocalQueue/LocalRateLimit/
    MiniflareBinding, None: leave the binding out); storage: a directory for the data
    (default: in memory); port: the Worker's port (default: a free one); runtime: "auto"
    (workerd when it can provide every binding, else miniflare), "workerd" or "miniflare";
    timeout: the default bound of each call; log_path: where the server's output goes
    (default: a private file, removed at the end; `worker.logs` reads it either way);
    workerd: the workerd binary (default: resolved like the build tools, WORKERD_BIN first;
    miniflare's own otherwise).
    """
    build = Path(build_dir)
    crate = Path(crate_dir) if crate_dir is not None else None
    settings = resolve_settings(
        build, crate_dir=crate, config=config, environment=environment, bindings=bindings
    )
    chosen = pick_runtime(settings, runtime)
    fixed = check_port(port)
    process = _server(
        chosen,
        build,
        settings,
        crate=crate,
        storage=None if storage is None else check_storage(Path(storage)),
        port=fixed,
        log_path=None if log_path is None else Path(log_path),
        workerd=None if workerd is None else Path(workerd),
    )
    started = time.perf_counter()
    try:
        process.start(start_timeout)
        yield Worker(
            process,
            crons=settings.crons,
            timeout=timeout,
            startup_seconds=time.perf_counter() - started,
            runtime=chosen,
        )
    finally:
        process.stop()
