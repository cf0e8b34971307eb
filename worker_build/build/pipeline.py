"""The build as an explicit, ordered list of steps.

    pre-flight -> toolchain -> [std] -> cargo build -> wasm-bindgen
    -> [loader translation] -> [wasm-opt] -> producers -> bundle -> verify
    -> [python loader] -> install

Options add or drop steps here and nowhere else. One step works in the
background: `loader translation` starts wasm-opt --translate-to-exnref on
wasm-bindgen's module and returns, so that it runs beside the main wasm-opt
(binaryen's wasm-opt is single-threaded, and wasmtime needs that exnref copy);
`python loader` joins it. Its failure is reported by `python loader`, and a
build that fails or is interrupted before then stops it. Everything is written to a
staging directory under the build lock; the `install` step is the only one
that touches the user's output directory.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from worker_build.build import crate as crate_mod
from worker_build.build import incremental, staging
from worker_build.build import options as options_mod
from worker_build.build.context import BuildContext
from worker_build.build.options import BuildOptions, RawArgs
from worker_build.rust import toolchain
from worker_build.rust.toolchain import EhEncoding
from worker_build.tools.resolve import Tool


class Reporter(Protocol):
    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, seconds: float) -> None: ...
    def step_failed(self, name: str, seconds: float) -> None: ...
    def waiting_for_lock(self, out_dir: Path) -> None: ...


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[BuildContext], None]


@dataclass(frozen=True)
class BuildResult:
    context: BuildContext
    timings: list[tuple[str, float]]


def _toolchain(ctx: BuildContext) -> None:
    tc = toolchain.find_toolchain(
        ctx.options.rustc, ctx.options.panic_unwind, ctx.options.crate_path
    )
    ctx.toolchain = tc
    ctx.facts["toolchain"] = tc.label
    ctx.facts["toolchain_rejected"] = [
        {"origin": r.origin, "rustc": str(r.rustc) if r.rustc else None, "reason": r.reason}
        for r in tc.rejected
    ]
    if tc.rejected:
        ctx.notes.append(
            f"toolchain: {tc.origin} chosen; passed over: "
            + "; ".join(r.label for r in tc.rejected)
        )


def _std(ctx: BuildContext) -> None:
    from worker_build.build.steps import std

    std.run(ctx)


def _cargo(ctx: BuildContext) -> None:
    from worker_build.build.steps import cargo

    cargo.run(ctx)


def _bindgen(ctx: BuildContext) -> None:
    from worker_build.build.steps import bindgen

    bindgen.run(ctx)


def _wasm_opt(ctx: BuildContext) -> None:
    from worker_build.build.steps import wasm_opt

    wasm_opt.run(ctx)


def _producers(ctx: BuildContext) -> None:
    from worker_build.build.steps import producers

    producers.run(ctx)


def _bundle(ctx: BuildContext) -> None:
    from worker_build.build.steps import bundle

    bundle.run(ctx)


TRANSLATION_JOB = "loader translation (background)"


def _loader_wasm_opt(ctx: BuildContext) -> Tool:
    """wasm-opt for the loader's exnref copy, even when the build does not optimise."""
    tool = ctx.tools.get("wasm-opt")
    if tool is None:
        from worker_build.tools import resolve

        tool = resolve.wasm_opt(ctx.options.crate_path, ctx.options.install_policy)
        ctx.tools["wasm-opt"] = tool
    return tool


def _start_loader_translation(ctx: BuildContext) -> None:
    from worker_build.build.steps import python_loader

    if python_loader.exports_a_handler(ctx.bindgen_dir / "index_bg.wasm"):
        ctx.facts["loader_translation"] = "not needed: a Worker's loader serves it in workerd"
        return
    job = python_loader.start_translation(_loader_wasm_opt(ctx).path, ctx.bindgen_dir)
    ctx.jobs[TRANSLATION_JOB] = job


def _loader(ctx: BuildContext) -> None:
    from worker_build.build.steps import python_loader

    wasm_opt_tool = ctx.tools.get("wasm-opt")
    if wasm_opt_tool is None and ctx.options.panic_unwind:
        # The loader may need wasm-opt to translate legacy EH to exnref even
        # when the build itself did not optimise.
        wasm_opt_tool = _loader_wasm_opt(ctx)
    info = python_loader.emit_loader(
        ctx.bindgen_dir,
        wasm_opt=wasm_opt_tool.path if wasm_opt_tool else None,
        worker=python_loader.WorkerPaths(ctx.options.crate_path, ctx.options.out_dir),
        translation=ctx.jobs.get(TRANSLATION_JOB),
        encodings=ctx.eh_encodings,  # the verify step decoded the module already
    )
    for name in info.files:
        shutil.copyfile(ctx.bindgen_dir / name, ctx.out_dir / name)
    ctx.facts["loader"] = info.facts()
    if info.translated_to_exnref:
        ctx.notes.append("loader: legacy EH translated to exnref for wasmtime (wasm-opt)")


