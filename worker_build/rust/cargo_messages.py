"""cargo's JSON messages (`--message-format=json...`): one object per line of its stdout,
between lines of anything else (build scripts' and rustc's own output, cargo's errors)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def messages(output: str, reason: str) -> Iterator[dict[str, Any]]:
    """Each message in `output` whose `reason` is `reason` (`compiler-artifact`,
    `build-script-executed`, ...), in order; lines that are not JSON objects are skipped."""
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("reason") == reason:
            yield message
