"""Step `tools (offline)`, first with `--offline` only: every tool the plan will run is
looked up now (never fetched), and all that are missing are named in one error, before
minutes of std and cargo build would end in the same error for the first of them.

Without --offline each step resolves its tool when it runs, fetching what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from worker_build.build.context import BuildContext
from worker_build.build.options import BuildOptions
from worker_build.errors import ToolMissingError
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy, Tool

NAME = "tools (offline)"


def wasm_opt_needed(options: BuildOptions) -> bool:
    """The wasm-opt step, or the Python loader's legacy -> exnref translation."""
    return options.wasm_opt_args is not None or (options.loader and options.panic_unwind)


def run(ctx: BuildContext) -> None:
    crate, options = ctx.need_crate(), ctx.options
    policy, root = InstallPolicy.OFFLINE, options.crate_path
    lookups: dict[str, Callable[[], Tool]] = {  # in the order the steps run them
        "wasm-bindgen": lambda: resolve.wasm_bindgen(crate.wasm_bindgen_version, policy),
    }
    if wasm_opt_needed(options):
        lookups["wasm-opt"] = lambda: resolve.wasm_opt(root, policy)
    lookups["esbuild"] = lambda: resolve.esbuild(root, policy)
    missing: list[ToolMissingError] = []
    for lookup in lookups.values():
        try:
            lookup()
        except ToolMissingError as exc:
            missing.append(exc)
    if not missing:
        return
    fixes = "; ".join(exc.fix for exc in missing if exc.fix)
    what = missing[0].headline if len(missing) == 1 else f"{len(missing)} tools are missing"
    raise ToolMissingError(
        f"--offline: {what}"
        + ("".join(f"\n{exc.headline}" for exc in missing) if len(missing) > 1 else ""),
        f"build once without --offline to fetch {'it' if len(missing) == 1 else 'them'} "
        f"into the cache, or {fixes}",
    )
