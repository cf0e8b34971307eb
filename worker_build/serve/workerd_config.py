"""The workerd config of a local run, and its Cap'n Proto text.

The model: workers (their modules, bindings, Durable Object classes and storage) and
the sockets that serve them. `render` writes it as `workerd.capnp`'s `Workerd.Config`,
with every socket on `127.0.0.1:0` (workerd picks the port, and server_process.py reads
it back) unless the socket asks for a fixed port. `build_modules` lists the modules of a
worker-build output directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from worker_build.errors import WorkerBuildError

COMPATIBILITY_DATE = "2025-09-01"  # used when the crate's wrangler config names none
LOOPBACK = "127.0.0.1"

# The files worker-build writes that a Worker is made of (build/): the bundled shim and glue
# (the main module) and the wasm it imports as "./index_bg.wasm".
MAIN_MODULE = "index.js"
WASM_MODULE = "index_bg.wasm"
LEGACY_SHIM_MODULE = "worker/shim.mjs"
LEGACY_WASM_MODULE = "worker/index.wasm"


class WorkerdError(WorkerBuildError):
    """workerd cannot serve the build: a module file is missing, or workerd did not start
    or stopped (then the message ends with the tail of its log)."""


_PLAIN = frozenset(range(0x20, 0x7F)) - {ord('"'), ord("\\")}


def _string(text: str) -> str:
    """A Cap'n Proto text literal: printable ASCII as it is, every other byte of the UTF-8
    text as `\\xNN`. Cap'n Proto reads C escapes but not JSON's `\\uNNNN` (json.dumps
    wrote those for any non-ASCII letter: issue 16), and an all-ASCII file does not depend
    on how it is read. surrogateescape: a path with bytes that are not UTF-8 keeps them."""
    data = text.encode("utf-8", "surrogateescape")
    return '"' + "".join(chr(b) if b in _PLAIN else f"\\x{b:02x}" for b in data) + '"'


@dataclass(frozen=True)
class Module:
    """A module of a worker, embedded from `path`. kind: esModule, wasm, text, data, json."""

    name: str
    path: Path
    kind: str = "esModule"


@dataclass(frozen=True)
class Text:
    name: str
    value: str

    def render(self) -> str:
        return f"text = {_string(self.value)}"


@dataclass(frozen=True)
class Json:
    """A JSON binding: `value` is the JSON text."""

    name: str
    value: str

    def render(self) -> str:
        return f"json = {_string(self.value)}"


@dataclass(frozen=True)
class DurableObject:
    """A namespace binding to class `class_name` of this worker, or of `service`."""

    name: str
    class_name: str
    service: str | None = None

    def render(self) -> str:
        target = f"className = {_string(self.class_name)}"
        if self.service is not None:
            target += f", serviceName = {_string(self.service)}"
        return f"durableObjectNamespace = ({target})"


@dataclass(frozen=True)
class Kv:
    """A KV namespace binding whose storage is the worker `service` (it speaks workerd's
    KV protocol over HTTP), optionally a named entrypoint given `props` (JSON text)."""

    name: str
    service: str
    entrypoint: str | None = None
    props: str | None = None

    def render(self) -> str:
        return f"kvNamespace = {_designator(self.service, self.entrypoint, self.props)}"


@dataclass(frozen=True)
class Service:
    """A service binding (Fetcher / RPC stub) to `service`, optionally a named entrypoint."""

    name: str
    service: str
    entrypoint: str | None = None

    def render(self) -> str:
        return f"service = {_designator(self.service, self.entrypoint)}"


Binding = Text | Json | DurableObject | Kv | Service


def _designator(service: str, entrypoint: str | None, props: str | None = None) -> str:
    if entrypoint is None and props is None:
        return _string(service)
    fields = [f"name = {_string(service)}"]
    if entrypoint is not None:
        fields.append(f"entrypoint = {_string(entrypoint)}")
    if props is not None:
        fields.append(f"props = (json = {_string(props)})")
    return f"({', '.join(fields)})"


@dataclass(frozen=True)
class InMemory:
    """Durable Object storage that lives as long as the process."""


@dataclass(frozen=True)
class OnDisk:
    """Durable Object storage in `path` (kept across restarts that pass the same path)."""

    path: Path


Storage = InMemory | OnDisk


@dataclass(frozen=True)
class Worker:
    name: str  # the service name
    modules: tuple[Module, ...]  # the first is the main module
    compatibility_date: str = COMPATIBILITY_DATE
    compatibility_flags: tuple[str, ...] = ()
    bindings: tuple[Binding, ...] = ()
    durable_object_classes: tuple[str, ...] = ()  # classes this worker hosts
    sqlite_classes: frozenset[str] = frozenset()  # of those, the SQLite-backed ones
    storage: Storage = field(default_factory=InMemory)


@dataclass(frozen=True)
class Socket:
    name: str
    service: str
    entrypoint: str | None = None  # a named export (default: the default export)
    port: int = 0  # 0: workerd picks a free one


@dataclass(frozen=True)
class Config:
    workers: tuple[Worker, ...]
    sockets: tuple[Socket, ...]


def build_modules(build_dir: Path) -> tuple[Module, ...]:
    """The modules of a worker-build output directory (`index.js` + `index_bg.wasm`, or in
    the legacy layout of --no-panic-recovery / CUSTOM_SHIM `index.js` re-exporting
    `worker/shim.mjs`, which loads `worker/index.wasm`)."""
    modules: tuple[Module, ...] = (
        Module(MAIN_MODULE, build_dir / MAIN_MODULE),
        Module(WASM_MODULE, build_dir / WASM_MODULE, "wasm"),
    )
    if not modules[1].path.exists() and (build_dir / LEGACY_WASM_MODULE).is_file():
        modules = (
            Module(MAIN_MODULE, build_dir / MAIN_MODULE),
            Module(LEGACY_SHIM_MODULE, build_dir / LEGACY_SHIM_MODULE),
            Module(LEGACY_WASM_MODULE, build_dir / LEGACY_WASM_MODULE, "wasm"),
        )
    for module in modules:
        if not module.path.is_file():
            raise WorkerdError(
                f"{module.path} does not exist",
                f"is {build_dir} a worker-build output directory? run worker-build first",
            )
    return modules


def render(config: Config, config_dir: Path) -> str:
    """The config as Cap'n Proto text, for a file written into `config_dir`.

    `embed` paths are made relative to the config file (absolute ones would be looked up in
    workerd's import path). Durable Object namespaces get a unique key per worker and class.
    """

    def embed(path: Path) -> str:
        return "embed " + _string(os.path.relpath(path.resolve(), config_dir.resolve()))

    services: list[str] = []
    constants: list[str] = []
    for index, worker in enumerate(config.workers):
        const = f"worker{index}"
        services.append(f"(name = {_string(worker.name)}, worker = .{const})")
        modules = ", ".join(
            f"(name = {_string(m.name)}, {m.kind} = {embed(m.path)})" for m in worker.modules
        )
        bindings = ", ".join(f"(name = {_string(b.name)}, {b.render()})" for b in worker.bindings)
        flags = ", ".join(_string(f) for f in worker.compatibility_flags)
        namespaces = ", ".join(
            f"(className = {_string(cls)}, uniqueKey = {_string(f'{worker.name}-{cls}')}"
            + (", enableSql = true)" if cls in worker.sqlite_classes else ")")
            for cls in worker.durable_object_classes
        )
        storage = ""
        if worker.durable_object_classes:
            if isinstance(worker.storage, OnDisk):
                disk = f"{worker.name}-do-storage"
                services.append(
                    f"(name = {_string(disk)}, disk = (path = "
                    f"{_string(str(worker.storage.path.resolve()))}, writable = true))"
                )
                storage = f"durableObjectStorage = (localDisk = {_string(disk)}),"
            else:
                storage = "durableObjectStorage = (inMemory = void),"
        constants.append(
            f"""const {const} :Workerd.Worker = (
  modules = [{modules}],
  compatibilityDate = {_string(worker.compatibility_date)},
  compatibilityFlags = [{flags}],
  bindings = [{bindings}],
  durableObjectNamespaces = [{namespaces}],
  {storage}
);
"""
        )
    sockets = ", ".join(
        f"(name = {_string(s.name)}, address = {_string(f'{LOOPBACK}:{s.port}')}, http = (), "
        f"service = {_designator(s.service, s.entrypoint)})"
        for s in config.sockets
    )
    return (
        'using Workerd = import "/workerd/workerd.capnp";\n\n'
        "const config :Workerd.Config = (\n"
        f"  services = [{', '.join(services)}],\n"
        f"  sockets = [{sockets}],\n"
        ");\n\n" + "\n".join(constants)
    )
