"""What the std cache holds, for `worker-build cache`: entries, their state, pruning.

Nothing here deletes what a build holds: an entry or a leftover goes only while its
key's lock is free (taken with no wait), so a build using it, or building it right
now, keeps it. Which entries to prune (age, state) is the CLI's choice.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker_build.errors import WorkerBuildError
from worker_build.rust.stdcache.store import (
    ENTRY_FILE,
    TMP_PREFIX,
    TRASH_PREFIX,
    USED_FILE,
    Entry,
    discard,
    lock_file,
    problem,
    root,
)
from worker_build.util import locking
from worker_build.util.cachedir import tree_size


@dataclass(frozen=True)
class Listed:
    """One entry directory as `worker-build cache` shows it."""

    key: str
    path: Path
    bytes: int
    problem: str | None  # None: complete
    spec: dict[str, Any]  # StdSpec.describe() as entry.json holds it; {} when unreadable
    created: str
    last_used: float | None  # seconds since the epoch


def entries() -> list[Listed]:
    """Every entry directory, complete or broken, by key."""
    out: list[Listed] = []
    if not root().is_dir():
        return out
    for path in sorted(root().iterdir()):
        if not path.is_dir() or path.name.startswith(".") or path.name == "locks":
            continue
        found = Entry(path.name, path)
        try:
            data = json.loads((path / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        try:
            used: float | None = (path / USED_FILE).stat().st_mtime
        except OSError:
            used = None
        out.append(
            Listed(
                key=path.name,
                path=path,
                bytes=tree_size(path),
                problem=problem(found),
                spec=data.get("spec", {}) if isinstance(data, dict) else {},
                created=str(data.get("created", "")) if isinstance(data, dict) else "",
                last_used=used,
            )
        )
    return out


def remove(found: Listed) -> bool:
    """Delete one entry unless a build holds its lock right now; True when deleted."""
    try:
        with locking.exclusive(lock_file(found.key), 0, held_by="in use", fix=""):
            discard(found.path, found.key)
            return True
    except WorkerBuildError:
        return False


def leftovers() -> list[Path]:
    """Staging and trash directories (`.tmp-<key>-*`, `.trash-<key>-*`), live or not."""
    if not root().is_dir():
        return []
    return sorted(p for p in root().iterdir() if p.name.startswith((TMP_PREFIX, TRASH_PREFIX)))


def remove_leftover(path: Path) -> bool:
    """Delete one of `leftovers()` unless a build of its key holds the lock right now
    (then it may be that build's staging directory); True when deleted."""
    key = path.name.split("-", 2)[1] if path.name.count("-") >= 2 else ""
    try:
        with locking.exclusive(lock_file(key), 0, held_by="in use", fix=""):
            shutil.rmtree(path, ignore_errors=True)
            return True
    except WorkerBuildError:
        return False
