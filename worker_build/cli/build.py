"""Command line: `worker-build [PATH] [flags] [cargo args]` and `doctor`.

The build is the default command (as in the real worker-build, so wrangler's
`[build] command = "worker-build --release"` works unchanged); its command
line is parsed by build_args.py, without typer. Subcommands are recognised by
the first argument and run with typer, imported only for them. `verify` never
gets here: entry.py hands it to verify_cli first. Heavy modules are imported
inside the commands so `--help` and `--version` start fast.
"""

from __future__ import annotations

import os
import sys
import time

from worker_build import __version__
from worker_build.cli import build_args
from worker_build.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

TYPE_CHECKING = False  # like typing.TYPE_CHECKING: importing typing costs --help start-up
if TYPE_CHECKING:
    from typing import Any


def build_main(args: list[str]) -> int:
    cmd = build_args.parse(args)
    if cmd.flag("help"):
        sys.stdout.write(build_args.help_text())
        return EXIT_OK
    if cmd.flag("version"):
        sys.stdout.write(f"worker-build {__version__}\n")
        return EXIT_OK

    from worker_build.cli import wrangler_log
    from worker_build.cli.ui import Mode, Reporter
    from worker_build.tools import download
    from worker_build.util import proc

    wrangler_log.install(os.environ)  # under wrangler's [build]: no empty log lines

    mode = (
        Mode.JSON
        if cmd.flag("json")
        else Mode.QUIET
        if cmd.flag("quiet")
        else Mode.VERBOSE
        if cmd.flag("verbose")
        else Mode.NORMAL
    )
    reporter = Reporter(mode)
    if mode is Mode.VERBOSE:
        proc.set_echo(reporter.echo_command)
    download.set_progress(reporter)  # a tool download shows where from, and its progress

    def body() -> int:
        if cmd.error is not None:
            raise cmd.error
        return _build(cmd.raw_args(), reporter)

    return int(reporter.guard(body, show_traceback=cmd.flag("traceback")))


def _build(raw: Any, reporter: Any) -> int:
    from worker_build.build import pipeline

    start = time.monotonic()
    facts: dict[str, Any] = {}
    pipeline.build(raw, reporter, lambda result: facts.update(_report(result, start)))
    for note in facts["notes"]:
        reporter.note(note)
    reporter.summary(facts)
    return EXIT_OK


def _report(result: Any, start: float) -> dict[str, Any]:
    """The facts of a finished build; also written to <out>/worker-build.json."""
    from worker_build.build import report

    facts = report.facts_of(result, start)
    facts["report"] = str(report.write(facts, result.context.staging))
    return facts


# --- subcommands (typer, in subcommands.py) ------------------------------------------------

# Recognised as the first argument; anything else is the build's command line.
SUBCOMMANDS = ("doctor",)


def _typer_main(name: str, args: list[str]) -> int:
    import typer

    from worker_build.cli.subcommands import APPS

    app = APPS[name]
    try:
        # Not standalone: click returns the exit code of typer.Exit instead of exiting.
        code = app(args=args, prog_name=f"worker-build {name}", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        # Usage errors from typer's bundled click: it prints them itself.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    return int(code) if isinstance(code, int) else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # `verify` never reaches this function: entry.py dispatches it first.
    if args[:1] and args[0] in SUBCOMMANDS:
        return _typer_main(args[0], args[1:])
    return build_main(args)
