"""The std cache on disk: where entries live, how one is checked, and getting one.

Layout, under `<cache>/std/` (`root()`):

    <key>/entry.json      what the entry holds (its spec) and every file with its size;
                          written last, so an entry without it is incomplete
    <key>/sysroot/lib/rustlib/wasm32-unknown-unknown/lib/*.rlib   the std crates
    <key>/sysroot/lib/rustlib/<host>   symlink to the compiler's own host libraries
    <key>/bin/rustc       the compiler with `--sysroot <key>/sysroot` (cargo's RUSTC)
    <key>/last-used       touched by every build that uses the entry (for pruning)
    .tmp-<key>-*/         an entry being built; renamed to <key> when complete
    .trash-<key>-*/       an entry moved aside to be deleted
    locks/<key>.lock      held while an entry is checked, built or pruned
    settings.json         cargo's answers, see query.py

`ensure` returns the entry of a spec, building it (seed.py does the work) when it is
missing or broken. Builds of the same key wait for each other on the key's lock; a
complete entry appears in one rename. An entry that fails its check (entry.json
missing or unreadable, a file missing, of another size or not an rlib, the host link
pointing elsewhere) is moved aside and built again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from worker_build import __version__
from worker_build.errors import NotWritableError, WorkerBuildError
from worker_build.rust.stdcache.spec import StdSpec
from worker_build.rust.toolchain import WASM_TARGET, Toolchain
from worker_build.util import locking
from worker_build.util.cachedir import cache_root, regular_files

ENTRY_SCHEMA = 1  # of entry.json
ENTRY_FILE = "entry.json"
USED_FILE = "last-used"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
RLIB_MAGIC = b"!<arch>\n"


class StdCacheError(NotWritableError):
    """The std cache could not be written (a full disk, no permission): exit 9."""


def root() -> Path:
    return cache_root() / "std"


def lock_file(key: str) -> Path:
    """The lock a build of `key` holds, and so does pruning it."""
    return root() / "locks" / f"{key}.lock"


class StdMode(Enum):
    """Where the build's wasm32 std comes from."""

    PRECOMPILED = "precompiled"  # the toolchain's own (rustup's wasm32 target)
    CACHE = "cache"  # an entry of this cache, through its rustc wrapper
    BUILD_STD = "build-std"  # compiled in the crate's target directory (-Zbuild-std)


@dataclass(frozen=True)
class Entry:
    """One entry of the cache, complete or being staged: its key and directory."""

    key: str
    path: Path

    @property
    def sysroot(self) -> Path:
        return self.path / "sysroot"

    @property
    def rustc(self) -> Path:
        return self.path / "bin" / "rustc"

    @property
    def libdir(self) -> Path:
        return self.sysroot / "lib" / "rustlib" / WASM_TARGET / "lib"


@dataclass(frozen=True)
class StdUse:
    """What the std step decided for the build's cargo step."""

    mode: StdMode
    entry: Entry | None = None  # for StdMode.CACHE


def entry(key: str) -> Entry:
    return Entry(key, root() / key)


def host_of(toolchain: Toolchain) -> str:
    """The toolchain's host triple, whose libraries an entry links (proc-macros)."""
    for line in toolchain.verbose_version.splitlines():
        if line.startswith("host:"):
            return line.split(":", 1)[1].strip()
    raise WorkerBuildError(f"`{toolchain.rustc} -vV` names no host")


# --- checking an entry -------------------------------------------------------------------------


