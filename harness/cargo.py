"""cargo as worker-build runs it, for tests and benchmarks that drive cargo themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from worker_build.build import crate as crate_mod
from worker_build.build import options as options_mod
from worker_build.build import pipeline
from worker_build.build.context import BuildContext
from worker_build.build.options import RawArgs
from worker_build.build.steps import cargo


@dataclass(frozen=True)
class CargoInvocation:
    argv: list[str]
    env: dict[str, str]  # layered over os.environ, as the cargo step does
    cwd: Path
    context: BuildContext  # the toolchain and std the steps chose (facts, notes)


def cargo_invocation(raw: RawArgs) -> CargoInvocation:
    """The cargo command a build of `raw` runs, after the steps before it (toolchain,
    the compile cache, and std: a std cache entry is built if missing). Nothing is
    written to the output. The compile cache's locks are let go: the caller's cargo
    then shares the build directory under cargo's own lock."""
    crate = crate_mod.load_crate(raw.path)
    options = options_mod.resolve(raw, crate.root, crate.metadata)
    ctx = BuildContext(options=options, staging=options.out_dir, crate=crate)
    for step in pipeline.plan(options):
        if step.name == pipeline.CARGO:
            break
        step.run(ctx)
    tc = ctx.need_toolchain()
    cache = ctx.compile_cache
    ctx.cleanup.close()
    return CargoInvocation(
        cargo.command(options, tc, ctx.std, cache), cargo.environment(options, tc, ctx.std, cache),
        crate.root, ctx,
    )  # fmt: skip
