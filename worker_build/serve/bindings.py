"""The bindings of a served Worker: their Python values, and which runtime provides each.

A binding's value (in `Settings.bindings`, or passed as `serve(bindings={name: value})`):

- a `str` (text) or any other JSON value: a variable;
- `LocalKv`, `LocalDurableObject`, `SelfService`: provided by plain workerd (KV kept by
  worker-build's harness worker) or, when miniflare runs anyway, by miniflare;
- `LocalR2`, `LocalD1`, `LocalQueue`, `LocalRateLimit`, `MiniflareBinding`: only miniflare
  has local implementations of these (the ones `wrangler dev` uses), so their presence
  makes `serve()` run miniflare instead of plain workerd;
- `Unsupported`: in the configuration but not served locally (remote-only products, other
  Workers): `serve()` refuses it, naming the fix.

`from_wrangler` turns one wrangler configuration table into these values. Which kinds
`wrangler dev` serves locally is wrangler's own table (BINDING_LOCAL_SUPPORT in its
source): everything marked local there is mapped here, the remote-only kinds are
`Unsupported`, and unknown keys are ignored (wrangler warns and goes on).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker_build.errors import UsageError


@dataclass(frozen=True)
class LocalKv:
    """A KV namespace; bindings with the same `namespace` share their data."""

    namespace: str


@dataclass(frozen=True)
class LocalDurableObject:
    """A Durable Object namespace of a class the Worker itself exports."""

    class_name: str


@dataclass(frozen=True)
class SelfService:
    """A service binding to the Worker itself (optionally a named entrypoint)."""

    entrypoint: str | None = None


@dataclass(frozen=True)
class LocalR2:
    """An R2 bucket (miniflare); bindings with the same `bucket` share their objects."""

    bucket: str


@dataclass(frozen=True)
class LocalD1:
    """A D1 database (miniflare's SQLite); the same `database` shares its tables."""

    database: str


@dataclass(frozen=True)
class LocalQueue:
    """A queue producer (miniflare). Messages sent to `queue` reach this Worker's queue
    handler when the configuration has a consumer of that queue (`[[queues.consumers]]`)."""

    queue: str
    delivery_delay: int | None = None


@dataclass(frozen=True)
class LocalRateLimit:
    """A rate limiter (miniflare): `limit` calls per key in `period` seconds (10 or 60)."""

    limit: int
    period: int = 60
    namespace: str | None = None


@dataclass(frozen=True)
class MiniflareBinding:
    """Any other binding miniflare provides locally: `option` is miniflare's worker option
    (e.g. "analyticsEngineDatasets"), `entry` this binding's value in it."""

    option: str
    entry: Any = None


@dataclass(frozen=True)
class Unsupported:
    """A binding of the configuration that is not served locally; `kind` is its key in the
    configuration, `why` says why (shown in the error)."""

    kind: str
    why: str = ""


WORKERD_VALUES = (LocalKv, LocalDurableObject, SelfService)
MINIFLARE_VALUES = (LocalR2, LocalD1, LocalQueue, LocalRateLimit, MiniflareBinding)


def needs_miniflare(value: Any) -> bool:
    return isinstance(value, MINIFLARE_VALUES)


# -- the wrangler configuration --------------------------------------------------------------

# wrangler marks these remote-only (or never local): `wrangler dev` serves them only with
# `remote = true` and a Cloudflare login.
REMOTE_ONLY = {
    "ai": "binding",
    "vectorize": "binding",
    "mtls_certificates": "binding",
    "dispatch_namespaces": "binding",
    "media": "binding",
    "vpc_services": "binding",
}
# Single-binding tables miniflare serves: config key -> miniflare option.
SINGLE = {
    "version_metadata": "versionMetadata",
    "images": "images",
    "browser": "browserRendering",
    "stream": "stream",
}


def _bad(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: {what}", "fix the wrangler configuration")


def entries(path: Path, kind: str, value: object) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise _bad(path, f"`{kind}` must hold tables")
    return items  # type: ignore[return-value]


def _name(path: Path, kind: str, entry: Mapping[str, Any], key: str) -> str:
    name = entry.get(key)
    if not isinstance(name, str) or not name:
        raise _bad(path, f"an entry of `{kind}` has no `{key}`")
    return name


def _without_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _rate_limit(path: Path, kind: str, entry: Mapping[str, Any]) -> LocalRateLimit:
    simple = entry.get("simple")
    if not isinstance(simple, dict) or not isinstance(simple.get("limit"), int):
        raise _bad(path, f"an entry of `{kind}` has no `simple = {{ limit = N }}`")
    namespace = entry.get("namespace_id")
    period = int(simple.get("period", 60))
    return LocalRateLimit(simple["limit"], period, None if namespace is None else str(namespace))


def _hyperdrive(entry: Mapping[str, Any], name: str) -> MiniflareBinding | Unsupported:
    # wrangler's local fallback: the entry's localConnectionString, or this variable
    variable = f"CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_{name}"
    local = os.environ.get(variable) or entry.get("localConnectionString")
    if isinstance(local, str) and local:
        return MiniflareBinding("hyperdrives", local)
    return Unsupported("hyperdrive", f"no localConnectionString (or {variable})")


def _lists(path: Path, table: Mapping[str, Any], worker_name: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def each(kind: str, key: str, value: object = None) -> list[tuple[str, dict[str, Any]]]:
        items = table.get(kind, []) if value is None else value
        return [(_name(path, kind, e, key), e) for e in entries(path, kind, items)]

    def own(entry: Mapping[str, Any]) -> bool:
        script = entry.get("script_name")
        return script is None or script == worker_name

    for name, e in each("durable_objects.bindings", "name", _nested(table, "durable_objects")):
        cls = _name(path, "durable_objects.bindings", e, "class_name")
        found[name] = (
            LocalDurableObject(cls)
            if own(e)
            else Unsupported("durable_objects", f"class {cls} of another Worker")
        )
    for name, e in each("services", "binding"):
        mine = worker_name is not None and e.get("service") == worker_name
        found[name] = (
            SelfService(e.get("entrypoint"))
            if mine
            else Unsupported("services", f"Worker {e.get('service')!r} is not this one")
        )
    for name, e in each("r2_buckets", "binding"):
        found[name] = LocalR2(str(e.get("bucket_name") or name))
    for name, e in each("d1_databases", "binding"):
        found[name] = LocalD1(str(e.get("preview_database_id") or e.get("database_id") or name))
    for name, e in each("queues.producers", "binding", _nested(table, "queues", "producers")):
        delay = e.get("delivery_delay")
        found[name] = LocalQueue(str(e.get("queue") or name), delay)
    for name, e in each("ratelimits", "name"):
        found[name] = _rate_limit(path, "ratelimits", e)
    for name, e in each("unsafe.bindings", "name", _nested(table, "unsafe", "bindings")):
        kind = e.get("type")
        found[name] = (
            _rate_limit(path, "unsafe.bindings", e)
            if kind == "ratelimit"
            else Unsupported("unsafe.bindings", f"type {kind!r}")
        )
    for name, e in each("analytics_engine_datasets", "binding"):
        found[name] = MiniflareBinding(
            "analyticsEngineDatasets", {"dataset": e.get("dataset") or "dataset"}
        )
    for name, e in each("hyperdrive", "binding"):
        found[name] = _hyperdrive(e, name)
    for name, e in each("workflows", "binding"):
        flow = _without_none(
            name=e.get("name"), className=e.get("class_name"), scriptName=e.get("script_name")
        )
        found[name] = (
            MiniflareBinding("workflows", flow)
            if own(e)
            else Unsupported("workflows", "a workflow of another Worker")
        )
    for name, e in each("send_email", "name"):
        found[name] = MiniflareBinding("email", {k: v for k, v in e.items() if k != "name"})
    for name, e in each("secrets_store_secrets", "binding"):
        secret = _without_none(store_id=e.get("store_id"), secret_name=e.get("secret_name"))
        found[name] = MiniflareBinding("secretsStoreSecrets", secret)
    for name, _ in each("worker_loaders", "binding"):
        found[name] = MiniflareBinding("workerLoaders", {})
    for name, e in each("pipelines", "binding"):
        found[name] = MiniflareBinding(
            "pipelines", _without_none(pipeline=e.get("pipeline"), stream=e.get("stream"))
        )
    for kind, key in REMOTE_ONLY.items():
        for name, _ in each(kind, key):
            found[name] = Unsupported(kind, "served only remotely by Cloudflare")
    return found


def _nested(table: Mapping[str, Any], outer: str, inner: str = "bindings") -> Any:
    section = table.get(outer, {})
    return section.get(inner, []) if isinstance(section, dict) else []


def from_wrangler(path: Path, table: Mapping[str, Any], worker_name: str | None) -> dict[str, Any]:
    """{binding name: value} of one configuration table (the top level or an [env.NAME])."""
    bindings: dict[str, Any] = {}
    variables = table.get("vars", {})
    if not isinstance(variables, dict):
        raise _bad(path, "`vars` must be a table")
    bindings.update(variables)
    for entry in entries(path, "kv_namespaces", table.get("kv_namespaces", [])):
        name = _name(path, "kv_namespaces", entry, "binding")
        bindings[name] = LocalKv(str(entry.get("id") or name))
    bindings.update(_lists(path, table, worker_name))
    for kind, option in SINGLE.items():
        single = table.get(kind)
        if isinstance(single, dict) and isinstance(single.get("binding"), str):
            bindings[single["binding"]] = MiniflareBinding(option)
    return bindings


# Top-level keys an [env.NAME] does not inherit (wrangler's rule for bindings).
NOT_INHERITED = (
    "vars",
    "kv_namespaces",
    "durable_objects",
    "services",
    "r2_buckets",
    "d1_databases",
    "queues",
    "ratelimits",
    "unsafe",
    "analytics_engine_datasets",
    "hyperdrive",
    "workflows",
    "send_email",
    "secrets_store_secrets",
    "worker_loaders",
    "pipelines",
    "tail_consumers",
    *REMOTE_ONLY,
    *SINGLE,
)
