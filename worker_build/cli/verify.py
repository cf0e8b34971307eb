"""`worker-build verify FILE.wasm [--expect legacy|exnref|any] [--json]`.

`run()` is what cli.py calls: it prints the report (plain text or JSON on
stdout) and returns 0, or raises a WorkerBuildError for the CLI to map to its
exit code (after printing the report, when there is one). Only the standard
library is imported here so that `verify` starts fast.

`python -m worker_build.cli.verify FILE [--expect ...] [--json]` runs the same
thing without the full CLI (used by the benchmark).
"""

from __future__ import annotations

import sys

from worker_build.errors import NoExceptionHandlingError, UsageError, WorkerBuildError, run_guarded
from worker_build.wasm.eh import EXPECT_CHOICES, inspect_file

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from pathlib import Path

USAGE = "usage: worker-build verify FILE.wasm [--expect legacy|exnref|any] [--json]"


def run(path: Path | str, expect: str = "any", as_json: bool = False) -> int:
    if expect not in EXPECT_CHOICES:
        raise UsageError(f"--expect must be one of {', '.join(EXPECT_CHOICES)}, not {expect!r}")
    try:
        report = inspect_file(path)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
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


def parse_args(argv: list[str]) -> tuple[str, str, bool]:
    """FILE [--expect X | --expect=X] [--json] (hand-rolled: argparse costs start-up)."""
    files: list[str] = []
    expect, as_json = "any", False
    args = iter(argv)
    for arg in args:
        if arg == "--json":
            as_json = True
        elif arg == "--expect":
            expect = next(args, "")
        elif arg.startswith("--expect="):
            expect = arg.partition("=")[2]
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg}", USAGE)
        else:
            files.append(arg)
    if len(files) != 1:
        raise UsageError("expected exactly one FILE.wasm", USAGE)
    return files[0], expect, as_json


def main(argv: list[str] | None = None) -> int:
    """`verify` without the full CLI, mapping outcomes to exit codes the way
    cli.py does (one `error: ...` line; WORKER_BUILD_TRACEBACK=1 re-raises), so a
    console entry point can dispatch `worker-build verify ...` here before
    importing typer."""
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        sys.stdout.write(
            f"{USAGE}\n\nCheck that a wasm module can unwind panics (holds exception "
            "handling).\nExit codes: 0 ok, 2 usage, 6 no exception handling, 7 invalid wasm.\n"
        )
        return 0
    return run_guarded(
        lambda: run(*parse_args(args)),
        _report_error,
        show_traceback=False,
        interrupted="interrupted",
        traceback_hint="WORKER_BUILD_TRACEBACK=1",
    )


def _report_error(exc: WorkerBuildError) -> None:
    sys.stdout.flush()  # the error follows whatever report was already printed
    sys.stderr.write(f"error: {exc.one_line()}\n")


if __name__ == "__main__":
    raise SystemExit(main())
