"""Write the `loader.py` of a Worker crate (templates/worker_loader.py.tmpl).

A crate whose wasm-bindgen glue exports a Worker handler (`fetch`, `scheduled`, ...; the
names the shim wires) is a Worker: its start function calls JavaScript APIs, so it cannot
run on wasmtime, and its loader serves the build in workerd instead (worker_build.serve).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from string import Template

from worker_build import __version__
from worker_build.util import resources

TEMPLATE = "worker_loader.py.tmpl"
# The glue exports the shim turns into handlers of the default export (templates/shim.js).
HANDLERS = ("fetch", "scheduled", "queue", "email", "connect")
# Glue exports that are machinery, not RPC methods (also templates/shim.js).
SYSTEM_EXPORTS = frozenset({"__worker_init_state", "onAbort"})


@dataclass(frozen=True)
class WorkerExports:
    handlers: tuple[str, ...]
    rpc_methods: tuple[str, ...]
    classes: tuple[str, ...]


def worker_exports(functions: list[str], classes: tuple[str, ...]) -> WorkerExports | None:
    """What the Worker exposes, or None when the crate exports no handler (not a Worker)."""
    handlers = tuple(h for h in HANDLERS if h in functions)
    if not handlers:
        return None
    rpc = tuple(
        f
        for f in functions
        if f not in HANDLERS and f not in SYSTEM_EXPORTS and not f.startswith("__w")
    )
    return WorkerExports(handlers, rpc, classes)


def _listing(names: tuple[str, ...]) -> str:
    return ", ".join(names) if names else "(none)"


def render_worker_loader(exports: WorkerExports, *, crate_dir: Path, out_dir: Path) -> str:
    """The loader text. The crate directory is stored relative to the output directory
    when they share a parent below the root, so the pair can move together (another
    checkout, a CI cache); otherwise as an absolute path."""
    crate, out = crate_dir.resolve(), out_dir.resolve()
    shared = Path(os.path.commonpath([crate, out]))
    stored = Path(os.path.relpath(crate, out)) if shared != Path(shared.anchor) else crate
    return Template(resources.template(TEMPLATE).read_text()).substitute(
        version=__version__,
        handlers=_listing(exports.handlers),
        rpc=_listing(exports.rpc_methods),
        classes=_listing(exports.classes),
        crate_dir=repr(stored.as_posix()),
        handlers_tuple=repr(exports.handlers),
        rpc_tuple=repr(exports.rpc_methods),
        classes_tuple=repr(exports.classes),
    )
