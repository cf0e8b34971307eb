"""The options of a local run in miniflare, from the same settings as a workerd run.

`options()` returns miniflare's v4 option shape (what wrangler itself builds and passes
through miniflare's `convertV4MiniflareOptions`), as JSON for templates/serve_miniflare.mjs:
the build as worker "main" behind miniflare's entry socket. (`scheduled()`, `queue()` and
RPC are answered by that script itself, through miniflare's getWorker(): a service binding
from a harness worker, as in a workerd run, would reach a Worker with [assets] through
miniflare's asset proxy, which has no queue handler.)

Every binding maps to the option `wrangler dev` fills for it (wrangler's
buildMiniflareBindingOptions was read for the names and shapes, nothing copied): vars
to `bindings`, KV to `kvNamespaces`, and so on. Storage: miniflare keeps each kind of data
under `<storage>/miniflare/<kind>` (apart from a workerd run's own directories, whose
format differs), or, without `storage=`, in the server's private directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from worker_build.errors import UsageError
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
from worker_build.serve.workerd_config import COMPATIBILITY_DATE, LOOPBACK, build_modules
from worker_build.serve.wrangler import Settings

MAIN = "main"
# Options that hold one binding (the binding's name goes inside the value).
SINGLE_OPTIONS = ("versionMetadata", "images", "browserRendering", "stream")
# A fixed `request.cf`: miniflare would otherwise fetch one from Cloudflare at startup.
CF = {"colo": "DFW", "country": "US", "httpProtocol": "HTTP/1.1", "clientTcpRtt": 0}

_MODULE_TYPES = {"esModule": "ESModule", "wasm": "CompiledWasm", "text": "Text", "data": "Data"}


def _not_json(name: str, value: Any) -> UsageError:
    return UsageError(
        f"binding {name}: a {type(value).__name__} cannot be passed to the Worker",
        "use a str, a JSON value, LocalKv, LocalDurableObject, SelfService, LocalR2, "
        "LocalD1, LocalQueue, LocalRateLimit, MiniflareBinding or None",
    )


def _json_value(name: str, value: Any) -> Any:
    """A variable's value as JSON data (checked here, so the error names the binding)."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as exc:
        raise _not_json(name, value) from exc


def _binding_options(settings: Settings) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def put(option: str, name: str, entry: Any) -> None:
        out.setdefault(option, {})[name] = entry

    for name, value in settings.bindings.items():
        if isinstance(value, LocalKv):
            put("kvNamespaces", name, {"id": value.namespace})
        elif isinstance(value, LocalDurableObject):
            use_sql = value.class_name in settings.sqlite_classes
            put("durableObjects", name, {"className": value.class_name, "useSQLite": use_sql})
        elif isinstance(value, SelfService):
            target = {"name": MAIN}
            if value.entrypoint is not None:
                target["entrypoint"] = value.entrypoint
            put("serviceBindings", name, target)
        elif isinstance(value, LocalR2):
            put("r2Buckets", name, {"id": value.bucket})
        elif isinstance(value, LocalD1):
            put("d1Databases", name, {"id": value.database})
        elif isinstance(value, LocalQueue):
            producer: dict[str, Any] = {"queueName": value.queue}
            if value.delivery_delay is not None:
                producer["deliveryDelay"] = value.delivery_delay
            put("queueProducers", name, producer)
        elif isinstance(value, LocalRateLimit):
            limit = {"limit": value.limit, "period": value.period}
            put("ratelimits", name, {"namespace_id": value.namespace or name, "simple": limit})
        elif isinstance(value, MiniflareBinding):
            _other(out, name, value)
        elif isinstance(value, str):
            put("bindings", name, value)
        else:
            put("bindings", name, _json_value(name, value))
    return out


def _other(out: dict[str, Any], name: str, value: MiniflareBinding) -> None:
    if value.option == "versionMetadata":
        out["versionMetadata"] = name
    elif value.option in SINGLE_OPTIONS:
        out[value.option] = {"binding": name, **(value.entry or {})}
    elif value.option == "email":
        mail = out.setdefault("email", {"send_email": []})
        mail["send_email"].append({"name": name, **(value.entry or {})})
    else:
        out.setdefault(value.option, {})[name] = value.entry


def _consumers(settings: Settings) -> dict[str, Any]:
    consumers: dict[str, Any] = {}
    for c in settings.queue_consumers:
        fields = {
            "maxBatchSize": c.max_batch_size,
            "maxBatchTimeout": c.max_batch_timeout,
            "maxRetries": c.max_retries,
            "deadLetterQueue": c.dead_letter_queue,
            "retryDelay": c.retry_delay,
        }
        consumers[c.queue] = {k: v for k, v in fields.items() if v is not None}
    return consumers


def _assets(settings: Settings) -> dict[str, Any] | None:
    assets = settings.assets
    if assets is None:
        return None
    option: dict[str, Any] = {
        "directory": str(assets.directory),
        "routerConfig": {
            "has_user_worker": True,
            "invoke_user_worker_ahead_of_assets": assets.run_worker_first,
        },
        "assetConfig": {
            k: v
            for k, v in (
                ("html_handling", assets.html_handling),
                ("not_found_handling", assets.not_found_handling),
            )
            if v is not None
        },
    }
    if assets.binding is not None:
        option["binding"] = assets.binding
    return option


def main_worker(build_dir: Path, settings: Settings) -> dict[str, Any]:
    """The "main" worker: the build's modules (paths: miniflare reads them) and bindings."""
    modules = [
        {"type": _MODULE_TYPES[m.kind], "path": str(m.path.resolve())}
        for m in build_modules(build_dir)
    ]
    worker: dict[str, Any] = {
        "name": MAIN,
        "modules": modules,
        "modulesRoot": str(build_dir.resolve()),
        "compatibilityDate": settings.compatibility_date or COMPATIBILITY_DATE,
        "compatibilityFlags": list(settings.compatibility_flags),
        **_binding_options(settings),
    }
    consumers = _consumers(settings)
    if consumers:
        worker["queueConsumers"] = consumers
    assets = _assets(settings)
    if assets is not None:
        worker["assets"] = assets
    return worker


def options(
    build_dir: Path,
    settings: Settings,
    *,
    storage: Path | None,
    tmp: Path,
    port: int = 0,
) -> dict[str, Any]:
    """Miniflare's options (v4 shape, JSON-able): `tmp` is the server's private directory
    (its data when there is no `storage`), `port` the entry socket's (0: any free one)."""
    shared: Mapping[str, Any] = {
        "host": LOOPBACK,
        "port": port,
        "cf": CF,
        "logRequests": False,
        "telemetry": {"enabled": False},
        "resourceTmpPath": str(tmp),
    }
    persist = {} if storage is None else {"resourcePersistencePath": str(storage / "miniflare")}
    return {**shared, **persist, "workers": [main_worker(build_dir, settings)]}
