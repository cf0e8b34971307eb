"""Step: choose the Rust toolchain (rust/toolchain.py) and say which ones were passed over."""

from __future__ import annotations

from worker_build.build.context import BuildContext
from worker_build.rust import toolchain


def run(ctx: BuildContext) -> None:
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
