"""The typer subcommands: `worker-build doctor`.

cli.py imports this module (and typer with it) only when the first argument
names one of these; the build's own command line never pays for typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

doctor_app = typer.Typer(add_completion=False, rich_markup_mode=None)


@doctor_app.command(help="Check everything a build needs and print the fix for each gap.")
def doctor(
    path: Annotated[
        Path, typer.Argument(help="Crate directory (default: current directory).")
    ] = Path("."),
    panic_unwind: Annotated[
        bool, typer.Option("--panic-unwind", help="Check for a --panic-unwind build.")
    ] = False,
    rustc: Annotated[
        Path | None,
        typer.Option("--rustc", metavar="PATH", help="As for the build; env: WORKER_BUILD_RUSTC."),
    ] = None,
) -> None:
    from worker_build.cli import doctor as doctor_mod
    from worker_build.cli.ui import Mode, Reporter

    reporter = Reporter(Mode.NORMAL)
    raise typer.Exit(
        reporter.guard(lambda: doctor_mod.run(path, panic_unwind=panic_unwind, rustc=rustc))
    )


# name (cli.SUBCOMMANDS) -> typer app
APPS = {"doctor": doctor_app}
