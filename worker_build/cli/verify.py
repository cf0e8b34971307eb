"""`worker-build verify FILE.wasm|DIR [--expect legacy|exnref|any] [--json] [--traceback]`.

Prints the EH report of a module (wasm/eh.py: plain text, or JSON on stdout) and exits
0, or with the exit code of what is wrong (6: no exception handling or not the
expected encoding, 7: not a valid module), after printing the report when there is one.
Its arguments are read by the table parser (argtable.py), and only the standard
library and the decoder are imported: `verify` runs in pre-commit hooks on every
commit, where typer's import would cost more than decoding a module.

`python -m worker_build.cli.verify ...` runs the same thing (used by the benchmark).
"""

from __future__ import annotations

import sys

from worker_build.cli import argtable
from worker_build.cli.argtable import Option, Parser
from worker_build.cli.guard import print_error, run_guarded
from worker_build.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_INVALID_WASM,
    EXIT_NO_EH,
    EXIT_OK,
    EXIT_STDOUT_CLOSED,
    EXIT_USAGE,
    NoExceptionHandlingError,
    UsageError,
    exit_codes_help,
)
from worker_build.wasm.eh import EXPECT_CHOICES, inspect_file

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path

USAGE = "usage: worker-build verify FILE.wasm|DIR [--expect legacy|exnref|any] [--json]"
HELP_HINT = "see `worker-build verify -h`"
# A build's output directory holds the module under one of these names.
MODULE_NAMES = ("index_bg.wasm", "worker/index.wasm")
OPTIONS = (
    Option(
        ("--expect",),
        "expect",
        "value",
        "the EH encoding the module must hold (default: any)",
        "legacy|exnref|any",
    ),
    Option(("--json",), "json", "flag", "print the report as JSON on stdout"),
    Option(
        ("--traceback",),
        "traceback",
        "flag",
        "also print the Python traceback of an error (same exit code)",
    ),
    Option(("-h", "--help"), "help", "flag", "print this help and exit"),
)
EXIT_CODES = (
    EXIT_OK, EXIT_USAGE, EXIT_NO_EH, EXIT_INVALID_WASM, EXIT_INTERNAL, EXIT_INTERRUPTED,
    EXIT_STDOUT_CLOSED,
)  # fmt: skip


class VerifyCommand(Parser):
    def __init__(self) -> None:
        super().__init__(OPTIONS, HELP_HINT)
        self.files: list[str] = []

    def positional(self, arg: str) -> None:
        self.files.append(arg)


def module_of(path: Path | str) -> Path:
    """The module to verify: `path` itself, or the module a build wrote into the
    directory `path` (its output directory)."""
    from pathlib import Path

    given = Path(path)
    if not given.is_dir():
        return given
    for name in MODULE_NAMES:
        if (given / name).is_file():
            return given / name
    raise UsageError(
        f"{given} is a directory without a built module ({' or '.join(MODULE_NAMES)})",
        "pass the .wasm file, or the output directory of a build",
    )


def run(path: Path | str, expect: str = "any", as_json: bool = False) -> int:
    if expect not in EXPECT_CHOICES:
        raise UsageError(f"--expect must be one of {', '.join(EXPECT_CHOICES)}, not {expect!r}")
    module = module_of(path)
    try:
        report = inspect_file(module)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise UsageError(f"cannot read {module}: {e.strerror}") from None
    error: NoExceptionHandlingError | None = None
    try:
        report = report.check(expect)
    except NoExceptionHandlingError as e:
        error = e
    if as_json:
        import json

        doc = report.to_json()
        doc["expect"] = expect
        doc["ok"] = error is None
        doc["error"] = error.one_line() if error else None
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write("\n".join(report.summary_lines()) + "\n")
        if error is None:
            sys.stdout.write(f"ok: matches --expect {expect}\n")
    if error is not None:
        raise error
    return 0


def help_text() -> str:
    return argtable.help_text(
        [USAGE],
        "Check that a wasm module can unwind panics: that it holds exception handling, "
        "and which encoding. DIR: a build's output directory (its index_bg.wasm).",
        OPTIONS,
        [exit_codes_help(EXIT_CODES)],
    )


def main(argv: list[str] | None = None) -> int:
    cmd = VerifyCommand()
    cmd.parse(sys.argv[1:] if argv is None else argv)
    if cmd.flag("help"):
        sys.stdout.write(help_text())
        return EXIT_OK

    def body() -> int:
        if cmd.error is not None:
            raise cmd.error
        if len(cmd.files) != 1:
            raise UsageError("expected exactly one FILE.wasm", HELP_HINT)
        expect = str(cmd.values.get("expect", "any"))
        return run(cmd.files[0], expect, cmd.flag("json"))

    return run_guarded(body, print_error, show_traceback=cmd.flag("traceback"))


if __name__ == "__main__":
    raise SystemExit(main())
