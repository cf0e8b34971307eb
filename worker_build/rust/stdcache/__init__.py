"""The std cache: a wasm32 std built once per key and shared by every target directory.

`-Zbuild-std` compiles std inside each crate's target directory, for minutes. The std
cache compiles it once for each distinct `StdSpec` (compiler, std sources, panic
strategy, profile, features, rustflags) into `<cache>/std/<key>/`, and the crate's
cargo then runs that entry's rustc wrapper, which adds the entry's sysroot.

- spec.py: `StdSpec`, its key and description, and which rustflags matter;
- query.py: asking cargo (its unit graph) what it applies to std, and the memo of it;
- store.py: the layout on disk, checking an entry, `ensure` (find or build, locked);
- seed.py: building an entry through an empty seed crate, and the rustc wrapper;
- listing.py: listing entries and pruning them and the leftovers of killed builds.

The names below are what the build (build/steps/std.py, build/steps/cargo.py) and
the CLI (`worker-build cache`, `doctor`) use.
"""

from __future__ import annotations

from worker_build.rust.stdcache.listing import Listed, entries, leftovers, remove, remove_leftover
from worker_build.rust.stdcache.query import settings_for
from worker_build.rust.stdcache.seed import build_entry, prepare_entry
from worker_build.rust.stdcache.spec import StdSettings, StdSpec, source_stamp, spec_for
from worker_build.rust.stdcache.store import (
    Entry,
    StdCacheError,
    StdMode,
    StdUse,
    ensure,
    problem,
    root,
)

__all__ = [
    "Entry",
    "Listed",
    "StdCacheError",
    "StdMode",
    "StdSettings",
    "StdSpec",
    "StdUse",
    "build_entry",
    "ensure",
    "entries",
    "leftovers",
    "prepare_entry",
    "problem",
    "remove",
    "remove_leftover",
    "root",
    "settings_for",
    "source_stamp",
    "spec_for",
]
