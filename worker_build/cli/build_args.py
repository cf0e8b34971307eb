"""The build command line: `worker-build [PATH] [flags] [cargo args] [-- cargo args]`.

Parsed the way the Rust worker-build splits its own flags from cargo's: the
crate path is optional (without it the crate is found from the current
directory upwards), our flags may come anywhere before `--`, and every other
option goes to `cargo build`. Unlike clap's trailing-argument rule in the Rust
tool, a flag of ours after a cargo option is still ours
(`worker-build --features http --release`), and the values of cargo's options
are known, so `--features http` never makes `http` the crate path.
Everything after `--` is cargo's, verbatim.

Read by the table parser (argtable.py; click cannot express the pass-through),
standard library only: `--help` and `--version` answer without importing the
build, and the help text is made from the same table the parser reads.
"""

from __future__ import annotations

from worker_build.build import cargo_args
from worker_build.build.cargo_args import BINDGEN_TARGET
from worker_build.cli import argtable
from worker_build.cli.argtable import Option, Parser
from worker_build.errors import UsageError, WorkerBuildError, exit_codes_help

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from worker_build.build.options import RawArgs

USAGE = "usage: worker-build [PATH] [options] [cargo options] [-- cargo options]"
HELP_HINT = "see `worker-build --help`"

# The output name the Rust tool always passes to wasm-bindgen (`--out-name index`):
# repeating it is accepted, any other value is not (so is `--target module`).
OUT_NAME = "index"


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
        ("--replay-on-abort",),
        "replay_on_abort",
        "flag",
        "run a GET/HEAD/OPTIONS request lost to another request's abort again on the fresh "
        "instance (needs the nodejs_als or nodejs_compat compatibility flag)",
    ),
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
    Option(
        ("--no-compile-cache",),
        "no_compile_cache",
        "flag",
        "compile dependencies in the target directory without sccache, as cargo alone does",
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
    "no_compile_cache",
    "scope",
    "no_panic_recovery",
    "quiet",
    "replay_on_abort",
)


class BuildCommand(Parser):
    """A parsed build command line. `error` is the first problem found: the parser
    still reads the rest, so the error is reported in the output mode (--json, -q)
    the user asked for."""

    def __init__(self) -> None:
        super().__init__(OPTIONS, HELP_HINT)
        self.path: str | None = None
        self.lock_timeout = 600.0
        self.cargo_args: list[str] = []

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

    def positional(self, arg: str) -> None:
        if self.path is None:
            self.path = arg
        else:
            self.fail(
                UsageError(
                    f"unexpected argument {arg!r} (the crate path is {self.path!r})",
                    "pass cargo's own arguments after `--`",
                )
            )

    def rest(self, args: list[str]) -> None:
        self.cargo_args.extend(args)

    def unknown(self, arg: str, name: str, inline: str | None, argv: list[str], i: int) -> int:
        """cargo's option: it goes to `cargo build`, with its value when it takes one."""
        self.cargo_args.append(arg)
        required = cargo_args.VALUE_OPTIONS.get(name)
        following = argv[i] if inline is None and i < len(argv) else None
        if following is not None and (
            required or (required is False and not following.startswith("-"))
        ):
            self.cargo_args.append(following)
            return i + 1
        return i

    def store(self, opt: Option, name: str, value: str) -> None:
        if opt.dest == "lock_timeout":
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not seconds >= 0:  # also rejects nan
                self.fail(UsageError(f"{name} {value!r} is not a number of seconds", HELP_HINT))
                return
            self.lock_timeout = seconds
        elif opt.dest == "bindgen_target" and value != BINDGEN_TARGET:
            self.fail(
                UsageError(cargo_args.target_problem(f"{name} {value}"), cargo_args.TARGET_FIX)
            )
        elif opt.dest == "out_name" and value != OUT_NAME:
            self.fail(
                UsageError(
                    f"{name} {value}: the output is always named {OUT_NAME}.js / "
                    f"{OUT_NAME}_bg.wasm (wrangler's main = build/{OUT_NAME}.js)",
                    "remove --out-name",
                )
            )
        elif opt.dest == "bin":
            self.fail(_emscripten_error(f"{name} {value}"))
        else:
            self.values[opt.dest] = value

    def flagged(self, opt: Option, name: str) -> None:
        if opt.dest == "emscripten":
            self.fail(_emscripten_error(name))


def _emscripten_error(flag: str) -> WorkerBuildError:
    from worker_build.errors import ToolchainError

    return ToolchainError(
        f"{flag} needs the Emscripten SDK 6 (emcc, which the Rust worker-build 0.8.7 "
        "downloads as emsdk 6.0.10); worker-build (Python) cannot build for "
        "wasm32-unknown-emscripten",
        "build for wasm32-unknown-unknown: drop --emscripten and --bin",
    )


def parse(argv: list[str]) -> BuildCommand:
    cmd = BuildCommand()
    cmd.parse(argv)
    target = cargo_args.find_target(cmd.cargo_args)
    if target is not None:
        cmd.fail(UsageError(cargo_args.target_problem(target), cargo_args.TARGET_FIX))
    return cmd


def help_text() -> str:
    return argtable.help_text(
        [
            USAGE,
            "       worker-build verify FILE.wasm|DIR [--expect legacy|exnref|any] [--json]",
            "       worker-build doctor [PATH] [--panic-unwind] [--rustc PATH] [--offline]",
            "       worker-build cache [list|prune] [options]",
        ],
        "Build the Rust crate at PATH (default: the nearest directory upwards with a "
        "Cargo.toml) into a Cloudflare Worker in PATH/build.",
        OPTIONS,
        [
            "Any other option, and everything after `--`, goes to `cargo build` (e.g. "
            "`worker-build --release --features http`). cargo's --target is rejected: the "
            "target is always wasm32-unknown-unknown.",
            "Each subcommand has its own --help.",
            exit_codes_help(),
        ],
    )
