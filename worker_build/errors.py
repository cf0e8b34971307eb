"""Every error the tool reports on purpose.

Each class carries the exit code the CLI returns for it and a fix-it hint, so the
command line (cli/guard.py) can print one actionable line without a traceback.
Anything that is not a `WorkerBuildError` is a bug and exits with `EXIT_INTERNAL`.
The exit codes themselves are listed once, in `EXIT_CODES`.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_TOOL_FAILED = 1  # a tool we ran (cargo, wasm-bindgen, ...) failed
EXIT_USAGE = 2  # bad flags or conflicting options
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

# The one table of exit codes: (code, a few words for --help, the meaning the README and
# docs/ci.md show). The docs' tables are generated from it (harness/docs.py) and a test
# keeps them equal.
EXIT_CODES: tuple[tuple[int, str, str], ...] = (
    (EXIT_OK, "ok", "success (`doctor`: nothing blocks a build)"),
    (EXIT_TOOL_FAILED, "a tool failed",
     "a tool failed (cargo, wasm-bindgen, wasm-opt, esbuild; e.g. a compile error: its "
     "output is shown)"),
    (EXIT_USAGE, "usage",
     "usage error: bad or conflicting flags, bad `[package.metadata.worker-build]`"),
    (EXIT_CRATE, "crate problem",
     "the crate cannot be built as a Worker (Cargo.toml / Cargo.lock problems)"),
    (EXIT_TOOLCHAIN, "toolchain (or --emscripten)",
     "no suitable Rust toolchain (std sources, wasm32 support, linker); `--emscripten` / "
     "`--bin` (no Emscripten SDK)"),
    (EXIT_TOOL_MISSING, "missing tool",
     "wasm-bindgen, wasm-opt or esbuild missing, or the wrong wasm-bindgen version; a "
     "download that failed its checksum or its checks, or could not be saved (disk full)"),
    (EXIT_NO_EH, "no exception handling",
     "the module has no exception handling (or not the expected encoding)"),
    (EXIT_INVALID_WASM, "invalid wasm", "the file is not a valid WebAssembly module (`verify`)"),
    (EXIT_LOCKED, "output locked",
     "another build held the output lock, or the lock of the std cache entry it was "
     "building, past `--lock-timeout`"),
    (EXIT_NOT_WRITABLE, "output not writable",
     "a directory worker-build must write cannot be written: the output, the directory it "
     "sits in, or the cache (the build lock, a std cache entry: no permission, disk full); "
     "the error names it"),
    (EXIT_INTERNAL, "internal error",
     "internal error (a bug: please report it with `--traceback` output)"),
    (EXIT_INTERRUPTED, "interrupted", "interrupted (Ctrl-C); the previous output is unchanged"),
    (EXIT_STDOUT_CLOSED, "stdout closed",
     "the reader of stdout went away (e.g. `worker-build verify x.wasm \\| head -1`); "
     "nothing more is printed, as a tool killed by SIGPIPE"),
)  # fmt: skip


def exit_codes_help(codes: tuple[int, ...] | None = None) -> str:
    """`Exit codes: 0 ok, 1 a tool failed, ...` for a command's --help (all of them, or
    the `codes` that command can return)."""
    rows = [f"{code} {brief}" for code, brief, _ in EXIT_CODES if codes is None or code in codes]
    return "Exit codes: " + ", ".join(rows) + "."


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
