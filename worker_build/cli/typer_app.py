"""Running a typer app as one of worker-build's subcommands.

typer (through its bundled click) prints a usage error as a three-line block and
wants `--help` only; our convention is `-h` too and a usage error as one line,
`error: what (see \\`worker-build CMD -h\\`)`, with exit 2, as the build and `verify`
do. Expected errors inside a command go through cli/guard.py as everywhere else.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from worker_build.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

CONTEXT = {"help_option_names": ["-h", "--help"]}


def new_app(help: str) -> typer.Typer:
    """A typer app that follows the convention: `-h`, no completion commands, plain
    help text (no rich boxes: the help is read in CI logs too)."""
    return typer.Typer(
        add_completion=False, rich_markup_mode=None, context_settings=CONTEXT, help=help
    )


def run(app: typer.Typer, name: str, args: list[str]) -> int:
    """Run `app` as `worker-build NAME ARGS...` and return its exit code."""
    try:
        # Not standalone: click returns instead of calling sys.exit.
        code: Any = app(args=args, prog_name=f"worker-build {name}", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("interrupted\n")
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        format_message = getattr(exc, "format_message", None)
        message = str(format_message() if callable(format_message) else exc).rstrip(".")
        # click knows which (sub)command the error belongs to: point at its own help
        context = getattr(exc, "ctx", None)
        command = getattr(context, "command_path", None) or f"worker-build {name}"
        sys.stderr.write(f"error: {message} (see `{command} -h`)\n")
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    return int(code) if isinstance(code, int) else EXIT_OK
