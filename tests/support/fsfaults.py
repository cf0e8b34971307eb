"""Filesystem faults for tests: a directory this process cannot write."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[str]:
    """Make `path` unwritable for this process, then writable again (so tmp_path can be
    cleaned). As root mode bits are ignored, so there it is `chattr +i` (ext4 here)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield "immutable"
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield "Permission denied"
        finally:
            path.chmod(mode)
