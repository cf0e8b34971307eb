"""`worker-build verify FILE.wasm [--expect legacy|exnref|any] [--json]`.

`run()` is what cli.py calls: it prints the report (plain text or JSON on
stdout) and returns 0, or raises a WorkerBuildError for the CLI to map to its
exit code (after printing the report, when there is one). Only the standard
library is imported here so that `verify` starts fast.

`python -m worker_build.verify_cli FILE [--expect ...] [--json]` runs the same
thing without the full CLI (used by the benchmark).
"""

from __future__ import annotations

import sys
from pathlib import Path

from worker_build.errors import NoExceptionHandlingError, UsageError, WorkerBuildError
from worker_build.verify import EXPECT_CHOICES, inspect_file


def run(path: Path, expect: str = "any", as_json: bool = False) -> int:
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


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="worker-build verify", description="Check a wasm module for exception handling."
    )
    ap.add_argument("file", type=Path)
    ap.add_argument("--expect", choices=EXPECT_CHOICES, default="any")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        return run(args.file, args.expect, args.json)
    except WorkerBuildError as e:
        sys.stdout.flush()
        sys.stderr.write(f"error: {e.one_line()}\n")
        return e.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
