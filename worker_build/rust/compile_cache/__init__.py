"""The compile cache: a crate's dependencies compiled once per machine, and shared
between machines through sccache's storage.

Two mechanisms, cargo's and sccache's, both on by default (`--no-compile-cache` /
`compile-cache = false` turn them off):
- builddir.py: one cargo build directory (`build.build-dir`) under worker-build's cache
  for every crate, so a dependency compiled for one crate is fresh for the next;
- server.py: sccache as cargo's rustc wrapper, with a server of its own per cache
  directory, for what the build directory cannot share (a busy build directory, another
  machine through sccache's remote storage: Redis, S3, GCS, WebDAV, GitHub Actions),
  std cache entries included (their seed build runs through it too);
- use.py: what one build uses (`prepare`), its facts for the report;
- listing.py: what `worker-build cache` lists and prunes of it.

Layout, under `<cache>/compile/`: `build-dir/` (cargo's), `build-dir.lock`,
`build-dir.used`, `build-dir.roots.json`, `sccache/` (sccache's local disk storage
unless SCCACHE_DIR is set), `sccache.lock`, `server.lock`, `sccache-*.sock`.
"""

from __future__ import annotations

from worker_build.rust.compile_cache.server import Server, Stats, backend, compile_root
from worker_build.rust.compile_cache.use import (
    CompileCache,
    Outlook,
    outlook,
    prepare,
    user_wrapper,
)

__all__ = [
    "CompileCache",
    "Outlook",
    "Server",
    "Stats",
    "backend",
    "compile_root",
    "outlook",
    "prepare",
    "user_wrapper",
]
