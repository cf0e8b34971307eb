"""The build as an explicit, ordered list of steps.

    pre-flight -> [tools (offline)] -> toolchain -> [Cargo.lock] -> [compile cache]
    -> [std] -> cargo build -> wasm-bindgen -> [loader translation] -> [wasm-opt]
    -> producers -> bundle -> verify -> [python loader] -> install

Options add or drop steps here and nowhere else (and a crate without a complete
Cargo.lock adds the step that has cargo write it). One step works in the
background: `loader translation` starts wasm-opt --translate-to-exnref on
wasm-bindgen's module and returns, so that it runs beside the main wasm-opt
(binaryen's wasm-opt is single-threaded, and wasmtime needs that exnref copy);
`python loader` joins it. Its failure is reported by `python loader`, and a
build that fails or is interrupted before then stops it. Everything is written to a
staging directory under the build lock; the `install` step is the only one
that touches the user's output directory. The bodies of the steps are in steps/,
one module per step.

After `cargo build` (the step's `checkpoint`), Cargo.lock is read again if cargo changed
it, and a build whose output directory already holds what the remaining steps would write
stops (incremental.py).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from worker_build.build import crate as crate_mod
from worker_build.build import incremental, staging
from worker_build.build import options as options_mod
from worker_build.build.context import BuildContext
from worker_build.build.options import BuildOptions, RawArgs
from worker_build.build.steps import (
    bindgen,
    bundle,
    cargo,
    compile_cache,
    install,
    lockfile,
    offline_tools,
    producers,
    python_loader,
    std,
    toolchain,
    verify,
    wasm_opt,
)
from worker_build.tools.tool import InstallPolicy

PREFLIGHT = "pre-flight"
CARGO = "cargo build"
T = TypeVar("T")


class Reporter(Protocol):
    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, seconds: float) -> None: ...
    def step_failed(self, name: str, seconds: float) -> None: ...
    def waiting_for_lock(self, out_dir: Path) -> None: ...


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BuildContext], None]
    # After this step the build stops when the output directory already holds what the
    # remaining steps would write (incremental.py): cargo's answer decides it.
    checkpoint: bool = False


@dataclass(frozen=True)
class BuildResult:
    context: BuildContext
    timings: list[tuple[str, float]]


def plan(options: BuildOptions, *, write_lock: bool = False) -> list[Step]:
    steps = [Step("toolchain", toolchain.run)]
    if write_lock:
        steps.append(Step(lockfile.NAME, lockfile.run))
    if options.install_policy is InstallPolicy.OFFLINE:
        # Missing tools are named before any build step: first, or right after the lock
        # file is written when there was none, since it tells which wasm-bindgen to look up.
        steps.insert(len(steps) if write_lock else 0, Step(offline_tools.NAME, offline_tools.run))
    if options.compile_cache:
        steps.append(Step("compile cache", compile_cache.run))
    if options.std_cache:
        steps.append(Step("std", std.run))
    steps += [Step(CARGO, cargo.run, checkpoint=True), Step("wasm-bindgen", bindgen.run)]
    if options.loader and python_loader.translates(options):
        steps.append(Step(python_loader.TRANSLATION_JOB, python_loader.start))
    if options.wasm_opt_args is not None:
        steps.append(Step("wasm-opt", wasm_opt.run))
    steps.append(Step("producers", producers.run))
    steps.append(Step("bundle", bundle.run))
    steps.append(Step("verify", verify.run))
    if options.loader:
        steps.append(Step("python loader", python_loader.run))
    steps.append(Step("install", install.run))
    return steps


def _timed(
    reporter: Reporter, timings: list[tuple[str, float]], name: str, run: Callable[[], T]
) -> T:
    reporter.step_started(name)
    start = time.monotonic()
    try:
        value = run()
    except BaseException:
        reporter.step_failed(name, time.monotonic() - start)
        raise
    elapsed = time.monotonic() - start
    timings.append((name, elapsed))
    reporter.step_finished(name, elapsed)
    return value


def build(
    raw: RawArgs,
    reporter: Reporter,
    finish: Callable[[BuildResult], None] | None = None,
) -> BuildResult:
    """Run the pipeline. `finish` runs with the result while the build lock is still
    held, so what it writes into the output (the JSON report) cannot interleave
    with a concurrent build of the same output."""
    timings: list[tuple[str, float]] = []

    def preflight() -> tuple[crate_mod.Crate | crate_mod.LockNeeded, BuildOptions]:
        manifest = crate_mod.read_manifest(raw.path)
        options = options_mod.resolve(raw, manifest.root, manifest.metadata)
        found = crate_mod.read_lock(manifest)
        if isinstance(found, crate_mod.LockNeeded):
            refused = lockfile.refusal(found, options.cargo_args)
            if refused is not None:
                raise refused
        staging.check_writable(options.out_dir)
        return found, options

    found, options = _timed(reporter, timings, PREFLIGHT, preflight)
    needed = found if isinstance(found, crate_mod.LockNeeded) else None
    crate = found if isinstance(found, crate_mod.Crate) else None
    with staging.build_lock(
        options.out_dir, options.lock_timeout, lambda: reporter.waiting_for_lock(options.out_dir)
    ):
        scratch = staging.make_staging(options.out_dir)
        ctx = BuildContext(options=options, staging=scratch, crate=crate, lock_needed=needed)
        try:
            ctx.out_dir.mkdir(parents=True)
            for step in plan(options, write_lock=needed is not None):
                _timed(reporter, timings, step.name, partial(step.run, ctx))
                if step.checkpoint:
                    ctx.crate = crate_mod.refresh(ctx.need_crate())  # as cargo left Cargo.lock
                    ctx.mark_checkpoint()
                    if incremental.up_to_date(ctx):
                        break
            result = BuildResult(ctx, timings)
            if finish is not None:
                finish(result)
        finally:
            for job in ctx.jobs.values():  # before their files go: none outlives the build
                job.stop()
            ctx.cleanup.close()
            shutil.rmtree(scratch, ignore_errors=True)
    return result
