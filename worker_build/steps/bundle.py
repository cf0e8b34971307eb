"""Step: bundle our shim with wasm-bindgen's glue into worker-build 0.8's output layout.

Layout written to the staging out dir (moved to build/ at the end):
  index.js, index_bg.wasm, package.json, worker/shim.mjs, .gitignore
"""

from __future__ import annotations

import json
import re
import shutil

from worker_build import proc, tools
from worker_build.context import BuildContext
from worker_build.resources import template

EXTERNALS = (
    "./index_bg.wasm",
    "cloudflare:sockets",
    "cloudflare:workers",
    "cloudflare:email",
)
# wasm-bindgen emits a source-phase import; wrangler's CompiledWasm rule (and
# workerd's wasm module type) expect a plain default import of the .wasm.
# Minified output has no space before the specifier and identifiers may hold `$`.
SOURCE_IMPORT = re.compile(
    r"""import\s+source\s+([A-Za-z_$][\w$]*)\s+from\s*(["']\./index_bg\.wasm["'])"""
)
# Classes the glue exports (Durable Objects among them): the shim wraps each one so it
# is re-created on a fresh instance after a reset.
CLASS_EXPORT = re.compile(r"^export class ([A-Za-z_$][\w$]*)", re.MULTILINE)


def shim_config(ctx: BuildContext) -> str:
    return json.dumps(
        {"panicUnwind": ctx.options.panic_unwind, "panicBody": ctx.options.panic_body.value},
        separators=(",", ":"),
    )


def esbuild_command(ctx: BuildContext, esbuild: str) -> list[str]:
    argv = [
        esbuild,
        str(ctx.bindgen_dir / "shim.js"),
        "--bundle",
        "--format=esm",
        f"--outfile={ctx.out_dir / 'index.js'}",
        *(f"--external:{name}" for name in EXTERNALS),
        f"--define:WORKER_BUILD_CONFIG={shim_config(ctx)}",
        "--log-level=warning",
    ]
    if ctx.options.minify:
        argv.append("--minify")
    return argv


def package_json(ctx: BuildContext) -> str:
    crate = ctx.need_crate()
    name = crate.package_name
    if ctx.options.scope:
        name = f"@{ctx.options.scope.lstrip('@')}/{name}"
    doc = {"name": name, "type": "module", "main": "index.js", "private": True}
    return json.dumps(doc, indent=2) + "\n"


def shim_source(glue_js: str) -> str:
    """Our shim plus one wrapper export per class the glue exports."""
    wrappers = "".join(
        f'export const {name} = __workerBuildClass("{name}");\n'
        for name in CLASS_EXPORT.findall(glue_js)
    )
    return template("shim.js").read_text(encoding="utf-8") + "\n" + wrappers


def run(ctx: BuildContext) -> None:
    tool = tools.esbuild(ctx.options.crate_path, ctx.options.install_policy)
    ctx.tools["esbuild"] = tool
    out = ctx.out_dir
    (out / "worker").mkdir(parents=True, exist_ok=True)
    glue = (ctx.bindgen_dir / "index.js").read_text(encoding="utf-8")
    (ctx.bindgen_dir / "shim.js").write_text(shim_source(glue), encoding="utf-8")
    proc.run(esbuild_command(ctx, str(tool.path)))

    bundled = out / "index.js"
    text = bundled.read_text(encoding="utf-8")
    bundled.write_text(SOURCE_IMPORT.sub(r"import \1 from \2", text), encoding="utf-8")
    shutil.copyfile(ctx.bindgen_dir / "index_bg.wasm", out / "index_bg.wasm")
    (out / "package.json").write_text(package_json(ctx), encoding="utf-8")
    (out / "worker" / "shim.mjs").write_text(
        'export * from "../index.js";\nexport { default } from "../index.js";\n', encoding="utf-8"
    )
    (out / ".gitignore").write_text("*\n", encoding="utf-8")
