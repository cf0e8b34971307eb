"""Incremental output: skip everything after `cargo build` when nothing it depends on changed.

`cargo build` always runs (cargo is the authority on whether the Rust side is
up to date, and its no-op is cheap). Everything after it (wasm-bindgen,
wasm-opt, bundle, python loader, verify, install) is a pure function of:

- the bytes of the cargo artifact (the `.wasm` cargo reported);
- the tools that ran: for each, its resolved path, version and file identity
  (device, inode, size, mtime, ctime of the real file), so an upgraded or
  re-pointed wasm-bindgen/wasm-opt/esbuild rebuilds;
- worker-build itself: its version, the bytes of every `.py` file of the
  package and every template (a changed shim, or a developer's edit to a
  step, rebuilds);
- the resolved options (every `BuildOptions` field except `lock_timeout`, `quiet` and
  `install_policy`, which cannot change the output) and the crate facts the
  steps read (package/lib name, locked wasm-bindgen and worker versions).

## The state file: `<out_dir>/.worker-build-state.json`

Written by `record()` into the *staged* output just before the install step,
so it is swapped into place atomically with the files it describes: a build
that fails or is interrupted leaves the previous output and its state
together. It holds

    {"schema": 1,
     "inputs":  {"worker_build": {...}, "options": {...}, "crate": {...},
                 "artifact": {"size": N, "sha256": "..."},
                 "tools": {"esbuild": {"path", "real", "version", "source", "id"}, ...}},
     "outputs": {"index.js": {"size": N, "sha256": "..."}, ...},   # every file but itself
     "facts": {...}, "notes": [...]}   # what the skipped steps reported, for the summary

`up_to_date()` (run right after `cargo build`, under the build lock) compares
the current inputs with `inputs`, then checks that the output directory holds
exactly the files of `outputs` with the same bytes (a deleted, added or edited
file in build/ rebuilds). Content is always hashed (sha256: a few ms per MB
here); no mtime shortcut, so a same-size rewrite within one timestamp tick is
still seen. Any mismatch, an unreadable state file or another schema means a
full build; the reason goes to `facts["incremental"]["reason"]`.

Delete the state file (or build/) to force a full build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from worker_build import __version__
from worker_build.build.context import BuildContext
from worker_build.build.report import REPORT_NAME
from worker_build.tools import probes, resolve
from worker_build.tools.tool import Source, Tool
from worker_build.util.resources import template_dir

STATE_NAME = ".worker-build-state.json"
SCHEMA = 1
# Options that cannot change what the build writes.
IGNORED_OPTIONS = frozenset({"lock_timeout", "install_policy", "quiet"})
_CHUNK = 1 << 20
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # worker_build/


def state_path(out_dir: Path) -> Path:
    return out_dir / STATE_NAME


# ---------------------------------------------------------------- fingerprints


def file_digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": h.hexdigest()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def options_fingerprint(ctx: BuildContext) -> dict[str, Any]:
    options = ctx.options
    return {
        f.name: _jsonable(getattr(options, f.name))
        for f in dataclasses.fields(options)
        if f.name not in IGNORED_OPTIONS
    }


def crate_fingerprint(ctx: BuildContext) -> dict[str, Any]:
    crate = ctx.need_crate()
    return {
        "package_name": crate.package_name,
        "lib_name": crate.lib_name,
        "wasm_bindgen_version": crate.wasm_bindgen_version,
        "worker_version": crate.worker_version,
    }


def self_fingerprint() -> dict[str, Any]:
    """worker-build's version plus the bytes of its own code and templates."""
    h = hashlib.sha256()
    roots = [("pkg", _PACKAGE_DIR, "*.py"), ("tpl", template_dir(), "*")]
    for label, root, pattern in roots:
        for path in sorted(p for p in root.rglob(pattern) if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            data = path.read_bytes()
            rel = path.relative_to(root).as_posix()
            h.update(f"{label}:{rel}:{len(data)}\0".encode())
            h.update(data)
    return {"version": __version__, "sources": h.hexdigest()}


_INTO_CACHE = frozenset({Source.DOWNLOADED, Source.INSTALLED})


def tool_fingerprint(tool: Tool) -> dict[str, Any]:
    real = os.path.realpath(tool.path)
    return {
        "path": str(tool.path),
        "real": real,
        "version": tool.version,
        # A tool downloaded or installed by the last build is found in the cache by
        # this one: the same file, so no reason to rebuild.
        "source": "cache" if tool.source in _INTO_CACHE else tool.source.value,
        "id": probes.identity(Path(real)),
    }


def _resolvers(ctx: BuildContext) -> dict[str, Callable[[], Tool]]:
    """How each tool is found, exactly as the steps find it."""
    options, crate = ctx.options, ctx.need_crate()
    policy = options.install_policy
    return {
        "wasm-bindgen": lambda: resolve.wasm_bindgen(crate.wasm_bindgen_version, policy),
        "wasm-opt": lambda: resolve.wasm_opt(options.crate_path, policy),
        "esbuild": lambda: resolve.esbuild(options.crate_path, policy),
    }


def output_files(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Digest of every file under out_dir (relative POSIX paths), except the state file
    and the JSON report, which describe the last run rather than the build's output."""
    found: dict[str, dict[str, Any]] = {}
    for dirpath, _dirs, files in os.walk(out_dir):
        for name in files:
            path = Path(dirpath) / name
            rel = path.relative_to(out_dir).as_posix()
            if rel not in (STATE_NAME, REPORT_NAME):
                found[rel] = file_digest(path)
    return found


# ---------------------------------------------------------------- state file


def load_state(out_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(out_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    if not all(isinstance(data.get(k), dict) for k in ("inputs", "outputs")):
        return None
    return data


def _first_difference(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            return key
    return None


def _why_not(ctx: BuildContext, state: dict[str, Any] | None) -> tuple[str | None, dict[str, Tool]]:
    """None when the output is up to date (plus the tools resolved), else the reason."""
    if state is None:
        return "no usable state file from a previous build", {}
    old = state["inputs"]
    cheap = {
        "worker_build": self_fingerprint(),
        "options": options_fingerprint(ctx),
        "crate": crate_fingerprint(ctx),
    }
    for part, current in cheap.items():
        recorded = old.get(part)
        if not isinstance(recorded, dict):
            return f"{part} not recorded", {}
        diff = _first_difference(recorded, current)
        if diff is not None:
            what = "worker-build or its templates" if part == "worker_build" else part
            return f"{what} changed ({diff})", {}
    if old.get("artifact") != file_digest(ctx.need_artifact()):
        return "cargo artifact changed", {}

    out_dir = ctx.options.out_dir
    if not out_dir.is_dir():
        return f"{out_dir} is missing", {}
    recorded_out = state["outputs"]
    current_out = output_files(out_dir)
    diff = _first_difference(recorded_out, current_out)
    if diff is not None:
        if diff not in current_out:
            return f"output file {diff} was deleted", {}
        if diff not in recorded_out:
            return f"output file {diff} was added", {}
        return f"output file {diff} was modified", {}

    recorded_tools = old.get("tools")
    if not isinstance(recorded_tools, dict):
        return "tools not recorded", {}
    resolvers = _resolvers(ctx)
    resolved: dict[str, Tool] = {}
    for name in sorted(recorded_tools):
        if name not in resolvers:
            return f"unknown tool {name} in the state file", {}
        tool = resolvers[name]()
        if tool_fingerprint(tool) != recorded_tools[name]:
            return f"tool {name} changed", {}
        resolved[name] = tool
    return None, resolved


def up_to_date(ctx: BuildContext) -> bool:
    """After `cargo build`: True when the output dir already holds exactly what
    the remaining steps would write. Then the summary facts, notes and tools of
    the build that wrote it are restored into `ctx`."""
    start = time.monotonic()
    state = load_state(ctx.options.out_dir)
    reason, resolved = _why_not(ctx, state)
    seconds = round(time.monotonic() - start, 4)
    if reason is not None or state is None:
        ctx.facts["incremental"] = {"up_to_date": False, "reason": reason, "seconds": seconds}
        return False
    ctx.tools.update(resolved)
    facts = state.get("facts")
    if isinstance(facts, dict):
        for key, value in facts.items():
            ctx.facts.setdefault(key, value)
    notes = state.get("notes")
    if isinstance(notes, list):
        ctx.notes.extend(n for n in notes if isinstance(n, str) and n not in ctx.notes)
    ctx.facts["incremental"] = {
        "up_to_date": True,
        "state": str(state_path(ctx.options.out_dir)),
        "seconds": seconds,
    }
    ctx.notes.append(
        f"{ctx.options.out_dir.name}/ is up to date (artifact, tools and options unchanged): "
        f"skipped the steps after cargo build; delete {STATE_NAME} there to force them"
    )
    return True


def record(ctx: BuildContext) -> None:
    """Before install: write the state file into the staged output, describing
    the inputs of this build and the files the install step will put in place, and what
    the steps after the checkpoint reported (the ones a no-op rebuild skips; those before
    it report afresh, so "std built once" is not repeated by a rebuild that built none)."""
    facts = {
        k: v for k, v in ctx.facts.items() if k != "incremental" and k not in ctx.checkpoint_facts
    }
    state = {
        "schema": SCHEMA,
        "inputs": {
            "worker_build": self_fingerprint(),
            "options": options_fingerprint(ctx),
            "crate": crate_fingerprint(ctx),
            "artifact": file_digest(ctx.need_artifact()),
            "tools": {name: tool_fingerprint(tool) for name, tool in sorted(ctx.tools.items())},
        },
        "outputs": output_files(ctx.out_dir),
        "facts": json.loads(json.dumps(facts, default=str)),
        "notes": ctx.notes[ctx.checkpoint_notes :],
    }
    state_path(ctx.out_dir).write_text(
        json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
