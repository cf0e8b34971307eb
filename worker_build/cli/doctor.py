"""`worker-build doctor [PATH] [--panic-unwind] [--rustc PATH] [--offline]`: would a build
work here?

Prints one row per check (cli/doctor_checks.py, the tools' in cli/doctor_tools.py) with
the exact fix for each gap, and returns 0 when a build would work, else the exit code
the first blocking problem would fail the build with. It never installs or builds
anything; it runs each tool it reports ok, and (unless --offline) asks each download
host it would need once, briefly. Under GitHub Actions each problem is also an
annotation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from worker_build.cli import github, typer_app, ui
from worker_build.cli.doctor_checks import (
    Check,
    Status,
    check_compile_cache,
    check_crate,
    check_local_tool,
    check_node,
    check_toolchain,
    rust_version,
)
from worker_build.cli.doctor_tools import Look, Want, check_tools
from worker_build.errors import EXIT_OK
from worker_build.tools import reach, resolve

app = typer_app.new_app("Check everything a build needs and print the fix for each gap.")


@app.command()
def doctor(
    path: Annotated[
        Path, typer.Argument(help="the crate directory (default: the current directory)")
    ] = Path("."),
    panic_unwind: Annotated[
        bool, typer.Option("--panic-unwind", help="check for a --panic-unwind build")
    ] = False,
    rustc: Annotated[
        Path | None,
        typer.Option(
            "--rustc",
            metavar="PATH",
            help="the rustc to check, as for the build; env: WORKER_BUILD_RUSTC",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="check for an --offline build: ask no download host; a missing tool fails",
        ),
    ] = False,
    traceback: Annotated[
        bool,
        typer.Option(
            "--traceback", help="also print the Python traceback of an error (same exit code)"
        ),
    ] = False,
) -> int:
    reporter = ui.Reporter(ui.Mode.NORMAL)
    return reporter.guard(
        lambda: run(path, panic_unwind=panic_unwind, rustc=rustc, offline=offline),
        show_traceback=traceback,
    )


def run(path: Path, *, panic_unwind: bool, rustc: Path | None, offline: bool = False) -> int:
    """Check, print the rows, and return the exit code a build would have."""
    return render(collect(path, panic_unwind=panic_unwind, rustc=rustc, offline=offline), path)


def collect(
    path: Path,
    *,
    panic_unwind: bool,
    rustc: Path | None,
    offline: bool = False,
    look: Look = reach.look,
) -> list[Check]:
    """Every check, in the order a build needs them."""
    checks, crate, opts = check_crate(path, panic_unwind)
    unwind = opts.panic_unwind if opts is not None else panic_unwind
    root = crate.root if crate is not None else path.resolve()
    checks += check_toolchain(rustc, unwind, root, opts.std_cache if opts is not None else True)
    checks.append(check_compile_cache(opts, root, rust_version(rustc, unwind, root)))
    # The release build runs wasm-opt; a --panic-unwind build's Python loader may
    # use it too (legacy -> exnref), whatever the profile.
    wasm_opt_needed = opts is None or (
        opts.wasm_opt_args is not None or (opts.panic_unwind and opts.loader)
    )
    bindgen = resolve.wasm_bindgen_spec(crate.wasm_bindgen_version) if crate else None
    wants = [
        Want("wasm-bindgen", bindgen),
        Want("wasm-opt", resolve.wasm_opt_spec(), wasm_opt_needed, "not needed: wasm-opt is off"),
        Want("esbuild", resolve.esbuild_spec()),
        # found as loader.serve() finds it, so the row says what serve() will run
        Want(
            "workerd",
            resolve.workerd_spec(),
            False,
            "only loader.serve() needs it (local runs); its first use installs it with npm",
        ),
    ]
    tools = dict(
        zip(
            [w.name for w in wants],
            check_tools(wants, root, offline=offline, look=look),
            strict=True,
        )
    )
    checks += [tools["wasm-bindgen"], tools["wasm-opt"], tools["esbuild"]]
    checks.append(check_node(opts.eh_encoding if opts is not None and opts.panic_unwind else None))
    checks.append(tools["workerd"])
    checks.append(check_local_tool("wrangler", root, "wrangler"))
    return checks


def main(args: list[str]) -> int:
    return typer_app.run(app, "doctor", args)


_STYLE = {
    Status.OK: "green",
    Status.WARN: "yellow",
    Status.MISSING: "bold red",
    Status.BROKEN: "bold red",
    Status.ABSENT: "dim",
    Status.SKIPPED: "dim",
}


def render(checks: Sequence[Check], path: Path) -> int:
    console, term = ui.make_console(stdout=True)
    from rich.markup import escape

    console.print(f"[bold]worker-build doctor[/bold] {escape(str(path.resolve()))}", soft_wrap=True)
    name_width = max(len(c.name) for c in checks)
    status_width = max(len(s.value) for s in Status)
    for check in checks:
        status = check.status.value.ljust(status_width)
        console.print(
            f"  [{_STYLE[check.status]}]{status}[/{_STYLE[check.status]}]  "
            f"{escape(check.name.ljust(name_width))}  {escape(check.detail)}",
            soft_wrap=True,
        )
        if check.fix and check.status is not Status.OK:
            pad = " " * (2 + status_width + 2 + name_width + 2)
            console.print(f"{pad}[bold]fix:[/bold] {escape(check.fix)}", soft_wrap=True)
    blocking = [c for c in checks if c.blocking]
    if term.github:
        for check in checks:
            if check.status in (Status.MISSING, Status.WARN, Status.BROKEN):
                kind = "error" if check.blocking else "warning"
                text = f"{check.name}: {check.detail}" + (f" ({check.fix})" if check.fix else "")
                github.emit(github.command(kind, text, title="worker-build doctor"))
    if blocking:
        first = blocking[0]
        console.print(
            f"[bold red]result:[/bold red] a build would fail: {len(blocking)} problem"
            f"{'s' if len(blocking) > 1 else ''}; the first ({escape(first.name)}) exits "
            f"with {first.exit_code}",
            soft_wrap=True,
        )
        return first.exit_code
    warnings = sum(c.status is Status.WARN for c in checks)
    console.print(
        "[bold green]result:[/bold green] a build would work"
        + (f" ({warnings} warning{'s' if warnings > 1 else ''} above)" if warnings else ""),
        soft_wrap=True,
    )
    return EXIT_OK
