"""Serve a Worker build in the real runtime (workerd) on loopback, from Python.

    from worker_build.serve import serve
    with serve("build", crate_dir=".") as worker:
        assert worker.fetch("/").status == 200

A Worker crate's generated `build/loader.py` calls this with its own paths
(`loader.serve()`). workerd is resolved like the build tools (`resolve.workerd`). Bindings
come from the crate's wrangler configuration (`wrangler.py`), replaced or removed by
`bindings=`; Durable Objects and KV live in memory, or under `storage=` (a directory).
The server listens on 127.0.0.1 only and is stopped when the `with` block ends, however
it ends (and at interpreter exit, or when the parent process dies: see workerd_process.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from worker_build.errors import UsageError
from worker_build.serve import workerd_config as wd
from worker_build.serve import wrangler
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
from worker_build.serve.workerd_config import WorkerdError
from worker_build.serve.workerd_process import START_TIMEOUT, WorkerdProcess
from worker_build.serve.wrangler import LocalDurableObject, LocalKv, SelfService
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy
from worker_build.util import resources

__all__ = [
    "AUTO",
    "LocalDurableObject",
    "LocalKv",
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

AUTO = "auto"  # config=AUTO: find the crate's wrangler configuration
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
            "use a str, a JSON value, LocalKv(...), LocalDurableObject(...) or None",
        ) from exc


def worker_config(build_dir: Path, settings: wrangler.Settings, storage: Path | None) -> wd.Config:
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
        modules=(wd.Module("harness.js", resources.template("serve_harness.js")),),
        compatibility_flags=HARNESS_FLAGS,
        bindings=(wd.Service("WORKER", "main"), wd.DurableObject("KV_STORE", "KvStore")),
        durable_object_classes=("KvStore",),
        storage=where("kv"),
    )
    return wd.Config((main, harness), (wd.Socket("http", "main"), wd.Socket("control", HARNESS)))


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


@contextmanager
def serve(
    build_dir: Path | str,
    *,
    crate_dir: Path | str | None = None,
    config: Path | str | None = AUTO,
    environment: str | None = None,
    bindings: Mapping[str, Any] | None = None,
    storage: Path | str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    start_timeout: float = START_TIMEOUT,
    log_path: Path | str | None = None,
    workerd: Path | str | None = None,
) -> Iterator[Worker]:
    """Run `build_dir` (a worker-build output) in workerd on 127.0.0.1; yield a `Worker`.

    crate_dir: where to look for the wrangler configuration (config=AUTO); config: a
    wrangler.toml/json/jsonc to use instead, or None for none; environment: its [env.NAME];
    bindings: {name: value} replacing the configuration's (str: text, other JSON values:
    JSON, LocalKv/LocalDurableObject/SelfService, None: leave the binding out);
    storage: a directory for Durable Object and KV data (default: in memory); timeout: the
    default bound of each call; log_path: where workerd's output goes (default: a private
    file, removed at the end; `worker.logs` reads it either way); workerd: the binary
    (default: resolved like the build tools, WORKERD_BIN first).
    """
    build = Path(build_dir)
    crate = Path(crate_dir) if crate_dir is not None else None
    settings = resolve_settings(
        build, crate_dir=crate, config=config, environment=environment, bindings=bindings
    )
    if workerd is not None:
        binary = Path(workerd)
    else:
        binary = resolve.workerd(crate or build, InstallPolicy.ALLOW).path
    process = WorkerdProcess(
        binary,
        worker_config(build, settings, None if storage is None else Path(storage)),
        log_path=None if log_path is None else Path(log_path),
    )
    started = time.perf_counter()
    try:
        process.start(start_timeout)
        yield Worker(
            process,
            crons=settings.crons,
            timeout=timeout,
            startup_seconds=time.perf_counter() - started,
        )
    finally:
        process.stop()
