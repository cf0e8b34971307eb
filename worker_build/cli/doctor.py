"""`worker-build doctor [PATH] [--panic-unwind] [--rustc PATH]`: would a build work here?

Prints one row per check (cli/doctor_checks.py) with the exact fix for each gap, and
returns 0 when a build would work, else the exit code the first blocking problem
would fail the build with. It never installs or builds anything. Under GitHub
Actions each problem is also an annotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from worker_build.cli import github, typer_app, ui
from worker_build.cli.doctor_checks import Check, Status, collect
from worker_build.errors import EXIT_OK

app = typer_app.new_app("Check everything a build needs and print the fix for each gap.")


@app.command()
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
    traceback: Annotated[
        bool,
        typer.Option("--traceback", help="Also print the Python traceback of an error."),
    ] = False,
) -> int:
    reporter = ui.Reporter(ui.Mode.NORMAL)
    return reporter.guard(
        lambda: run(path, panic_unwind=panic_unwind, rustc=rustc), show_traceback=traceback
    )


def run(path: Path, *, panic_unwind: bool, rustc: Path | None) -> int:
    """Check, print the rows, and return the exit code a build would have."""
    return render(collect(path, panic_unwind=panic_unwind, rustc=rustc), path)


def main(args: list[str]) -> int:
    return typer_app.run(app, "doctor", args)


_STYLE = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.MISSING: "bold red",
    Status.ABSENT: "dim",
    Status.SKIPPED: "dim",
}


def render(checks: Sequence[Check], path: Path) -> int:
    console, term = ui.make_console(stdout=True)
    from rich.markup import escape

    console.print(f"[bold]worker-build doctor[/bold] {escape(str(path.resolve()))}", soft_wrap=True)
    name_width = max(len(c.name) for c in checks)
    status_width = max(len(s.value) for s in Status)
    for check in checks:
        status = check.status.value.ljust(status_width)
        console.print(
            f"  [{_STYLE[check.status]}]{status}[/{_STYLE[check.status]}]  "
            f"{escape(check.name.ljust(name_width))}  {escape(check.detail)}",
            soft_wrap=True,
        )
        if check.fix and check.status is not Status.OK:
            pad = " " * (2 + status_width + 2 + name_width + 2)
            console.print(f"{pad}[bold]fix:[/bold] {escape(check.fix)}", soft_wrap=True)
    blocking = [c for c in checks if c.blocking]
    if term.github:
        for check in checks:
            if check.status in (Status.MISSING, Status.WARN):
                kind = "error" if check.blocking else "warning"
                text = f"{check.name}: {check.detail}" + (f" ({check.fix})" if check.fix else "")
                github.emit(github.command(kind, text, title="worker-build doctor"))
    if blocking:
        first = blocking[0]
        console.print(
            f"[bold red]result:[/bold red] a build would fail: {len(blocking)} problem"
            f"{'s' if len(blocking) > 1 else ''}; the first ({escape(first.name)}) exits "
            f"with {first.exit_code}",
            soft_wrap=True,
        )
        return first.exit_code
    warnings = sum(c.status is Status.WARN for c in checks)
    console.print(
        "[bold green]result:[/bold green] a build would work"
        + (f" ({warnings} warning{'s' if warnings > 1 else ''} above)" if warnings else ""),
        soft_wrap=True,
    )
    return EXIT_OK
