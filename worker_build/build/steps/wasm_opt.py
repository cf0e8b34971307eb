"""Step: wasm-opt over the bindgen module (release-like profiles only)."""

from __future__ import annotations

from worker_build.build.context import BuildContext
from worker_build.tools import resolve
from worker_build.util import proc


def run(ctx: BuildContext) -> None:
    args = ctx.options.wasm_opt_args
    assert args is not None, "the pipeline only schedules this step when wasm-opt is on"
    tool = resolve.wasm_opt(ctx.options.crate_path, ctx.options.install_policy)
    ctx.tools["wasm-opt"] = tool
    module = ctx.bindgen_dir / "index_bg.wasm"
    optimized = module.with_name("index_bg.wasm-opt.wasm")
    before = module.stat().st_size
    proc.run([str(tool.path), *args, str(module), "-o", str(optimized)])
    optimized.replace(module)
    ctx.facts["wasm_opt_saved_bytes"] = before - module.stat().st_size
