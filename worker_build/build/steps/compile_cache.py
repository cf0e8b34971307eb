"""Step: the compile cache this build uses (rust/compile_cache/), before std and cargo.

In the plan unless `--no-compile-cache` / `compile-cache = false`. It decides the rustc
wrapper (sccache through this cache directory's own server when there is a storage to
share with, unless the user configured a wrapper of their own) and takes the shared
build directory when no other build is compiling there; the std step (the std cache
entry's seed build, the host prebuild) and the cargo step use what it decided. The cargo
step reports sccache's counts and lets the build directory go as soon as cargo is done.
A cache directory it cannot write is a note: the build goes on as cargo alone would run
it.
"""

from __future__ import annotations

import os

from worker_build.build.context import BuildContext
from worker_build.errors import NotWritableError
from worker_build.rust import compile_cache
from worker_build.util.cachedir import cache_root


def run(ctx: BuildContext) -> None:
    crate = ctx.need_crate()
    try:
        cache = compile_cache.prepare(
            cache_root(),
            crate_root=crate.root,
            lockfile=crate.lockfile,
            rust_version=ctx.need_toolchain().version,
            cargo_args=ctx.options.cargo_args,
            environ=os.environ,
            timeout=ctx.options.lock_timeout,
            stack=ctx.cleanup,
        )
    except NotWritableError as exc:  # a cache is worth no failed build
        ctx.notes.append(f"compile cache not used: {exc.message}")
        return
    ctx.compile_cache = cache
    ctx.notes += cache.notes