def problem(found: Entry, toolchain: Toolchain | None = None) -> str | None:
    """Why `found` cannot be used as it is, or None when it is complete."""
    try:
        data = json.loads((found.path / ENTRY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "incomplete (no entry.json)"
    except (OSError, ValueError) as exc:
        return f"unreadable entry.json ({exc})"
    if (
        not isinstance(data, dict)
        or data.get("schema") != ENTRY_SCHEMA
        or data.get("key") != found.key
    ):
        return "entry.json is for another key or format"
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return "entry.json lists no files"
    for rel, size in files.items():
        path = found.path / rel
        try:
            if path.stat().st_size != size:
                return f"{rel} has {path.stat().st_size} bytes, not {size}"
            if rel.endswith(".rlib"):
                with path.open("rb") as fh:
                    if fh.read(len(RLIB_MAGIC)) != RLIB_MAGIC:
                        return f"{rel} is not an rlib"
        except OSError:
            return f"{rel} is missing"
    if toolchain is not None:
        link = found.sysroot / "lib" / "rustlib" / host_of(toolchain)
        want = toolchain.sysroot / "lib" / "rustlib" / host_of(toolchain)
        if not link.is_symlink() or os.readlink(link) != str(want):
            return f"its host libraries link does not point at {want}"
    return None


# --- getting an entry --------------------------------------------------------------------------


def ensure(
    spec: StdSpec,
    build: Callable[[Path], dict[str, Any]],
    *,
    timeout: float,
    on_wait: Callable[[], None] | None = None,
    toolchain: Toolchain | None = None,
) -> tuple[Entry, bool]:
    """The entry for `spec`, built with `build(staging_dir)` when missing or broken.
    Returns (entry, whether this call built it). `build` fills the staging directory
    and returns extra facts for entry.json; the directory becomes the entry in one
    rename, with entry.json written last."""
    found = entry(spec.key)
    if problem(found, toolchain) is None:
        touch(found)
        return found, False
    with locking.exclusive(
        lock_file(spec.key),
        timeout,
        held_by=f"another worker-build is still building the std cache entry {spec.key}",
        fix="wait for it to finish, or raise --lock-timeout",
        on_wait=on_wait,
        what="the lock of the std cache entry",
    ):
        why = problem(found, toolchain)
        if why is None:  # built by the build we waited for
            touch(found)
            return found, False
        _remove_leftovers(spec.key)
        staging = _new_staging(spec.key)
        try:
            start = time.monotonic()
            facts = build(staging)
            _write_entry(staging, spec, facts, time.monotonic() - start)
            if found.path.exists() or found.path.is_symlink():
                discard(found.path, spec.key)
            os.replace(staging, found.path)
        except OSError as exc:
            raise _disk_error(exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        touch(found)
        return found, True


def _new_staging(key: str) -> Path:
    try:
        root().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=root()))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # as any other directory of the cache, not mkdtemp's 0700
        return staging
    except OSError as exc:
        raise _disk_error(exc) from exc


def _remove_leftovers(key: str) -> None:
    """Staging directories of builds of `key` that were killed (we hold its lock, so
    none of them is live) and entries moved aside."""
    for stale in [*root().glob(f"{TMP_PREFIX}{key}-*"), *root().glob(f"{TRASH_PREFIX}{key}-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def discard(path: Path, key: str) -> None:
    """Delete an entry directory of `key` (the caller holds the key's lock): renamed
    aside first, so no build ever sees it half deleted."""
    aside = root() / f"{TRASH_PREFIX}{key}-{os.getpid()}"
    os.replace(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _disk_error(exc: OSError) -> WorkerBuildError:
    where = root()
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StdCacheError(
            f"no space left on the device holding the std cache ({where})",
            "free some space or run `worker-build cache prune`; --no-std-cache builds std "
            "in the target directory instead",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StdCacheError(
            f"cannot write the std cache in {where} ({exc.strerror})",
            "set WORKER_BUILD_CACHE to a writable directory, or build with --no-std-cache",
        )
    return StdCacheError(
        f"cannot write the std cache in {where}: {exc.strerror or exc}",
        "check the directory, or build with --no-std-cache",
    )


def touch(found: Entry) -> None:
    # a read-only cache still serves builds; only pruning by age loses track
    with contextlib.suppress(OSError):
        (found.path / USED_FILE).touch()


def _write_entry(staging: Path, spec: StdSpec, facts: Mapping[str, Any], seconds: float) -> None:
    files = {p.relative_to(staging).as_posix(): p.stat().st_size for p in regular_files(staging)}
    doc = {
        "schema": ENTRY_SCHEMA,
        "key": spec.key,
        "spec": spec.describe(),
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(seconds, 1),
        "worker_build_version": __version__,
        **facts,
    }
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    tmp = staging / f"{ENTRY_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, staging / ENTRY_FILE)
