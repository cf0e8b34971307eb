"""The bindings a Worker gets when served locally, from its wrangler configuration.

`find_config` looks for `wrangler.toml`, `wrangler.json` or `wrangler.jsonc` in the crate
directory (or a parent whose config's `main` is this build). `load` reads what a local run
needs: the compatibility date and flags, `[vars]`, `kv_namespaces`,
`durable_objects.bindings` (the classes in `new_sqlite_classes` migrations are SQLite-backed,
as in production), `[triggers] crons`, and every other binding by name and kind, which
cannot be provided locally. `.dev.vars` beside the config (`.dev.vars.<env>` for an
environment) adds text variables, as `wrangler dev` does. `[env.NAME]` replaces the
top-level values it sets; bindings are not inherited from the top level (wrangler's rule).

`with_overrides` applies the `bindings=` argument of `serve()`; `require_providable` raises
one error naming every binding that is left and cannot be provided.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from worker_build.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_NAMES = ("wrangler.toml", "wrangler.json", "wrangler.jsonc")
DEV_VARS = ".dev.vars"
MAIN_FILES = ("index.js", "worker/shim.mjs")  # what a wrangler `main` names in a build

# Binding kinds in a wrangler configuration that a local workerd cannot provide, and where
# each entry keeps its binding name. Unknown keys are ignored, as wrangler warns and goes on.
_LISTS = {
    "r2_buckets": "binding",
    "d1_databases": "binding",
    "services": "binding",
    "analytics_engine_datasets": "binding",
    "hyperdrive": "binding",
    "vectorize": "binding",
    "send_email": "name",
    "dispatch_namespaces": "binding",
    "mtls_certificates": "binding",
    "workflows": "binding",
    "secrets_store_secrets": "binding",
    "pipelines": "binding",
    "worker_loaders": "binding",
}
_SINGLE = ("ai", "browser", "version_metadata", "images", "assets")
_NESTED = {("queues", "producers"): "binding", ("unsafe", "bindings"): "name"}


@dataclass(frozen=True)
class LocalKv:
    """A KV namespace kept by worker-build's harness (in memory, or in `storage`).
    Bindings with the same `namespace` share their data."""

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
class Unsupported:
    """A binding in the configuration that cannot be provided locally; `kind` is its key."""

    kind: str


# str: a text variable; any other JSON value: a JSON variable.
BindingValue = str | LocalKv | LocalDurableObject | SelfService | Unsupported | Any


@dataclass(frozen=True)
class Settings:
    config: Path | None  # the file read (None: no configuration)
    name: str | None = None
    compatibility_date: str | None = None
    compatibility_flags: tuple[str, ...] = ()
    bindings: Mapping[str, BindingValue] = field(default_factory=dict)
    sqlite_classes: frozenset[str] = frozenset()
    crons: tuple[str, ...] = ()

    @property
    def durable_object_classes(self) -> tuple[str, ...]:
        found = {v.class_name for v in self.bindings.values() if isinstance(v, LocalDurableObject)}
        return tuple(sorted(found))


def _bad(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: {what}", "fix the wrangler configuration")


def strip_jsonc(text: str) -> str:
    """JSON with comments and trailing commas (wrangler.jsonc) -> JSON."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c in "}]":
            # drop a trailing comma before the closing bracket
            k = len(out) - 1
            while k >= 0 and out[k].isspace():
                k -= 1
            if k >= 0 and out[k] == ",":
                del out[k]
            out.append(c)
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _bad(path, f"cannot be read: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        else:
            data = json.loads(strip_jsonc(text) if path.suffix == ".jsonc" else text)
    except ValueError as exc:
        raise _bad(path, f"is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise _bad(path, "is not a table of settings")
    return data


def find_config(crate_dir: Path, build_dir: Path) -> Path | None:
    """The crate's wrangler configuration: in the crate directory, or in the nearest parent
    whose configuration's `main` is a file of this build (a workspace layout)."""
    crate_dir = crate_dir.resolve()
    build_files = {(build_dir / name).resolve() for name in MAIN_FILES}
    for directory in (crate_dir, *crate_dir.parents):
        for name in CONFIG_NAMES:
            path = directory / name
            if not path.is_file():
                continue
            if directory == crate_dir:
                return path
            main = read_config(path).get("main")
            if isinstance(main, str) and (directory / main).resolve() in build_files:
                return path
    return None


def _entries(path: Path, kind: str, value: object) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, dict) for item in items):
        raise _bad(path, f"`{kind}` must hold tables")
    return items  # type: ignore[return-value]


def _name(path: Path, kind: str, entry: Mapping[str, Any], key: str) -> str:
    name = entry.get(key)
    if not isinstance(name, str) or not name:
        raise _bad(path, f"an entry of `{kind}` has no `{key}`")
    return name


