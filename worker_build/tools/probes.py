"""Cache of `TOOL --version` output, so resolving tools costs no subprocess (issue 7).

Resolving wasm-opt runs `wasm-opt --version`, a Node script (about 0.1-0.4 s on
this machine); esbuild and wasm-bindgen are quicker but still a process each.
The answer only changes when the executable changes, so it is kept in
`<cache_root>/probes.json`, keyed on the executable's real path (symlinks
resolved) and its identity: device, inode, size, mtime and ctime in
nanoseconds. Replacing, rewriting, `touch`ing or `chmod`ing the file changes
that identity and the next probe runs the tool again.

A file modified less than `RACY_SECONDS` ago is never cached: a rewrite within
the same filesystem timestamp tick could keep every stat field equal (git's
"racily clean" problem). Failed probes are not cached. The cache is an
optimisation only: an unreadable or corrupt file is ignored and rewritten.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from worker_build.util import jsonmemo, proc
from worker_build.util.cachedir import cache_root

CACHE_NAME = "probes.json"
SCHEMA = 1
RACY_SECONDS = 2.0
MAX_ENTRIES = 256  # oldest entries are dropped beyond this


def cache_file() -> Path:
    return cache_root() / CACHE_NAME


def identity(path: Path) -> list[int] | None:
    """Stat identity of the file `path` resolves to, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _load(file: Path) -> dict[str, Any]:
    return jsonmemo.load_entries(file, SCHEMA)


def _save(file: Path, entries: dict[str, Any]) -> None:
    jsonmemo.save_entries(file, entries, schema=SCHEMA, limit=MAX_ENTRIES)


def version_output(path: Path) -> str:
    """stdout of `path --version`, from the cache when the executable is unchanged.
    Failures raise exactly as `proc.run` does."""
    return output(path, "--version")


def output(path: Path, *args: str) -> str:
    """stdout of `path ARGS...`, cached like `version_output`. Only for answers that
    depend on nothing but the executable (`--version`, `rustc -vV`, `rustc --print
    sysroot`); never for a proxy (rustup's `rustc`) whose answer depends on its
    environment."""
    real = os.path.realpath(path)
    ident = identity(Path(real))
    if ident is None:
        return proc.run([path, *args]).stdout  # raises ToolMissingError
    key = real if args == ("--version",) else "\0".join([real, *args])
    file = cache_file()
    entries = _load(file)
    hit = entries.get(key)
    if isinstance(hit, dict) and hit.get("id") == ident and isinstance(hit.get("stdout"), str):
        return str(hit["stdout"])
    out = proc.run([path, *args]).stdout
    newest = max(ident[3], ident[4])
    now = time.time_ns()
    if now - newest > RACY_SECONDS * 1e9:
        entries[key] = {"id": ident, "stdout": out, "at": now}
        _save(file, entries)
    return out
