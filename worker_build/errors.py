"""Every error the tool reports on purpose.

Each class carries the exit code the CLI returns for it and a fix-it hint, so
`cli.main()` can print one actionable line without a traceback. Anything that
is not a `WorkerBuildError` is a bug and exits with `EXIT_INTERNAL`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

EXIT_OK = 0
EXIT_TOOL_FAILED = 1  # a tool we ran (cargo, wasm-bindgen, ...) failed
EXIT_USAGE = 2  # bad flags or conflicting options (typer uses 2 too)
EXIT_CRATE = 3  # the crate cannot be built as a Worker (Cargo.toml/lock problems)
EXIT_TOOLCHAIN = 4  # no suitable Rust toolchain / std sources / wasm32 support
EXIT_TOOL_MISSING = 5  # wasm-bindgen, wasm-opt or esbuild missing or wrong version
EXIT_NO_EH = 6  # the module holds no exception handling (or not the expected encoding)
EXIT_INVALID_WASM = 7  # the file is not a valid WebAssembly module
EXIT_LOCKED = 8  # another build holds the output lock
EXIT_NOT_WRITABLE = 9  # the output directory (its parent, the cache) cannot be written
EXIT_INTERNAL = 70  # a bug in worker-build (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_STDOUT_CLOSED = 141  # whoever read our stdout went away (`| head`): 128 + SIGPIPE


def one_line(text: str) -> str:
    """`text` with its lines joined by spaces (blank lines and edge spaces dropped)."""
    if "\n" not in text and "\r" not in text:
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class WorkerBuildError(Exception):
    """Root of all expected failures: one message line plus an optional fix."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = one_line(fix) if fix is not None else None

    @property
    def headline(self) -> str:
        """The message's first line: what the one error line says."""
        first, _, rest = self.message.strip().partition("\n")
        return first.strip().removesuffix(":") if rest.strip() else first.strip()

    @property
    def details(self) -> str | None:
        """The message's further lines (e.g. a tool's output quoted after "...failed:"):
        shown above the error line, never inside it."""
        return self.message.strip().partition("\n")[2].strip("\r\n") or None

    def one_line(self) -> str:
        """Every error is one line (README), whatever its message quotes."""
        return f"{self.headline} ({self.fix})" if self.fix else self.headline


class UsageError(WorkerBuildError):
    exit_code = EXIT_USAGE


class CrateError(WorkerBuildError):
    exit_code = EXIT_CRATE


class ToolchainError(WorkerBuildError):
    exit_code = EXIT_TOOLCHAIN


class ToolMissingError(WorkerBuildError):
    exit_code = EXIT_TOOL_MISSING


class DownloadError(ToolMissingError):
    """A prebuilt tool could not be fetched (not published for this version or platform,
    or the network failed after retries). Resolution falls back to installing it."""


class VerificationError(ToolMissingError):
    """A download arrived but cannot be trusted: checksum mismatch, an unsafe or broken
    archive, a binary that is not the promised version. Never cached, never a fallback."""


class LockedError(WorkerBuildError):
    exit_code = EXIT_LOCKED


class NotWritableError(WorkerBuildError):
    """A directory worker-build must write (the output, its parent, the cache) refuses."""

    exit_code = EXIT_NOT_WRITABLE


class NoExceptionHandlingError(WorkerBuildError):
    exit_code = EXIT_NO_EH


class InvalidWasmError(WorkerBuildError):
    """The bytes are not a valid module; `offset` is where decoding stopped."""

    exit_code = EXIT_INVALID_WASM

    def __init__(self, message: str, offset: int, fix: str | None = None) -> None:
        super().__init__(f"invalid wasm at byte {offset:#x}: {message}", fix)
        self.offset = offset
        self.reason = message


class CommandFailedError(WorkerBuildError):
    """A subprocess exited non-zero; keeps the command and its output for the report."""

    exit_code = EXIT_TOOL_FAILED

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int,
        output: str,
        fix: str | None = None,
        cause: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        name = self.argv[0].rsplit("/", 1)[-1] if self.argv else "command"
        message = f"{name} exited with code {returncode}"
        super().__init__(f"{message}: {cause}" if cause else message, fix)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-lines:])


def run_guarded(
    body: Callable[[], int],
    report: Callable[[WorkerBuildError], None],
    *,
    show_traceback: bool,
    interrupted: str,
    traceback_hint: str,
) -> int:
    """Run a command body and map every outcome to an exit code: expected errors are
    reported in one line, Ctrl-C prints `interrupted`, anything else is a bug with
    its own code. With `show_traceback` or WORKER_BUILD_TRACEBACK=1 the traceback is
    printed first; the line and the exit code stay the same.
    Shared by the build CLI, the typer subcommands and the typer-free `verify` entry."""
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
        hint = "" if show_traceback else f"rerun with {traceback_hint} and "
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {one_line(str(exc))} "
            f"(a bug in worker-build; {hint}report it)\n"
        )
        return EXIT_INTERNAL


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
