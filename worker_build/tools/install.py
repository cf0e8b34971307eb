"""Installing a tool into the cache when no prebuilt one could be fetched: `cargo install
wasm-bindgen-cli` (compiled from source, minutes) or `npm install` (binaryen's
JavaScript build, esbuild, workerd).

Each installs into a temporary directory beside its final place and is renamed into
place only when it succeeded: concurrent installs never see half a tool, and a failed
install leaves nothing behind.

These are the long, silent parts of a first build, so before one starts the reporter is
told what runs and why (`Progress.task_started`: "no prebuilt wasm-bindgen 0.2.130
reachable (...); compiling wasm-bindgen-cli 0.2.130 with `cargo install` into ..., about
5 min on 2 cores"), and unless it says
otherwise (--quiet) the installer's own output is shown as it comes: cargo's `Compiling`
lines, and on a terminal its progress bar, as the cargo build step shows them.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from worker_build.errors import ToolMissingError
from worker_build.tools.cache_writes import local_error
from worker_build.tools.download import Progress
from worker_build.util import proc

# What a user waits for, measured on this project's 2-core machines (issue 16: 5 of a
# first build's 8 minutes); said before the job starts, never used as a timeout.
CARGO_ESTIMATE = "about 5 min on 2 cores"
NPM_ESTIMATE = "usually under a minute"
# cargo's complaint when the CLI's own lockfile pins a crate version the registry lacks
# (yanked or not mirrored); a fresh resolution then still builds.
UNSELECTABLE = "failed to select a version"


def _terminal_env() -> dict[str, str]:
    """cargo's stderr is our pipe: where ours is a terminal, keep its colour and progress
    bar. (The cargo build step has its own copy: tools/ sits below build/.)"""
    try:
        tty = sys.stderr.isatty()
        columns = os.get_terminal_size(sys.stderr.fileno()).columns if tty else 0
    except (AttributeError, OSError, ValueError):
        tty, columns = False, 0
    if not tty or os.environ.get("TERM") == "dumb":
        return {}
    env: dict[str, str] = {}
    if "CARGO_TERM_COLOR" not in os.environ and not os.environ.get("NO_COLOR"):
        env["CARGO_TERM_COLOR"] = "always"
    if "CARGO_TERM_PROGRESS_WHEN" not in os.environ:
        env["CARGO_TERM_PROGRESS_WHEN"] = "always"
        env["CARGO_TERM_PROGRESS_WIDTH"] = str(columns or 80)
    return env


def _run(argv: list[str], shown: bool) -> proc.Result:
    """The installer, its stderr shown live (and kept) when `shown`, else captured."""
    if shown:
        return proc.run(argv, output=proc.Output.TEE, env=_terminal_env(), check=False)
    return proc.run(argv, output=proc.Output.CAPTURE, check=False)


def _failure(result: proc.Result) -> str:
    text = (result.stderr + "\n" + result.stdout).strip()
    return "\n".join(text.splitlines()[-30:])


def into_cache(
    argv_for: Callable[[Path], list[str]], final: Path, shown: bool
) -> proc.Result | None:
    """Run the installer into a temp dir next to `final`, then rename it into place.
    None when it succeeded (or a concurrent install won); its Result when it failed."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise local_error(exc, "create a directory in", final.parent) from exc
    try:
        result = _run(argv_for(staging), shown)
        if result.returncode != 0:
            return result
        if not final.exists():  # else another process won the race: keep theirs
            staging.rename(final)
        return None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def cargo_install(
    cargo: str, crate: str, version: str, root: Path, progress: Progress, why: str, fix: str
) -> None:
    """`cargo install CRATE --version V --root <root> --locked`, again without `--locked`
    when the registry lacks a version the CLI's lockfile pins."""

    def argv(dest: Path, locked: bool) -> list[str]:
        cmd = [cargo, "install", crate, "--version", version, "--root", str(dest)]
        return [*cmd, "--locked"] if locked else cmd

    shown = progress.task_started(
        f"compiling {crate} {version} with `cargo install` into {root}, {CARGO_ESTIMATE}", why
    )
    try:
        failed = into_cache(lambda d: argv(d, True), root, shown)
        if failed is not None and UNSELECTABLE in failed.stderr + failed.stdout:
            failed = into_cache(lambda d: argv(d, False), root, shown)
    finally:
        progress.task_ended()
    if failed is not None:
        raise ToolMissingError(
            f"installing {crate} {version} with cargo failed:\n{_failure(failed)}", fix
        )


def npm_install(
    npm: str, package: str, version: str, root: Path, progress: Progress, why: str, fix: str
) -> None:
    """`npm install --prefix <root> PACKAGE@VERSION` (no package.json is written)."""
    spec = f"{package}@{version}"
    shown = progress.task_started(f"installing npm's {spec} into {root}, {NPM_ESTIMATE}", why)
    try:
        failed = into_cache(
            lambda d: [
                npm, "install", "--prefix", str(d), "--no-save", "--no-audit", "--no-fund", spec,
            ],
            root,
            shown,
        )  # fmt: skip
    finally:
        progress.task_ended()
    if failed is not None:
        raise ToolMissingError(f"installing {spec} failed:\n{_failure(failed)}", fix)
