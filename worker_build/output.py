"""Staging, the build lock and the final replace of the output directory.

A build writes everything into a staging directory beside the output (same
filesystem, so the final rename is cheap and cannot be half-done by a copy).
Only when every step succeeded does the staged tree replace the output; a
failed or interrupted build leaves the previous output exactly as it was.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from worker_build.cachedir import cache_root
from worker_build.errors import LockedError

STAGING_PREFIX = ".worker-build-staging-"
# The JSON report of the last build, written into the output directory.
REPORT_NAME = "worker-build.json"


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def measure(out_dir: Path) -> dict[str, int]:
    """Raw and gzip sizes of the two files a Worker uploads."""
    wasm, js = out_dir / "index_bg.wasm", out_dir / "index.js"
    return {
        "wasm_bytes": wasm.stat().st_size,
        "wasm_gzip_bytes": gzip_size(wasm),
        "js_bytes": js.stat().st_size,
        "js_gzip_bytes": gzip_size(js),
    }


def lock_path(out_dir: Path) -> Path:
    # The lock lives in our cache, keyed by the output path, so nothing is
    # written next to the user's files and build/ can be swapped freely.
    digest = hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:24]
    return cache_root() / "locks" / f"{digest}.lock"


@contextlib.contextmanager
def build_lock(
    out_dir: Path, timeout: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """Serialise builds writing the same output. flock is released by the kernel
    when the holder dies, so a crashed build never leaves a stale lock."""
    path = lock_path(out_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
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
                    raise LockedError(
                        f"another worker-build is still writing {out_dir} after {timeout:.0f}s",
                        "wait for it to finish, or raise --lock-timeout",
                    ) from None
                if not announced and on_wait is not None:
                    on_wait()
                    announced = True
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def make_staging(out_dir: Path) -> Path:
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    # Leftovers of interrupted builds (we hold the lock, so none is live).
    for stale in parent.glob(f"{STAGING_PREFIX}{out_dir.name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{out_dir.name}-", dir=parent))


def replace_dir(new: Path, target: Path) -> None:
    """Put `new` at `target`; the old tree is moved aside first and restored if
    the final rename fails, so `target` is never left missing or mixed."""
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
