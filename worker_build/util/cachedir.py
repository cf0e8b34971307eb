"""Where worker-build keeps what outlives a build: tools, locks, probe answers.

Its own module so that everything needing the directory (tools, the probe cache,
output locks) can import it without importing each other.
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
