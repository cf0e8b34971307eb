"""Every command's outcome as an exit code, and usage errors as one `error:` line.

All subcommands share this, whichever parser reads their arguments: expected errors
(errors.WorkerBuildError) are one line, `error: what (fix)`, with the exit code their
class carries; Ctrl-C is 130; anything else is a bug (70). `--traceback` or
WORKER_BUILD_TRACEBACK=1 also prints the traceback; the line and the code stay.
Only the standard library is imported here: `verify` starts through it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from worker_build.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_STDOUT_CLOSED,
    WorkerBuildError,
    one_line,
)


def run_guarded(
    body: Callable[[], int],
    report: Callable[[WorkerBuildError], None],
    *,
    show_traceback: bool,
    interrupted: str = "interrupted",
) -> int:
    """Run a command body and map every outcome to an exit code: expected errors are
    reported (by `report`) in one line, Ctrl-C prints `interrupted`, anything else is a
    bug with its own code. With `show_traceback` or WORKER_BUILD_TRACEBACK=1 the
    traceback is printed first; the line and the exit code stay the same."""
    show_traceback = show_traceback or bool(os.environ.get("WORKER_BUILD_TRACEBACK"))
    try:
        try:
            code = body()
            sys.stdout.flush()  # a closed pipe must show here, not at interpreter exit
            return code
        except BrokenPipeError:
            if not _stdout_closed():
                raise  # another pipe broke: a bug, reported below
            # As a C tool killed by SIGPIPE: no message, and no "Exception ignored"
            # from the interpreter's final flush of the output nobody reads.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_STDOUT_CLOSED
    except WorkerBuildError as exc:
        if show_traceback:
            _print_traceback()
        report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        if show_traceback:
            _print_traceback()
        sys.stderr.write(f"{interrupted}\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if show_traceback:
            _print_traceback()
        hint = "" if show_traceback else "rerun with --traceback and "
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
            f"(a bug in worker-build; {hint}report it)\n"
        )
        return EXIT_INTERNAL


def print_error(exc: WorkerBuildError) -> None:
    """The plain `error:` line, after whatever the command already printed on stdout."""
    sys.stdout.flush()
    sys.stderr.write(f"error: {exc.one_line()}\n")


def _stdout_closed() -> bool:
    """True when stdout is a pipe (or socket) whose reader has gone: poll reports
    POLLERR for its write end."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _print_traceback() -> None:
    import traceback

    sys.stdout.flush()
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()
