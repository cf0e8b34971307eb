"""A bounded JSON memo file: answers worth keeping between builds, none of them vital.

The file is `{"schema": N, "entries": {key: {..., "at": ns}}}`. Readers get nothing
from a file that is missing, unreadable, corrupt or of another schema; writers keep
the newest entries and replace the file atomically. Losing an entry only costs
asking again, so no write error reaches the build. The probe cache
(tools/probes.py) and the std cache's settings memo (rust/stdcache/query.py) use it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def load_entries(file: Path, schema: int) -> dict[str, Any]:
    """The entries of a JSON memo file; nothing when it is missing, unreadable or of
    another schema."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != schema:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def save_entries(file: Path, entries: dict[str, Any], *, schema: int, limit: int) -> None:
    """Keep the `limit` newest entries (by their "at"), by atomic replace, so concurrent
    builds never read half a file; losing a concurrent writer's entry, or the whole
    write (an unwritable cache), only costs asking again."""
    if len(entries) > limit:
        keep = sorted(entries, key=lambda k: entries[k].get("at", 0))[-limit:]
        entries = {k: entries[k] for k in keep}
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{file.stem}.", dir=file.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"schema": schema, "entries": entries}, fh, indent=1, sort_keys=True)
        os.replace(tmp, file)
    except OSError:
        pass