def _bindings(path: Path, table: Mapping[str, Any], worker_name: str | None) -> dict[str, Any]:
    bindings: dict[str, BindingValue] = {}
    variables = table.get("vars", {})
    if not isinstance(variables, dict):
        raise _bad(path, "`vars` must be a table")
    bindings.update(variables)
    for entry in _entries(path, "kv_namespaces", table.get("kv_namespaces", [])):
        name = _name(path, "kv_namespaces", entry, "binding")
        bindings[name] = LocalKv(str(entry.get("id") or name))
    durable = table.get("durable_objects", {})
    for entry in _entries(path, "durable_objects.bindings", durable.get("bindings", [])):
        name = _name(path, "durable_objects.bindings", entry, "name")
        cls = _name(path, "durable_objects.bindings", entry, "class_name")
        script = entry.get("script_name")
        own = script is None or script == worker_name
        bindings[name] = (
            LocalDurableObject(cls)
            if own
            else Unsupported(f"durable_objects (class {cls} of script {script})")
        )
    for entry in _entries(path, "services", table.get("services", [])):
        name = _name(path, "services", entry, "binding")
        own = worker_name is not None and entry.get("service") == worker_name
        bindings[name] = SelfService(entry.get("entrypoint")) if own else Unsupported("services")
    for kind, key in _LISTS.items():
        if kind != "services":
            for entry in _entries(path, kind, table.get(kind, [])):
                bindings[_name(path, kind, entry, key)] = Unsupported(kind)
    for kind in _SINGLE:
        single = table.get(kind)
        if isinstance(single, dict) and isinstance(single.get("binding"), str):
            bindings[single["binding"]] = Unsupported(kind)
    for (outer, inner), key in _NESTED.items():
        section = table.get(outer, {})
        if isinstance(section, dict):
            for entry in _entries(path, f"{outer}.{inner}", section.get(inner, [])):
                bindings[_name(path, f"{outer}.{inner}", entry, key)] = Unsupported(
                    f"{outer}.{inner}"
                )
    return bindings


def read_dev_vars(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (dotenv: `#` comments, optional quotes), as `wrangler dev` reads them."""
    found: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise _bad(path, f"line {number} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def load(path: Path | None, environment: str | None = None) -> Settings:
    if path is None:
        if environment is not None:
            raise UsageError(
                f"environment {environment!r} asked for, but the Worker has no wrangler "
                "configuration",
                "pass config= or leave out environment=",
            )
        return Settings(None)
    data = read_config(path)
    table: dict[str, Any] = data
    if environment is not None:
        envs = data.get("env", {})
        if not isinstance(envs, dict) or not isinstance(envs.get(environment), dict):
            raise _bad(path, f"has no environment {environment!r} ([env.{environment}])")
        # Top-level settings are inherited; bindings are not (wrangler's rule).
        inherited = {k: v for k, v in data.items() if k != "env"}
        for key in ("vars", "kv_namespaces", "durable_objects", *_LISTS, *_SINGLE, "queues"):
            inherited.pop(key, None)
        table = {**inherited, **envs[environment]}
    name = table.get("name") if isinstance(table.get("name"), str) else None
    bindings = _bindings(path, table, name)
    dev_vars = path.with_name(DEV_VARS + (f".{environment}" if environment else ""))
    if environment is not None and not dev_vars.is_file():
        dev_vars = path.with_name(DEV_VARS)
    if dev_vars.is_file():
        bindings.update(read_dev_vars(dev_vars))
    sqlite: set[str] = set()
    for migration in _entries(path, "migrations", data.get("migrations", [])):
        sqlite.update(migration.get("new_sqlite_classes", []))
    flags = table.get("compatibility_flags", [])
    date = table.get("compatibility_date")
    crons = table.get("triggers", {}).get("crons", [])
    return Settings(
        config=path,
        name=name,
        compatibility_date=date if isinstance(date, str) else None,
        compatibility_flags=tuple(str(f) for f in flags),
        bindings=bindings,
        sqlite_classes=frozenset(sqlite),
        crons=tuple(str(c) for c in crons),
    )


def with_overrides(settings: Settings, overrides: Mapping[str, BindingValue] | None) -> Settings:
    """`overrides` replace bindings by name; a value of None removes the binding."""
    if not overrides:
        return settings
    merged = dict(settings.bindings)
    for name, value in overrides.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return replace(settings, bindings=merged)


def require_providable(settings: Settings) -> None:
    missing = [(n, v.kind) for n, v in settings.bindings.items() if isinstance(v, Unsupported)]
    if not missing:
        return
    names = ", ".join(f"{name} ({kind})" for name, kind in missing)
    where = f" in {settings.config}" if settings.config else ""
    plural, them = ("s", "them") if len(missing) > 1 else ("", "it")
    leave_out = ", ".join(f"{n!r}: None" for n, _ in missing)
    raise UsageError(
        f"binding{plural} {names}{where} cannot be provided locally by worker-build",
        f"pass bindings={{{leave_out}}} to leave {them} out, or a local value to replace {them}",
    )
