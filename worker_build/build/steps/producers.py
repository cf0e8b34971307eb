"""Step: record the SDK in the module's `producers` section, as worker-build 0.8.7 does.

The Rust tool merges `sdk: workers-rs <its version>` into every module it writes
(after wasm-opt, before bundling), which lets the platform see which workers-rs
toolchain built a deployed module. We write the same entry, with the version of
the Rust tool whose output and behaviour we reproduce, so a module built here is
counted like one built by worker-build 0.8.7 (README, "What a build does").
"""

from __future__ import annotations

from worker_build.build.context import BuildContext
from worker_build.wasm.producers_section import Entry, add_entries

# worker-build's own version goes into the entry; ours is a drop-in for this one.
COMPATIBLE_WORKER_BUILD = "0.8.7"
SDK_ENTRY: Entry = ("sdk", "workers-rs", COMPATIBLE_WORKER_BUILD)


def run(ctx: BuildContext) -> None:
    module = ctx.bindgen_dir / "index_bg.wasm"
    data = module.read_bytes()
    updated = add_entries(data, [SDK_ENTRY])
    if updated is not data:
        staged = module.with_name(module.name + ".producers")
        staged.write_bytes(updated)
        staged.replace(module)
    ctx.facts["producers_sdk"] = " ".join(SDK_ENTRY[1:])
