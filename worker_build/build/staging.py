"""Staging, the build lock and the final replace of the output directory.

A build writes everything into a staging directory beside the output (same
filesystem, so the final rename is cheap and cannot be half-done by a copy).
Only when every step succeeded does the staged tree replace the output; a
failed or interrupted build leaves the previous output exactly as it was.
Anything written into the output after it was installed (the build's report) is
staged too and renamed into place (`install_file`).

A directory that cannot be written is found in pre-flight (`check_writable`),
before any slow step; should one still refuse later, the error names it
(`NotWritableError`, exit 9), never an internal error.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from worker_build.errors import NotWritableError
from worker_build.util import locking
from worker_build.util.cachedir import cache_root

STAGING_PREFIX = ".worker-build-staging-"


def _not_writable(path: Path, exc: OSError, doing: str = "write") -> NotWritableError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "free some disk space (or raise the quota) and build again"
    else:
        fix = (
            "make it writable (check its permissions and attributes: `ls -ld`, `lsattr -d`) "
            "or choose another --out-dir"
        )
    return NotWritableError(f"cannot {doing} {path}: {reason}", fix)


@contextlib.contextmanager
def writing(path: Path, doing: str = "write") -> Iterator[None]:
    """Turn an OSError of a write under `path` into a NotWritableError naming it."""
    try:
        yield
    except FileNotFoundError:
        raise  # something we wrote went missing: not a permission problem
    except OSError as exc:
        raise _not_writable(Path(exc.filename) if exc.filename else path, exc, doing) from exc


def check_writable(out_dir: Path) -> None:
    """Pre-flight: the output directory (when it exists) and the directory the staging
    goes into (the nearest existing one on the way) can be written. The rename of
    build/ needs write access to both; `access` also sees `chattr +i` (for root too)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotWritableError(
            f"the output {out_dir} is a file, not a directory", "choose another --out-dir"
        )
    existing = out_dir
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing != out_dir and not existing.is_dir():
        raise NotWritableError(
            f"cannot create {out_dir}: {existing} is not a directory", "choose another --out-dir"
        )
    places = [out_dir, out_dir.parent] if existing == out_dir else [existing]
    for place in places:
        if place.exists() and not os.access(place, os.W_OK | os.X_OK):
            error = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(place))
            if _immutable(place):
                error = PermissionError(errno.EPERM, "it is immutable (chattr +i)", str(place))
            raise _not_writable(place, error)


def _immutable(path: Path) -> bool:
    """Whether `path` carries the immutable attribute (Linux; False where unknown)."""
    flags = getattr(os.stat(path), "st_flags", None)  # BSD/macOS
    if flags is not None:
        return bool(flags & 0x00000002)  # UF_IMMUTABLE
    try:
        import array

        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return False
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, 0x80086601, buf)  # FS_IOC_GETFLAGS
        return bool(buf[0] & 0x00000010)  # FS_IMMUTABLE_FL
    except OSError:
        return False
    finally:
        os.close(fd)


def lock_path(out_dir: Path) -> Path:
    # The lock lives in our cache, keyed by the output path, so nothing is
    # written next to the user's files and build/ can be swapped freely.
    digest = hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:24]
    return cache_root() / "locks" / f"{digest}.lock"


def build_lock(
    out_dir: Path, timeout: float, on_wait: Callable[[], None] | None = None
) -> contextlib.AbstractContextManager[None]:
    """Serialise builds writing the same output (locking.exclusive: flock, released by
    the kernel when the holder dies, so a crashed build never leaves a stale lock)."""
    return locking.exclusive(
        lock_path(out_dir),
        timeout,
        held_by=f"another worker-build is still writing {out_dir}",
        fix="wait for it to finish, or raise --lock-timeout",
        on_wait=on_wait,
        what="the build lock",
    )


def make_staging(out_dir: Path) -> Path:
    parent = out_dir.parent
    with writing(parent, "create a staging directory in"):
        parent.mkdir(parents=True, exist_ok=True)
        # Leftovers of interrupted builds (we hold the lock, so none is live).
        for stale in parent.glob(f"{STAGING_PREFIX}{out_dir.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-", dir=parent))


def install_file(staging: Path, out_dir: Path, name: str, text: str) -> Path:
    """Write `text` as `out_dir/name` the staged way: into the staging directory (same
    filesystem), then renamed over the old file, so a reader never sees half of it."""
    staged = staging / f"{name}.staged"
    staged.write_text(text, encoding="utf-8")
    target = out_dir / name
    with writing(out_dir, f"install {name} into"):
        os.replace(staged, target)
    return target


def replace_dir(new: Path, target: Path) -> None:
    """Put `new` at `target`; the old tree is moved aside first and restored if
    the final rename fails, so `target` is never left missing or mixed."""
    with writing(target, "replace"):
        if not target.exists():
            os.replace(new, target)
            return
        aside = target.with_name(f"{STAGING_PREFIX}{target.name}-old-{os.getpid()}")
        os.replace(target, aside)
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(aside, target)
            raise
    shutil.rmtree(aside, ignore_errors=True)
