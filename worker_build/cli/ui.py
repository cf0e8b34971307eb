"""What the user sees: step progress, the final summary, errors, the JSON report.

Streams: everything for people goes to stderr, so stdout carries only what a
program reads: with `--json` the progress and summary still go to stderr (as
cargo does with its JSON messages) and the JSON document to stdout. How it is
drawn is decided once, from stderr and the environment (`Terminal.detect`):

* a live spinner with the running step's elapsed time only when stderr is a
  TTY, `NO_COLOR` is unset, `TERM` is not `dumb` and we are not under GitHub
  Actions; otherwise plain lines, one when a step starts and one with its
  duration when it ends;
* colour only on a TTY (or with `FORCE_COLOR`), never with `NO_COLOR`;
* a step whose tool draws its own progress on the terminal (cargo) gets a
  plain header instead of the spinner, so the two never fight over a line.

Under GitHub Actions (`GITHUB_ACTIONS=true`) each step's output is folded into
a `::group::`, errors become `::error` annotations, and the summary is added
to `$GITHUB_STEP_SUMMARY`. Workflow commands go to stderr: the runner reads
commands from both streams, and stdout stays pure JSON under `--json`.

The JSON documents themselves are build/report.py's.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from worker_build.build import report
from worker_build.cli import github
from worker_build.cli.guard import run_guarded
from worker_build.cli.summary import error_details, step_summary_markdown, summary_rows
from worker_build.cli.units import format_bytes, format_duration
from worker_build.errors import WorkerBuildError

# Steps whose tool writes its own progress straight to the terminal.
SELF_DRAWING_STEPS = frozenset({"cargo build"})
# Lines of a failed tool's output shown with the error (and in an annotation).
ERROR_TAIL_LINES = 30


class Mode(Enum):
    NORMAL = "normal"
    VERBOSE = "verbose"  # also echoes every command run
    QUIET = "quiet"  # errors only
    JSON = "json"  # as NORMAL on stderr, plus a JSON document on stdout (like cargo)


@dataclass(frozen=True)
class Terminal:
    """How to draw on one stream, decided once."""

    color: bool
    live: bool  # a spinner that redraws its line
    github: bool  # GitHub Actions workflow commands
    unicode: bool

    @classmethod
    def detect(cls, stream: TextIO, env: Mapping[str, str]) -> Terminal:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):  # closed or not a real file
            tty = False
        no_color = env.get("NO_COLOR", "") != ""
        dumb = env.get("TERM", "") == "dumb"
        github = env.get("GITHUB_ACTIONS") == "true"
        forced = env.get("FORCE_COLOR", "") != ""
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        return cls(
            color=not no_color and not dumb and (tty or forced),
            live=tty and not no_color and not dumb and not github,
            github=github,
            unicode=encoding.startswith("utf"),
        )


def make_console(
    stream: TextIO | None = None, *, stdout: bool = False, env: Mapping[str, str] | None = None
) -> tuple[Console, Terminal]:
    """A rich Console following the rules above. With no `stream` it writes to
    whatever sys.stderr (or sys.stdout) is at the time of each write."""
    environ = dict(os.environ if env is None else env)
    target = stream or (sys.stdout if stdout else sys.stderr)
    term = Terminal.detect(target, environ)
    console = Console(
        file=stream,
        stderr=not stdout,
        highlight=False,
        no_color=not term.color,
        color_system="auto" if term.color else None,
        force_terminal=True if term.live else None,
        emoji=False,
        _environ=environ,
    )
    return console, term


# --- the reporter the pipeline talks to ------------------------------------------------


class _RunningStep:
    """The live line: spinner, step name, elapsed time (recomputed on every refresh)."""

    def __init__(self, name: str, unicode: bool) -> None:
        self.name = name
        self.start = time.monotonic()
        self.spinner = Spinner("dots" if unicode else "line", style="cyan")
        self.detail = ""  # e.g. a download's progress, after the elapsed time

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        elapsed = time.monotonic() - self.start
        self.spinner.text = Text.assemble(
            self.name, " ", (format_duration(elapsed), "dim"), (f"  {self.detail}", "cyan")
        )
        yield self.spinner


@dataclass
class StepRecord:
    name: str
    seconds: float
    ok: bool


@dataclass
class Reporter:
    mode: Mode
    stream: TextIO | None = None  # None: sys.stderr at the time of writing
    env: Mapping[str, str] | None = None  # None: os.environ
    steps: list[StepRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.environ: Mapping[str, str] = dict(os.environ if self.env is None else self.env)
        self.console, self.term = make_console(self.stream, env=self.environ)
        self._live: Live | None = None
        self._running: _RunningStep | None = None
        self._download = ""  # what is being downloaded, for the live line
        self._drawn_at = 0.0
        self._ok = "✓" if self.term.unicode else "ok"
        self._fail = "✗" if self.term.unicode else "FAILED"
        self._start = "▸" if self.term.unicode else ">"

    @property
    def chatty(self) -> bool:
        return self.mode is not Mode.QUIET

    # -- low level
    def _print(self, markup: str) -> None:
        self.console.print(markup, soft_wrap=True)

    def _plain(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, markup=False, highlight=False)

    def _command(self, line: str) -> None:
        """A workflow command on its own line, never styled or wrapped."""
        self._stop_live()
        github.emit(line, self.console.file)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self._running = None

    # -- pipeline events
    def echo_command(self, text: str) -> None:
        if self.mode is Mode.VERBOSE:
            self._print(f"[dim]$ {escape(text)}[/dim]")

    def step_started(self, name: str) -> None:
        if not self.chatty:
            return
        if self.term.github:
            self._command(github.command("group", f"worker-build: {name}"))
        elif self.term.live and name not in SELF_DRAWING_STEPS:
            self._running = _RunningStep(name, self.term.unicode)
            self._live = self._new_live(self._running)
        else:
            self._print(f"[bold cyan]{self._start}[/bold cyan] {escape(name)}")

    def _new_live(self, running: _RunningStep) -> Live:
        live = Live(
            running,
            console=self.console,
            refresh_per_second=10,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        live.start()
        return live

    def _ended(self, name: str, seconds: float, ok: bool) -> None:
        self.steps.append(StepRecord(name, seconds, ok))
        self._stop_live()
        if self.term.github and self.chatty:
            self._command("::endgroup::")

    def step_finished(self, name: str, seconds: float) -> None:
        self._ended(name, seconds, True)
        if self.chatty:
            self._print(
                f"[green]{self._ok}[/green] {escape(name)} [dim]{format_duration(seconds)}[/dim]"
            )

    def step_failed(self, name: str, seconds: float) -> None:
        self._ended(name, seconds, False)
        # shown in every mode: it is part of the error
        grouped = self.term.github and self.chatty
        where = " (its output is in the group above)" if grouped else ""
        self._print(
            f"[red]{self._fail}[/red] {escape(name)} [dim]{format_duration(seconds)}{where}[/dim]"
        )

    def waiting_for_lock(self, out_dir: Path) -> None:
        if self.mode is not Mode.QUIET:
            self._print(f"waiting for another worker-build writing {escape(str(out_dir))}...")

    # -- downloads (worker_build.tools.download.Progress)
    def download_started(self, what: str, url: str, total: int | None) -> None:
        """One line in every mode but --quiet: what is fetched from where. On a live
        terminal the spinner line also shows the bytes received."""
        if not self.chatty:
            return
        size = f" ({format_bytes(total)})" if total else ""
        self._print(f"[cyan]downloading[/cyan] {escape(what)}{size} from {escape(url)}")
        self._download = what
        self._drawn_at = 0.0

    def download_advanced(self, done: int, total: int | None) -> None:
        if self._running is None or self._live is None or not self._download:
            return
        of = f" of {format_bytes(total)} ({done * 100 // total}%)" if total else ""
        self._running.detail = f"{self._download}: {format_bytes(done)}{of}"
        now = time.monotonic()
        # The live display redraws itself 10 times a second; the first and the last
        # update are drawn at once so short downloads show too.
        if self._drawn_at == 0.0 or done == total or now - self._drawn_at > 0.1:
            self._drawn_at = now
            self._live.refresh()

    def download_ended(self) -> None:
        self._download = ""
        if self._running is not None:
            self._running.detail = ""

    def note(self, text: str) -> None:
        if self.chatty:
            self._print(f"[yellow]note:[/yellow] {escape(text)}")

    # -- a long job inside a step (worker_build.tools.download.Progress)
    def task_started(self, what: str, why: str) -> bool:
        """One line saying why the step now takes minutes and about how many; then the
        job's own output is shown (cargo's lines and progress bar), so the spinner stops
        until `task_ended` and the two never fight over a line. --quiet: nothing."""
        if not self.chatty:
            return False
        if self._live is not None:  # paused: `_running` keeps the step's start time
            self._live.stop()
            self._live = None
        because = f"[yellow]{escape(why)}[/yellow]; " if why else ""
        self._print(f"{because}[cyan]{escape(what)}[/cyan]")
        return True

    def task_ended(self) -> None:
        if self._running is not None and self._live is None and self.term.live:
            self._live = self._new_live(self._running)

    def guard(self, body: Callable[[], int], *, show_traceback: bool = False) -> int:
        """Run a command body; every outcome becomes an exit code (guard.run_guarded),
        expected errors are reported here."""
        return run_guarded(
            body,
            self.error,
            show_traceback=show_traceback,
            interrupted="interrupted; the previous output was left unchanged",
        )

    # -- outcomes
    def summary(self, facts: Mapping[str, Any]) -> None:
        self._stop_live()
        if self.mode is Mode.JSON:
            sys.stdout.write(report.dumps(report.document(facts)))
            sys.stdout.flush()
        if self.chatty:
            rows = summary_rows(facts)
            width = max(len(name) for name, _ in rows)
            self._print(
                f"[bold green]{self._ok} worker-build:[/bold green] built in "
                f"{format_duration(float(facts['seconds']))}"
            )
            for name, value in rows:
                self._print(f"  [dim]{name.ljust(width)}[/dim]  {escape(value)}")
        self._github_summary(step_summary_markdown(facts))

    def error(self, exc: WorkerBuildError) -> None:
        self._stop_live()
        tail = error_details(exc, ERROR_TAIL_LINES)
        if tail:
            self._plain("\n".join(tail))
        self._print(f"[bold red]error:[/bold red] {escape(exc.one_line())}")
        if self.term.github:
            self._command(github.annotation_for(exc))
            self._github_summary(
                f"### worker-build failed (exit {exc.exit_code})\n\n```\n{exc.one_line()}\n```\n"
            )
        if self.mode is Mode.JSON:
            doc = report.failure_document(
                exc,
                next((s.name for s in self.steps if not s.ok), None),
                [(s.name, s.seconds) for s in self.steps if s.ok],
            )
            sys.stdout.write(report.dumps(doc))
            sys.stdout.flush()

    def _github_summary(self, markdown: str) -> None:
        target = self.environ.get("GITHUB_STEP_SUMMARY")
        if not (self.term.github and target):
            return
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(markdown)
        except OSError as exc:  # a summary is a nicety: never fail the build for it
            self._plain(f"warning: cannot write GITHUB_STEP_SUMMARY ({exc.strerror})")
