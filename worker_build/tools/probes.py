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

A tool in worker-build's own cache is more than its executable (binaryen's `lib/`,
npm's `node_modules/` of esbuild's platform package): its probe is also keyed on the
stat of every file in its cache entry (`tree=`), so a damaged entry is probed again,
found broken and repaired (resolve.py). `fresh=True` always runs the tool (doctor:
"ok" means it ran just now) and updates or drops the cached answer.
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


def tree_identity(root: Path) -> list[int | str]:
    """A digest of the stat identity of every file under `root` (names, sizes, inodes,
    times) and the newest time among them: any file added, removed or rewritten in a
    cache entry changes it. A few dozen stats for the largest entry (binaryen's)."""
    import hashlib

    h = hashlib.sha256()
    newest = 0
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            rel = os.path.relpath(full, root)
            fields = (rel, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            h.update("\0".join(map(str, fields)).encode() + b"\n")
            newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    return [h.hexdigest(), newest]


def version_output(path: Path, *, tree: Path | None = None, fresh: bool = False) -> str:
    """stdout of `path --version`, from the cache when the executable (and the files
    under `tree`, if given) are unchanged. Failures raise exactly as `proc.run` does."""
    return output(path, "--version", tree=tree, fresh=fresh)


def output(path: Path, *args: str, tree: Path | None = None, fresh: bool = False) -> str:
    """stdout of `path ARGS...`, cached like `version_output`. Only for answers that
    depend on nothing but the executable (`--version`, `rustc -vV`, `rustc --print
    sysroot`); never for a proxy (rustup's `rustc`) whose answer depends on its
    environment."""
    real = os.path.realpath(path)
    stat_id = identity(Path(real))
    if stat_id is None:
        return proc.run([path, *args]).stdout  # raises ToolMissingError
    ident: list[int | str] = list(stat_id)
    newest = max(stat_id[3], stat_id[4])
    if tree is not None:
        digest, tree_newest = tree_identity(tree)
        ident.append(digest)
        newest = max(newest, int(tree_newest))
    key = real if args == ("--version",) else "\0".join([real, *args])
    file = cache_file()
    entries = _load(file)
    hit = entries.get(key)
    if (
        not fresh
        and isinstance(hit, dict)
        and hit.get("id") == ident
        and isinstance(hit.get("stdout"), str)
    ):
        return str(hit["stdout"])
    try:
        out = proc.run([path, *args]).stdout
    except BaseException:
        if fresh and key in entries:  # a stale "it runs" must not outlive this answer
            del entries[key]
            _save(file, entries)
        raise
    now = time.time_ns()
    if now - newest > RACY_SECONDS * 1e9:
        entries[key] = {"id": ident, "stdout": out, "at": now}
        _save(file, entries)
    return out