def _verify(ctx: BuildContext) -> None:
    from worker_build.build.steps import verify

    verify.run(ctx)


def translates_for_loader(options: BuildOptions) -> bool:
    """Whether the module will likely hold legacy EH, which the loader must translate:
    unwind builds unless exnref was asked for (rustc 1.96 defaults to legacy). Abort
    builds get wasm-bindgen's exnref wrappers. A wrong guess costs only time: the
    loader step translates what it finds, and stops a translation it does not need."""
    return options.panic_unwind and options.eh_encoding is not EhEncoding.EXNREF


def plan(options: BuildOptions) -> list[Step]:
    steps = [Step("toolchain", _toolchain)]
    if options.std_cache:
        steps.append(Step("std", _std))
    steps += [Step("cargo build", _cargo), Step("wasm-bindgen", _bindgen)]
    if options.loader and translates_for_loader(options):
        steps.append(Step(TRANSLATION_JOB, _start_loader_translation))
    if options.wasm_opt_args is not None:
        steps.append(Step("wasm-opt", _wasm_opt))
    steps.append(Step("producers", _producers))
    steps.append(Step("bundle", _bundle))
    steps.append(Step("verify", _verify))
    if options.loader:
        steps.append(Step("python loader", _loader))
    return steps


def _timed(
    reporter: Reporter, timings: list[tuple[str, float]], step: Step, ctx: BuildContext
) -> None:
    reporter.step_started(step.name)
    start = time.monotonic()
    try:
        step.run(ctx)
    except BaseException:
        reporter.step_failed(step.name, time.monotonic() - start)
        raise
    elapsed = time.monotonic() - start
    timings.append((step.name, elapsed))
    reporter.step_finished(step.name, elapsed)


def build(
    raw: RawArgs,
    reporter: Reporter,
    finish: Callable[[BuildResult], None] | None = None,
) -> BuildResult:
    """Run the pipeline. `finish` runs with the result while the build lock is still
    held, so what it writes into the output (the JSON report) cannot interleave
    with a concurrent build of the same output."""
    timings: list[tuple[str, float]] = []
    reporter.step_started("pre-flight")
    start = time.monotonic()
    try:
        crate = crate_mod.load_crate(raw.path)
        options = options_mod.resolve(raw, crate.root, crate.metadata)
        staging.check_writable(options.out_dir)
    except BaseException:
        reporter.step_failed("pre-flight", time.monotonic() - start)
        raise
    timings.append(("pre-flight", time.monotonic() - start))
    reporter.step_finished("pre-flight", timings[-1][1])

    with staging.build_lock(
        options.out_dir, options.lock_timeout, lambda: reporter.waiting_for_lock(options.out_dir)
    ):
        scratch = staging.make_staging(options.out_dir)
        ctx = BuildContext(options=options, staging=scratch, crate=crate)
        try:
            ctx.out_dir.mkdir(parents=True)
            for step in plan(options):
                _timed(reporter, timings, step, ctx)
                # Issue 7: build/ already holds what the remaining steps would write.
                if step.run is _cargo and incremental.up_to_date(ctx):
                    break
            else:
                # Sizes go into the recorded facts, so a skipped rebuild reports them
                # without compressing unchanged files again.
                ctx.facts.update(staging.measure(ctx.out_dir))
                incremental.record(ctx)  # state file, installed together with the output
                _timed(reporter, timings, Step("install", _install), ctx)
            result = BuildResult(ctx, timings)
            if finish is not None:
                finish(result)
        finally:
            for job in ctx.jobs.values():  # before their files go: none outlives the build
                job.stop()
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def _install(ctx: BuildContext) -> None:
    staging.replace_dir(ctx.out_dir, ctx.options.out_dir)


@dataclass(frozen=True)
class CargoInvocation:
    argv: list[str]
    env: dict[str, str]  # layered over os.environ, as the cargo step does
    cwd: Path
    context: BuildContext  # the toolchain and std the steps chose (facts, notes)


def cargo_invocation(raw: RawArgs) -> CargoInvocation:
    """The cargo command a build of `raw` runs, after the steps before it (toolchain,
    and std: a std cache entry is built if missing). For tools that drive cargo
    themselves with worker-build's flags: benchmarks, tests sharing a target dir with
    real builds."""
    from worker_build.build.steps import cargo

    crate = crate_mod.load_crate(raw.path)
    options = options_mod.resolve(raw, crate.root, crate.metadata)
    ctx = BuildContext(options=options, staging=options.out_dir, crate=crate)  # not written
    for step in plan(options):
        if step.run is _cargo:
            break
        step.run(ctx)
    tc = ctx.need_toolchain()
    return CargoInvocation(
        cargo.command(options, tc, ctx.std), cargo.environment(options, tc, ctx.std), crate.root,
        ctx,
    )  # fmt: skip
