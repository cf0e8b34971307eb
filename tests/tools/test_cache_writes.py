"""Failures writing the tool cache (tools/cache_writes.py): one line, the fix for its cause."""

from __future__ import annotations

import errno
from pathlib import Path

from worker_build.errors import EXIT_TOOL_MISSING
from worker_build.tools.cache_writes import local_error


def test_a_full_disk_says_to_free_space() -> None:
    exc = OSError(errno.ENOSPC, "No space left on device")
    error = local_error(exc, "save the download of esbuild to", Path("/c/esbuild.part"))
    assert error.exit_code == EXIT_TOOL_MISSING
    assert error.one_line() == (
        "cannot save the download of esbuild to /c/esbuild.part: No space left on device "
        "(free disk space or point WORKER_BUILD_CACHE at a larger disk)"
    )


def test_a_refused_write_says_to_fix_the_cache_directory() -> None:
    error = local_error(PermissionError(errno.EACCES, "Permission denied"), "write", Path("/c"))
    assert error.fix == "make the cache directory writable or set WORKER_BUILD_CACHE"
