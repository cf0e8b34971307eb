"""Command line: `worker-build [PATH] [flags] [cargo args]`, `verify` and `doctor`.

The build is the default command (as in the real worker-build, so wrangler's
`[build] command = "worker-build --release"` works unchanged); `doctor` is
recognised as the first argument. `verify` never gets here: entry.py hands it
to verify_cli before typer is imported. Heavy modules are imported inside the
commands so `--help` starts fast.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from worker_build import __version__
from worker_build.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, run_guarded

CONTEXT = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
    "help_option_names": ["-h", "--help"],
}

build_app = typer.Typer(add_completion=False, rich_markup_mode=None, context_settings=CONTEXT)
doctor_app = typer.Typer(add_completion=False, rich_markup_mode=None)

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 a tool failed, 2 usage, 3 crate problem, 4 toolchain, "
    "5 missing tool, 6 no exception handling, 7 invalid wasm, 8 output locked, "
    "70 internal error, 130 interrupted."
)


def _version(value: bool) -> None:
    if value:
        print(f"worker-build {__version__}")
        raise typer.Exit()


@build_app.command(
    help="Build the Rust crate at PATH into a Cloudflare Worker in build/. Unknown options "
    "and everything after `--` go to `cargo build`. Subcommands: `worker-build verify "
    "FILE.wasm`, `worker-build doctor`. " + EXIT_CODES_HELP,
)
def build(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Crate directory (default: current directory).")
    ] = Path("."),
    dev: Annotated[
        bool,
        typer.Option("--dev", "--debug", help="Dev profile: no wasm-opt, wasm-bindgen --debug."),
    ] = False,
    release: Annotated[
        bool, typer.Option("--release", help="Release profile (the default).")
    ] = False,
    profiling: Annotated[
        bool, typer.Option("--profiling", help="Release build for profiling.")
    ] = False,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="NAME", help="A custom cargo profile.")
    ] = None,
    panic_unwind: Annotated[
        bool | None,
        typer.Option(
            "--panic-unwind/--no-panic-unwind",
            help="Build std and the crate with panic=unwind so a panic fails only its request.",
        ),
    ] = None,
    eh_encoding: Annotated[
        str | None,
        typer.Option(
            "--eh-encoding",
            metavar="default|legacy|exnref",
            help="Exception-handling encoding for --panic-unwind builds.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("-d", "--out-dir", help="Output directory (default: build).")
    ] = None,
    no_opt: Annotated[bool, typer.Option("--no-opt", help="Skip wasm-opt.")] = False,
    rustc: Annotated[
        Path | None,
        typer.Option(
            "--rustc",
            metavar="PATH",
            help="Use this rustc (and the cargo beside it), e.g. a distro compiler "
            "with std sources. Env: WORKER_BUILD_RUSTC.",
        ),
    ] = None,
    panic_body: Annotated[
        str | None,
        typer.Option(
            "--panic-body",
            metavar="message|generic",
            help="What a 500 caused by a panic contains (default: message).",
        ),
    ] = None,
    no_loader: Annotated[
        bool, typer.Option("--no-loader", help="Do not emit the Python loader (build/loader.py).")
    ] = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never download tools; fail if one is missing.")
    ] = False,
    scope: Annotated[
        str | None, typer.Option("-s", "--scope", help="npm scope for build/package.json.")
    ] = None,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout",
            metavar="SECONDS",
            help="How long to wait for another build of the same output.",
        ),
    ] = 600.0,
    no_panic_recovery: Annotated[
        bool,
        typer.Option(
            "--no-panic-recovery", hidden=True, help="As the real tool: no recovery shim."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Print every command run.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Print errors only.")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print a JSON report on stdout.")
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show Python tracebacks for errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    from worker_build import proc
    from worker_build.options import RawArgs
    from worker_build.ui import Mode, Reporter

    mode = (
        Mode.JSON if json_out else Mode.QUIET if quiet else Mode.VERBOSE if verbose else Mode.NORMAL
    )
    reporter = Reporter(mode)
    if mode is Mode.VERBOSE:
        proc.set_echo(reporter.echo_command)
    raw = RawArgs(
        path=path,
        dev=dev,
        release=release,
        profiling=profiling,
        profile=profile,
        panic_unwind=panic_unwind,
        eh_encoding=eh_encoding,
        out_dir=out_dir,
        no_opt=no_opt,
        rustc=rustc,
        panic_body=panic_body,
        no_loader=no_loader,
        offline=offline,
        scope=scope,
        lock_timeout=lock_timeout,
        cargo_args=tuple(ctx.args),
        no_panic_recovery=no_panic_recovery,
    )
    _run_guarded(lambda: _build(raw, reporter), reporter, show_traceback=traceback)


def _build(raw: Any, reporter: Any) -> int:
    from worker_build import pipeline

    start = time.monotonic()
    facts: dict[str, Any] = {}
    pipeline.build(raw, reporter, lambda result: facts.update(_report(result, start)))
    for note in facts["notes"]:
        reporter.note(note)
    reporter.summary(facts)
    return EXIT_OK


def _report(result: Any, start: float) -> dict[str, Any]:
    """The facts of a finished build; also written to <out>/worker-build.json."""
    from worker_build.ui import write_report

    bctx = result.context
    out = bctx.options.out_dir
    facts: dict[str, Any] = {
        **bctx.facts,
        "out_dir": str(out),
        "profile": bctx.options.profile.name,
        "panic_strategy": "unwind" if bctx.options.panic_unwind else "abort",
        "tools": {name: tool.label for name, tool in bctx.tools.items()},
        "steps": [{"name": name, "seconds": round(sec, 3)} for name, sec in result.timings],
        "notes": list(bctx.notes),
        "seconds": time.monotonic() - start,
    }
    facts["report"] = str(write_report(facts))
    return facts


def _run_guarded(body: Any, reporter: Any, *, show_traceback: bool = False) -> None:
    raise typer.Exit(
        run_guarded(
            body,
            reporter.error,
            show_traceback=show_traceback,
            interrupted="interrupted; the previous output was left unchanged",
            traceback_hint="--traceback",
        )
    )


@doctor_app.command(help="Check everything a build needs and print the fix for each gap.")
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
) -> None:
    from worker_build import doctor as doctor_mod
    from worker_build.ui import Mode, Reporter

    _run_guarded(
        lambda: doctor_mod.run(path, panic_unwind=panic_unwind, rustc=rustc), Reporter(Mode.NORMAL)
    )


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # `verify` never reaches this function: entry.py dispatches it first.
    app, prog = build_app, "worker-build"
    if args[:1] == ["doctor"]:
        app, prog, args = doctor_app, "worker-build doctor", args[1:]
    try:
        # Not standalone: click returns the exit code of typer.Exit instead of exiting.
        code = app(args=args, prog_name=prog, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:
        # Usage errors from typer's bundled click: it prints them itself.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    return int(code) if isinstance(code, int) else EXIT_OK
