"""The bindings a Worker gets when served locally, from its wrangler configuration.

`find_config` looks for `wrangler.toml`, `wrangler.json` or `wrangler.jsonc` in the crate
directory (or a parent whose config's `main` is this build). `load` reads what a local run
needs: the compatibility date and flags, every binding (bindings.py: which are served
locally, and by which runtime), the classes in `new_sqlite_classes` migrations (SQLite-backed,
as in production), `[[queues.consumers]]`, `[assets]` and `[triggers] crons`. `.dev.vars`
beside the config (`.dev.vars.<env>` for an environment) adds text variables, as `wrangler
dev` does. `[env.NAME]` replaces the top-level values it sets; bindings are not inherited
from the top level (wrangler's rule).

`with_overrides` applies the `bindings=` argument of `serve()`; `require_providable` raises
one error naming every binding that is left and is not served locally.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from worker_build.errors import UsageError
from worker_build.serve.bindings import (
    NOT_INHERITED,
    LocalD1,
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    LocalRateLimit,
    MiniflareBinding,
    SelfService,
    Unsupported,
    entries,
    from_wrangler,
    needs_miniflare,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

CONFIG_NAMES = ("wrangler.toml", "wrangler.json", "wrangler.jsonc")
DEV_VARS = ".dev.vars"
MAIN_FILES = ("index.js", "worker/shim.mjs")  # what a wrangler `main` names in a build


@dataclass(frozen=True)
class Assets:
    """`[assets]`: a directory of static files served in front of (or behind) the Worker,
    by miniflare's asset worker as in `wrangler dev`."""

    directory: Path
    binding: str | None = None
    run_worker_first: bool = False  # a list of routes is taken as true (the Worker decides)
    html_handling: str | None = None
    not_found_handling: str | None = None


@dataclass(frozen=True)
class QueueConsumer:
    """`[[queues.consumers]]`: this Worker consumes `queue` (settings as wrangler's)."""

    queue: str
    max_batch_size: int | None = None
    max_batch_timeout: float | None = None
    max_retries: int | None = None
    dead_letter_queue: str | None = None
    retry_delay: int | None = None


# str: a text variable; any other JSON value: a JSON variable.
BindingValue = (
    str | LocalKv | LocalDurableObject | SelfService | LocalR2 | LocalD1 | LocalQueue
    | LocalRateLimit | MiniflareBinding | Unsupported | Any
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    config: Path | None  # the file read (None: no configuration)
    name: str | None = None
    compatibility_date: str | None = None
    compatibility_flags: tuple[str, ...] = ()
    bindings: Mapping[str, BindingValue] = field(default_factory=dict)
    sqlite_classes: frozenset[str] = frozenset()
    crons: tuple[str, ...] = ()
    queue_consumers: tuple[QueueConsumer, ...] = ()
    assets: Assets | None = None

    @property
    def durable_object_classes(self) -> tuple[str, ...]:
        found = {v.class_name for v in self.bindings.values() if isinstance(v, LocalDurableObject)}
        return tuple(sorted(found))

    def miniflare_reasons(self) -> list[str]:
        """Why plain workerd cannot serve these settings (empty: it can): the bindings only
        miniflare provides, and `[assets]`."""
        reasons = [name for name, value in self.bindings.items() if needs_miniflare(value)]
        return [*reasons, "[assets]"] if self.assets is not None else reasons


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


def _consumers(path: Path, table: Mapping[str, Any]) -> tuple[QueueConsumer, ...]:
    queues = table.get("queues", {})
    found = []
    for entry in entries(path, "queues.consumers", queues.get("consumers", [])):
        queue = entry.get("queue")
        if not isinstance(queue, str) or not queue:
            raise _bad(path, "an entry of `queues.consumers` has no `queue`")
        found.append(
            QueueConsumer(
                queue,
                entry.get("max_batch_size"),
                entry.get("max_batch_timeout"),
                entry.get("max_retries"),
                entry.get("dead_letter_queue"),
                entry.get("retry_delay"),
            )
        )
    return tuple(found)


def _assets(path: Path, table: Mapping[str, Any]) -> Assets | None:
    section = table.get("assets")
    if section is None:
        return None
    directory = section.get("directory") if isinstance(section, dict) else None
    if not isinstance(directory, str) or not directory:
        raise _bad(path, "`assets` has no `directory`")
    where = (path.parent / directory).resolve()
    if not where.is_dir():
        raise UsageError(
            f"{path}: the assets directory {where} does not exist",
            "create it, or fix `assets.directory`",
        )
    first = section.get("run_worker_first", False)
    return Assets(
        where,
        section.get("binding"),
        bool(first),
        section.get("html_handling"),
        section.get("not_found_handling"),
    )


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
        inherited = {k: v for k, v in data.items() if k not in ("env", *NOT_INHERITED)}
        table = {**inherited, **envs[environment]}
        top = data.get("name")
        if "name" not in envs[environment] and isinstance(top, str):
            table["name"] = f"{top}-{environment}"  # wrangler names it so
    name = table.get("name") if isinstance(table.get("name"), str) else None
    bindings = from_wrangler(path, table, name)
    dev_vars = path.with_name(DEV_VARS + (f".{environment}" if environment else ""))
    if environment is not None and not dev_vars.is_file():
        dev_vars = path.with_name(DEV_VARS)
    if dev_vars.is_file():
        bindings.update(read_dev_vars(dev_vars))
    sqlite: set[str] = set()
    for migration in entries(path, "migrations", data.get("migrations", [])):
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
        queue_consumers=_consumers(path, table),
        assets=_assets(path, table),
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
    """One error naming every binding that is not served locally, and how to replace it."""
    missing = [(n, v) for n, v in settings.bindings.items() if isinstance(v, Unsupported)]
    if not missing:
        return
    names = ", ".join(
        f"{name} ({value.kind}{': ' + value.why if value.why else ''})" for name, value in missing
    )
    where = f" in {settings.config}" if settings.config else ""
    plural, them = ("s", "them") if len(missing) > 1 else ("", "it")
    leave_out = ", ".join(f"{n!r}: None" for n, _ in missing)
    raise UsageError(
        f"binding{plural} {names}{where} {'are' if plural else 'is'} not served locally",
        f"pass serve(bindings={{{leave_out}}}) to leave {them} out, or a local value "
        f"(e.g. LocalKv, LocalR2, SelfService) to replace {them}; under pytest, override "
        "the worker_build_bindings fixture",
    )
