"""The build command line: `worker-build [PATH] [flags] [cargo args] [-- cargo args]`.

Parsed the way the Rust worker-build splits its own flags from cargo's: the
crate path is optional (without it the crate is found from the current
directory upwards), our flags may come anywhere before `--`, and every other
option goes to `cargo build`. Unlike clap's trailing-argument rule in the Rust
tool, a flag of ours after a cargo option is still ours
(`worker-build --features http --release`), and the values of cargo's options
are known, so `--features http` never makes `http` the crate path.
Everything after `--` is cargo's, verbatim.

Hand-written and standard-library only (no typer/click/pydantic): `--help`
and `--version` answer without importing the build, and the help text is made
from the same table the parser reads, so the two cannot disagree.
"""

from __future__ import annotations

import os
import sys

from worker_build.errors import UsageError, WorkerBuildError

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from worker_build.build.options import RawArgs

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 a tool failed, 2 usage, 3 crate problem, 4 toolchain (or "
    "--emscripten), 5 missing tool, 6 no exception handling, 7 invalid wasm, 8 output locked, "
    "9 output not writable, 70 internal error, 130 interrupted, 141 stdout closed."
)
USAGE = "usage: worker-build [PATH] [options] [cargo options] [-- cargo options]"
HELP_HINT = "see `worker-build --help`"

# cargo build's options that take a value: the next argument is that value,
# never the crate path. `None`: the value is optional (clap takes the next
# argument unless it starts with `-`).
CARGO_VALUE_OPTIONS: dict[str, bool] = {
    "--message-format": True,
    "--color": True,
    "--config": True,
    "-Z": True,
    "--exclude": True,
    "-F": True,
    "--features": True,
    "-j": True,
    "--jobs": True,
    "--target-dir": True,
    "--artifact-dir": True,
    "--manifest-path": True,
    "--lockfile-path": True,
    "-p": False,
    "--package": False,
    "--example": False,
    "--test": False,
    "--bench": False,
}
# The wasm-bindgen target and output name the Rust tool always passes (`--target
# module --out-name index`): repeating them is accepted, any other value is not.
BINDGEN_TARGET = "module"
OUT_NAME = "index"


class Option:
    """One flag of ours. `kind`: "flag" (sets dest True), "off" (sets dest False),
    "value" (stores the next argument or `=value`)."""

    __slots__ = ("dest", "help", "hidden", "kind", "metavar", "names")

    def __init__(
        self,
        names: tuple[str, ...],
        dest: str,
        kind: str,
        help: str,
        metavar: str = "",
        hidden: bool = False,
    ) -> None:
        self.names = names
        self.dest = dest
        self.kind = kind
        self.help = help
        self.metavar = metavar
        self.hidden = hidden


