"""Step: wasm-bindgen at the locked version, with reset-state and abort-handler support
(module target), or without them for the legacy layout (bundler target)."""

from __future__ import annotations

from worker_build.build.context import BuildContext
from worker_build.errors import CommandFailedError, ToolMissingError
from worker_build.tools import resolve
from worker_build.util import proc

# wasm-bindgen reports a CLI/crate schema mismatch with this phrase.
SCHEMA_MISMATCH = "different bindgen format"


def run(ctx: BuildContext) -> None:
    crate, options = ctx.need_crate(), ctx.options
    tool = resolve.wasm_bindgen(crate.wasm_bindgen_version, options.install_policy)
    ctx.tools["wasm-bindgen"] = tool
    if tool.version != crate.wasm_bindgen_version:
        ctx.notes.append(
            f"WASM_BINDGEN_BIN is wasm-bindgen {tool.version}, "
            f"Cargo.lock has {crate.wasm_bindgen_version}"
        )
    ctx.bindgen_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(tool.path),
        str(ctx.need_artifact()),
        "--out-dir",
        str(ctx.bindgen_dir),
        "--target",
        "bundler" if options.legacy_layout else "module",
        "--out-name",
        "index",
        "--no-typescript",
    ]
    if not options.legacy_layout:
        # What the recovery shim needs: __wbg_reset_state, and the abort handler also in
        # panic=abort builds. The Rust tool leaves both out with --no-panic-recovery or
        # CUSTOM_SHIM, and so do we.
        argv += ["--experimental-reset-state-function", "--force-enable-abort-handler"]
    if options.profile.bindgen_debug:
        argv.append("--debug")
    try:
        proc.run(argv)
    except CommandFailedError as exc:
        if SCHEMA_MISMATCH in exc.output:
            raise ToolMissingError(
                f"wasm-bindgen {tool.version} ({tool.source.value}) cannot read this crate: "
                f"Cargo.lock locks wasm-bindgen {crate.wasm_bindgen_version}",
                f"unset WASM_BINDGEN_BIN or point it at wasm-bindgen {crate.wasm_bindgen_version}",
            ) from exc
        raise
