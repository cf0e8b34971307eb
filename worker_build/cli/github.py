"""GitHub Actions workflow commands: groups, annotations.

They go to stderr: the runner reads commands from both streams, and stdout stays pure
JSON under `--json`.
"""

from __future__ import annotations

import sys
from typing import IO

from worker_build.cli.summary import error_details
from worker_build.errors import WorkerBuildError

# Lines of a failed tool's output shown in an annotation.
ANNOTATION_TAIL_LINES = 12


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(command: str, message: str, **properties: str) -> str:
    props = ",".join(f"{key}={_escape_property(value)}" for key, value in properties.items())
    return f"::{command}{' ' + props if props else ''}::{_escape_data(message)}"


def emit(line: str, stream: IO[str] | None = None) -> None:
    """Write one workflow command line to stderr (or `stream`), unstyled."""
    target = stream or sys.stderr
    target.write(line + "\n")
    target.flush()


def annotation_for(exc: WorkerBuildError, title: str = "worker-build") -> str:
    """`::error title=worker-build::message (fix)`, plus a failed tool's last lines."""
    body = exc.one_line()
    tail = error_details(exc, ANNOTATION_TAIL_LINES)
    if tail:
        body += "\n" + "\n".join(tail)
    return command("error", body, title=title)