OPTIONS: tuple[Option, ...] = (
    Option(("--dev", "--debug"), "dev", "flag", "dev profile: no wasm-opt, wasm-bindgen --debug"),
    Option(("--release",), "release", "flag", "release profile (the default)"),
    Option(("--profiling",), "profiling", "flag", "release build for profiling"),
    Option(("--profile",), "profile", "value", "a custom cargo profile", "NAME"),
    Option(
        ("--panic-unwind",),
        "panic_unwind",
        "flag",
        "build std and the crate with panic=unwind so a panic fails only its request",
    ),
    Option(("--no-panic-unwind",), "panic_unwind", "off", "panic=abort even if Cargo.toml asks"),
    Option(
        ("--eh-encoding",),
        "eh_encoding",
        "value",
        "exception-handling encoding of --panic-unwind builds",
        "default|legacy|exnref",
    ),
    Option(("-d", "--out-dir"), "out_dir", "value", "output directory (default: build)", "DIR"),
    Option(("--no-opt", "--no-optimization"), "no_opt", "flag", "skip wasm-opt"),
    Option(
        ("--rustc",),
        "rustc",
        "value",
        "use this rustc and the cargo beside it (env WORKER_BUILD_RUSTC)",
        "PATH",
    ),
    Option(
        ("--panic-body",),
        "panic_body",
        "value",
        "who answers a request that panicked or aborted: the runtime (default, as the "
        "Rust tool), or the shim with a 500 carrying the error text or a generic one",
        "runtime|message|generic",
    ),
    Option(("--no-loader",), "no_loader", "flag", "do not emit the Python loader (loader.py)"),
    Option(
        ("--offline",),
        "offline",
        "flag",
        "never download a tool (a missing one is an error); also passed to cargo",
    ),
    Option(
        ("--no-std-cache",),
        "no_std_cache",
        "flag",
        "build std in the target directory with -Zbuild-std, not from the shared std cache",
    ),
    Option(("-s", "--scope"), "scope", "value", "npm scope for build/package.json", "SCOPE"),
    Option(
        ("--lock-timeout",),
        "lock_timeout",
        "value",
        "how long to wait for another build of the same output (default: 600)",
        "SECONDS",
    ),
    Option(("--verbose",), "verbose", "flag", "print every command run"),
    Option(("-q", "--quiet"), "quiet", "flag", "print errors only (cargo gets --quiet too)"),
    Option(("--json",), "json", "flag", "print the JSON report on stdout"),
    Option(
        ("--traceback",),
        "traceback",
        "flag",
        "also print the Python traceback of an error (same exit code)",
    ),
    Option(("-v", "--version"), "version", "flag", "print the version and exit"),
    Option(("-h", "--help"), "help", "flag", "print this help and exit"),
    Option(
        ("--emscripten",),
        "emscripten",
        "flag",
        "not available: needs the Emscripten SDK 6 (exit 4)",
    ),
    Option(("--bin",), "bin", "value", "not available: for --emscripten (exit 4)", "NAME"),
    # The Rust tool's hidden flags.
    Option(("--no-panic-recovery",), "no_panic_recovery", "flag", "", hidden=True),
    Option(("--no-typescript",), "no_typescript", "flag", "", hidden=True),
    Option(("-t", "--target"), "bindgen_target", "value", "", "TARGET", hidden=True),
    Option(("--out-name",), "out_name", "value", "", "NAME", hidden=True),
)
_BY_NAME = {name: opt for opt in OPTIONS for name in opt.names}
# Fields of options.RawArgs that options here fill in.
_RAW_FIELDS = (
    "dev",
    "release",
    "profiling",
    "profile",
    "panic_unwind",
    "eh_encoding",
    "out_dir",
    "no_opt",
    "rustc",
    "panic_body",
    "no_loader",
    "offline",
    "no_std_cache",
    "scope",
    "no_panic_recovery",
    "quiet",
)


class BuildCommand:
    """A parsed build command line. `error` is the first problem found: the
    parser still reads the rest, so the error is reported in the output mode
    (--json, -q) the user asked for."""

    __slots__ = ("cargo_args", "error", "lock_timeout", "path", "values")

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.path: str | None = None
        self.lock_timeout = 600.0
        self.cargo_args: list[str] = []
        self.error: WorkerBuildError | None = None

    def flag(self, dest: str) -> bool:
        return self.values.get(dest) is True

    def fail(self, error: WorkerBuildError) -> None:
        if self.error is None:
            self.error = error

    def raw_args(self) -> RawArgs:
        from pathlib import Path

        from worker_build.build.options import RawArgs

        kwargs: dict[str, object] = {k: self.values[k] for k in _RAW_FIELDS if k in self.values}
        for key in ("out_dir", "rustc"):
            if key in kwargs:
                kwargs[key] = Path(str(kwargs[key]))
        return RawArgs(
            path=None if self.path is None else Path(self.path),
            lock_timeout=self.lock_timeout,
            cargo_args=tuple(self.cargo_args),
            **kwargs,  # type: ignore[arg-type]
        )


def _split(arg: str) -> tuple[str, str | None]:
    """`--name=value` -> (`--name`, `value`); `-dDIR`/`-d=DIR` -> (`-d`, `DIR`).
    A flag's short name with more letters (`-vv`) is not ours: it goes to cargo."""
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        return name, value if eq else None
    short = _BY_NAME.get(arg[:2])
    if len(arg) > 2 and short is not None and short.kind == "value":
        value = arg[2:]
        return arg[:2], value[1:] if value.startswith("=") else value
    return arg, None


def _emscripten_error(flag: str) -> WorkerBuildError:
    from worker_build.errors import ToolchainError

    return ToolchainError(
        f"{flag} needs the Emscripten SDK 6 (emcc, which the Rust worker-build 0.8.7 "
        "downloads as emsdk 6.0.10); worker-build (Python) cannot build for "
        "wasm32-unknown-emscripten",
        "build for wasm32-unknown-unknown: drop --emscripten and --bin",
    )


def _target_error(where: str) -> UsageError:
    return UsageError(
        f"{where}: worker-build always builds for wasm32-unknown-unknown with "
        f"wasm-bindgen --target {BINDGEN_TARGET}",
        "remove --target",
    )


