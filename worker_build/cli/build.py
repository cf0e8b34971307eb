"""The build command: `worker-build [PATH] [flags] [cargo args]`.

Its command line is parsed by build_args.py; the pipeline, the terminal UI and
everything they import are imported only once the command line asks for a build,
so `--help` and `--version` start fast.
"""

from __future__ import annotations

import os
import sys
import time

from worker_build import __version__
from worker_build.cli import build_args
from worker_build.errors import EXIT_OK

TYPE_CHECKING = False  # like typing.TYPE_CHECKING: importing typing costs --help start-up
if TYPE_CHECKING:
    from typing import Any


def main(args: list[str]) -> int:
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

    facts = report.facts_of(result.context, result.timings, start)
    facts["report"] = str(report.write(facts, result.context.staging))
    return facts
