"""What the user sees: step progress, the final summary, errors, the JSON report.

Human output goes to stderr (stdout stays clean for --json). rich drops colour
by itself when stderr is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from worker_build.errors import CommandFailedError, WorkerBuildError


class Mode(Enum):
    NORMAL = "normal"
    VERBOSE = "verbose"  # also echoes every command run
    QUIET = "quiet"  # errors only
    JSON = "json"  # a JSON document on stdout, errors on stderr


def _console() -> Console:
    return Console(stderr=True, highlight=False, no_color=bool(os.environ.get("NO_COLOR")))


class Reporter:
    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.console = _console()

    @property
    def chatty(self) -> bool:
        return self.mode in (Mode.NORMAL, Mode.VERBOSE)

    def echo_command(self, text: str) -> None:
        self.console.print(f"[dim]$ {escape(text)}[/dim]", soft_wrap=True)

    def step_started(self, name: str) -> None:
        if self.chatty:
            self.console.print(f"[bold cyan]>[/bold cyan] {name}...", soft_wrap=True)

    def step_finished(self, name: str, seconds: float) -> None:
        if self.chatty:
            self.console.print(f"[green]✓[/green] {name} [dim]{seconds:.2f}s[/dim]")

    def step_failed(self, name: str, seconds: float) -> None:
        if self.mode is not Mode.JSON:
            self.console.print(f"[red]✗[/red] {name} [dim]{seconds:.2f}s[/dim]")

    def waiting_for_lock(self, out_dir: Path) -> None:
        if self.mode is not Mode.JSON:
            self.console.print(
                f"waiting for another worker-build writing {escape(str(out_dir))}..."
            )

    def note(self, text: str) -> None:
        if self.chatty:
            self.console.print(f"[yellow]note:[/yellow] {escape(text)}", soft_wrap=True)

    def summary(self, facts: dict[str, Any]) -> None:
        if self.mode is Mode.JSON:
            sys.stdout.write(json.dumps(facts, indent=2, sort_keys=True) + "\n")
            return
        if not self.chatty:
            return
        rows = [
            ("output", facts["out_dir"]),
            ("profile", facts["profile"]),
            ("panic", facts["panic_strategy"]),
            ("toolchain", facts.get("toolchain", "")),
            *((name, label) for name, label in facts.get("tools", {}).items()),
            ("EH encoding", facts.get("eh_encoding", "")),
            ("index_bg.wasm", _size(facts["wasm_bytes"], facts["wasm_gzip_bytes"])),
            ("index.js", _size(facts["js_bytes"], facts["js_gzip_bytes"])),
            ("total time", f"{facts['seconds']:.2f}s"),
        ]
        width = max(len(name) for name, _ in rows)
        self.console.print("[bold]worker-build summary[/bold]")
        for name, value in rows:
            self.console.print(f"  {name.ljust(width)}  {escape(str(value))}", soft_wrap=True)

    def error(self, exc: WorkerBuildError) -> None:
        if isinstance(exc, CommandFailedError) and exc.output.strip():
            self.console.print(exc.tail(), markup=False, highlight=False, soft_wrap=True)
        self.console.print(f"[bold red]error:[/bold red] {escape(exc.one_line())}", soft_wrap=True)
        if os.environ.get("GITHUB_ACTIONS") == "true":
            # Workflow command: GitHub turns it into an annotation on the run.
            text = exc.one_line().replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            sys.stdout.write(f"::error title=worker-build::{text}\n")


def _size(raw: int, gz: int) -> str:
    return f"{raw / 1024:,.1f} KiB ({gz / 1024:,.1f} KiB gzip)"


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))
