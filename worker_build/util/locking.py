"""File locks (one exclusive with a timeout, one shared), for everything worker-build serialises.

flock is released by the kernel when the holder dies, so a crashed build never
leaves a stale lock behind, and nothing needs cleaning up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from worker_build.errors import LockedError, NotWritableError

POLL_SECONDS = 0.1


def _open(path: Path, what: str) -> IO[str]:
    """The lock file, created with its directory. A FileNotFoundError (a directory removed
    under us) is left to the caller; any other failure is a NotWritableError naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.open("a+")
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise NotWritableError(
            f"cannot create {what} {path}: {exc.strerror or exc}",
            "make the cache directory writable, or set WORKER_BUILD_CACHE to one that is",
        ) from exc


@contextlib.contextmanager
def exclusive(
    path: Path,
    timeout: float,
    *,
    held_by: str,
    fix: str,
    on_wait: Callable[[], None] | None = None,
    what: str = "the lock",
) -> Iterator[None]:
    """Hold `path` locked. `on_wait` runs once if another process holds it; after
    `timeout` seconds a LockedError says `held_by` (what the other process does). A lock
    file that cannot be created is a NotWritableError naming it."""
    with _open(path, what) as fh:
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise LockedError(f"{held_by} after {timeout:.0f}s", fix) from None
                if not announced and on_wait is not None:
                    on_wait()
                    announced = True
                time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def shared(path: Path, *, what: str = "the lock") -> Iterator[None]:
    """Hold `path` locked shared: any number of holders at once, while an `exclusive`
    holder (with timeout 0: "is anyone using it?") waits for none of them. The compile
    cache's builds hold it on what they use, and pruning takes it exclusive, so nothing
    a build uses is deleted under it. Blocks only while an exclusive holder has it."""
    with _open(path, what) as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
