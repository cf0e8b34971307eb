"""Failures of the local side of fetching a tool: writing into the tool cache.

A download, an archive being unpacked and a prebuilt entry being put in place all
write under the cache directory; a full disk or a read-only cache is the user's to
fix, and is said the same way (exit 5, as the tool is then missing) wherever it
happens.
"""

from __future__ import annotations

import errno
from pathlib import Path

from worker_build.errors import ToolMissingError


def local_error(exc: OSError, doing: str, path: Path) -> ToolMissingError:
    """A local failure (ENOSPC, EACCES) while `doing` something to `path`, as one line."""
    fix = (
        "free disk space or point WORKER_BUILD_CACHE at a larger disk"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "make the cache directory writable or set WORKER_BUILD_CACHE"
    )
    return ToolMissingError(f"cannot {doing} {path}: {exc.strerror or exc}", fix)
