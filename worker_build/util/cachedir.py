"""Where worker-build keeps what outlives a build (tools, locks, probe answers, the std
cache), and how much of the disk a directory of it holds.

Its own module so that everything needing the directory (tools, the probe cache,
output locks, the std cache, `worker-build cache`) can import it without importing
each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """`$WORKER_BUILD_CACHE`, else `$XDG_CACHE_HOME/worker-build`, else
    `~/.cache/worker-build`."""
    override = os.environ.get("WORKER_BUILD_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "worker-build"


def regular_files(top: Path) -> list[Path]:
    """Regular files under `top`, sorted, not following symlinks (a std cache entry
    links to the compiler's host libraries, which it does not own)."""
    found: list[Path] = []
    for directory, _, names in os.walk(top):
        found += [Path(directory) / n for n in names if not (Path(directory) / n).is_symlink()]
    return sorted(found)


def tree_size(top: Path) -> int:
    """Bytes of the regular files under `top` (symlinks not followed)."""
    return sum(p.stat().st_size for p in regular_files(top))
