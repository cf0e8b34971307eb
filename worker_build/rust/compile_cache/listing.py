"""What the compile cache holds, for `worker-build cache`: listing and pruning it.

Under `<cache>/compile/`: the shared build directory (one directory, used whole: it is
removed whole, when no build used it for the given age, or with `--all`), sccache's
local disk storage (its files carry their last use as their mtime, sccache's own LRU
order, so old ones can go one by one), and the sockets of this cache directory's
sccache servers. Nothing a build holds right now is removed: the build directory goes
only while its lock is free, the storage only while no build holds the sccache lock,
and its servers are stopped first (sccache keeps the storage's size in memory; the next
build starts a server again).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from worker_build.errors import LockedError
from worker_build.rust.compile_cache import builddir
from worker_build.rust.compile_cache import server as server_mod
from worker_build.rust.compile_cache.server import compile_root
from worker_build.rust.compile_cache.use import SCCACHE_LOCK
from worker_build.util import locking
from worker_build.util.cachedir import regular_files, tree_size


@dataclass(frozen=True)
class Listing:
    root: Path  # <cache>/compile
    build_dir: Path
    build_dir_bytes: int
    build_dir_used: float | None  # seconds since the epoch
    sccache_dir: Path  # the local storage our servers use unless SCCACHE_DIR is set
    sccache_bytes: int
    sccache_files: int
    servers: list[tuple[Path, bool]]  # socket, running

    @property
    def total(self) -> int:
        return self.build_dir_bytes + self.sccache_bytes


def sccache_dir(cache: Path) -> Path:
    return compile_root(cache) / "sccache"


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def listing(cache: Path) -> Listing:
    cache = cache.absolute()
    storage = sccache_dir(cache)
    files = regular_files(storage) if storage.is_dir() else []
    return Listing(
        root=compile_root(cache),
        build_dir=builddir.location(cache),
        build_dir_bytes=tree_size(builddir.location(cache)),
        build_dir_used=_mtime(builddir.used_file(cache)),
        sccache_dir=storage,
        sccache_bytes=sum(p.stat().st_size for p in files),
        sccache_files=len(files),
        servers=[(s, server_mod.alive(s)) for s in server_mod.sockets(cache)],
    )


@contextlib.contextmanager
def _unused(lock: Path) -> Iterator[bool]:
    """Hold `lock` exclusively if no build holds it now; yields whether we do."""
    try:
        with locking.exclusive(lock, 0, held_by="in use", fix=""):
            yield True
    except LockedError:
        yield False


@dataclass
class Pruned:
    removed: list[tuple[str, int, str]] = field(default_factory=list)  # what, bytes, why
    busy: list[str] = field(default_factory=list)
    stopped: int = 0  # sccache servers of this cache directory


def prune(
    cache: Path, older_than: float | None, remove_all: bool, dry_run: bool, exe: Path | None
) -> Pruned:
    """Remove the build directory (`remove_all`, or unused for `older_than` days) and
    sccache's local files (all, or those unused for `older_than` days); `exe` (an
    sccache) stops this cache's servers first. `dry_run`: only say what would go."""
    out = Pruned()
    now = time.time()
    cutoff = None if older_than is None else now - older_than * 86400
    info = listing(cache)
    if info.build_dir.is_dir():
        used = info.build_dir_used
        old = cutoff is not None and (used is None or used < cutoff)
        if remove_all or old:
            why = "all" if remove_all else "never used" if used is None else "unused"
            with _unused(builddir.lock_file(cache)) as free:
                if not free:
                    out.busy.append(str(info.build_dir))
                else:
                    out.removed.append((str(info.build_dir), info.build_dir_bytes, why))
                    if not dry_run:
                        _remove_build_dir(cache)
    with _unused(compile_root(cache) / SCCACHE_LOCK) as free:
        if not free:
            if info.sccache_files:
                out.busy.append(str(info.sccache_dir))
        else:
            _prune_storage(info, None if remove_all else cutoff, dry_run, exe, out)
    for socket, running in info.servers:
        if not running and not dry_run:
            with contextlib.suppress(OSError):
                socket.unlink()  # left by a server that died
    return out


def _remove_build_dir(cache: Path) -> None:
    aside = compile_root(cache) / f".trash-build-dir-{os.getpid()}"
    os.replace(builddir.location(cache), aside)  # never seen half deleted
    for name in (builddir.ROOTS_FILE, builddir.USED_FILE):
        with contextlib.suppress(OSError):
            (compile_root(cache) / name).unlink()
    shutil.rmtree(aside, ignore_errors=True)


def _prune_storage(
    info: Listing, cutoff: float | None, dry_run: bool, exe: Path | None, out: Pruned
) -> None:
    """sccache's local files: every one (cutoff None) or those unused since `cutoff`;
    this cache's servers are stopped first (and with every file going, also when there
    are none). The caller holds the sccache lock."""
    files = regular_files(info.sccache_dir) if info.sccache_files else []
    stale = files if cutoff is None else [p for p in files if (_mtime(p) or 0) < cutoff]
    if stale:
        size = sum(p.stat().st_size for p in stale)
        what = f"{info.sccache_dir} ({len(stale)} of {len(files)} files)"
        out.removed.append((what, size, "all" if cutoff is None else "unused"))
    if dry_run or not (stale or cutoff is None):
        return
    if exe is not None:  # without an sccache to ask, a running server stops when idle
        for socket, running in info.servers:
            if running and server_mod.stop(exe, socket):
                out.stopped += 1
    if cutoff is None:
        shutil.rmtree(info.sccache_dir, ignore_errors=True)
        return
    for path in stale:
        with contextlib.suppress(OSError):
            path.unlink()
