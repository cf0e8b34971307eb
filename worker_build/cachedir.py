"""Where worker-build keeps what outlives a build: tools, locks, probe answers.

Its own module so that everything needing the directory (tools, the probe cache,
output locks) can import it without importing each other. `cache_root_str` gives
the same place without importing pathlib, for `verify`'s start-up.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path


def cache_root_str() -> str:
    """`$WORKER_BUILD_CACHE`, else `$XDG_CACHE_HOME/worker-build`, else
    `~/.cache/worker-build`."""
    override = os.environ.get("WORKER_BUILD_CACHE")
    if override:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "worker-build")


def cache_root() -> Path:
    """cache_root_str() as a Path."""
    from pathlib import Path

    return Path(cache_root_str())