def _store(cmd: BuildCommand, opt: Option, name: str, value: str) -> None:
    if opt.dest == "lock_timeout":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not seconds >= 0:  # also rejects nan
            cmd.fail(UsageError(f"{name} {value!r} is not a number of seconds", HELP_HINT))
            return
        cmd.lock_timeout = seconds
    elif opt.dest == "bindgen_target" and value != BINDGEN_TARGET:
        cmd.fail(_target_error(f"{name} {value}"))
    elif opt.dest == "out_name" and value != OUT_NAME:
        cmd.fail(
            UsageError(
                f"{name} {value}: the output is always named {OUT_NAME}.js / "
                f"{OUT_NAME}_bg.wasm (wrangler's main = build/{OUT_NAME}.js)",
                "remove --out-name",
            )
        )
    elif opt.dest == "bin":
        cmd.fail(_emscripten_error(f"{name} {value}"))
    else:
        cmd.values[opt.dest] = value


def parse(argv: list[str]) -> BuildCommand:
    cmd = BuildCommand()
    i, n = 0, len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            cmd.cargo_args.extend(argv[i:])
            break
        if not arg.startswith("-") or arg == "-":
            if cmd.path is None:
                cmd.path = arg
            else:
                cmd.fail(
                    UsageError(
                        f"unexpected argument {arg!r} (the crate path is {cmd.path!r})",
                        "pass cargo's own arguments after `--`",
                    )
                )
            continue
        name, inline = _split(arg)
        opt = _BY_NAME.get(name)
        if opt is None:  # cargo's
            cmd.cargo_args.append(arg)
            required = CARGO_VALUE_OPTIONS.get(name)
            following = argv[i] if inline is None and i < n else None
            if following is not None and (
                required or (required is False and not following.startswith("-"))
            ):
                cmd.cargo_args.append(argv[i])
                i += 1
            continue
        if opt.kind == "value":
            if inline is None:
                if i >= n:
                    cmd.fail(UsageError(f"{name} needs a value ({opt.metavar})", HELP_HINT))
                    continue
                inline = argv[i]
                i += 1
            _store(cmd, opt, name, inline)
        elif inline is not None:
            cmd.fail(UsageError(f"{name} takes no value (got {arg!r})", HELP_HINT))
        else:
            cmd.values[opt.dest] = opt.kind == "flag"
            if opt.dest == "emscripten":
                cmd.fail(_emscripten_error(name))
    for index, arg in enumerate(cmd.cargo_args):
        if arg == "--target" or arg.startswith("--target="):
            value = arg.partition("=")[2] or (
                cmd.cargo_args[index + 1] if index + 1 < len(cmd.cargo_args) else ""
            )
            cmd.fail(_target_error(f"cargo's --target {value}".rstrip()))
    return cmd


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Greedy word wrap (textwrap would import re: start-up time). Words, flag names
    included, are never split."""
    lines, line, words = [], first, 0  # words of `text` on `line` so far
    for word in text.split():
        if words and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, words = rest, 0
        line = f"{line} {word}" if words else line + word
        words += 1
    return [*lines, line]


def help_text() -> str:
    try:
        columns = os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = int(os.environ.get("COLUMNS", "") or 80)
    width = max(60, min(columns, 100))
    rows = []
    for opt in OPTIONS:
        if opt.hidden:
            continue
        label = ", ".join(opt.names) + (f" {opt.metavar}" if opt.metavar else "")
        rows.append((label, opt.help))
    column = min(max(len(label) for label, _ in rows), 28) + 4
    options = []
    for label, text in rows:
        first = f"  {label}".ljust(column)
        if len(first) > column:  # a long label: its text starts on the next line
            options.append(first.rstrip())
            first = " " * column
        options += _wrap(text, width, first, " " * column)
    lines = [
        USAGE,
        "       worker-build verify FILE.wasm [--expect legacy|exnref|any] [--json]",
        "       worker-build doctor [PATH] [--panic-unwind] [--rustc PATH]",
        "       worker-build cache [list|prune] [options]",
        "",
        *_wrap(
            "Build the Rust crate at PATH (default: the nearest directory upwards with a "
            "Cargo.toml) into a Cloudflare Worker in PATH/build.",
            width,
        ),
        "",
        "Options:",
        *options,
        "",
        *_wrap(
            "Any other option, and everything after `--`, goes to `cargo build` (e.g. "
            "`worker-build --release --features http`). cargo's --target is rejected: the "
            "target is always wasm32-unknown-unknown.",
            width,
        ),
        "",
        *_wrap(EXIT_CODES_HELP, width),
    ]
    return "\n".join(lines) + "\n"
