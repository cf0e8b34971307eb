"""The facts of a build, as `--json` prints them and `<out>/worker-build.json` keeps them.

The report of a successful build is staged and renamed into the output last (under the
build lock, also after a build that found the output up to date); a failed build's
report goes to stdout only, so the output directory keeps the last good build's.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from worker_build import __version__
from worker_build.build.context import BuildContext
from worker_build.build.staging import install_file
from worker_build.errors import WorkerBuildError

SCHEMA = 1
# The JSON report of the last build, written into the output directory.
REPORT_NAME = "worker-build.json"


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=9))


def measure(out_dir: Path) -> dict[str, int]:
    """Raw and gzip sizes of the two files a Worker uploads (the module and the bundle,
    `worker/` in the legacy layout of --no-panic-recovery / CUSTOM_SHIM)."""
    wasm, js = out_dir / "index_bg.wasm", out_dir / "index.js"
    if not wasm.exists() and (out_dir / "worker" / "index.wasm").is_file():
        wasm, js = out_dir / "worker" / "index.wasm", out_dir / "worker" / "shim.mjs"
    return {
        "wasm_bytes": wasm.stat().st_size,
        "wasm_gzip_bytes": gzip_size(wasm),
        "js_bytes": js.stat().st_size,
        "js_gzip_bytes": gzip_size(js),
    }


def facts_of(
    ctx: BuildContext, timings: Iterable[tuple[str, float]], start: float
) -> dict[str, Any]:
    """What a finished build reports: what each step found, the options that shaped
    it, the tools used and each step's time."""
    return {
        **ctx.facts,
        "out_dir": str(ctx.options.out_dir),
        "profile": ctx.options.profile.name,
        "panic_strategy": "unwind" if ctx.options.panic_unwind else "abort",
        "tools": {name: tool.label for name, tool in ctx.tools.items()},
        # what tools/resolve.py looked at before the tool it used, and why not that one
        "tools_passed_over": {
            name: [p.as_json() for p in tool.passed_over]
            for name, tool in ctx.tools.items()
            if tool.passed_over
        },
        "steps": [{"name": name, "seconds": round(sec, 3)} for name, sec in timings],
        "notes": list(ctx.notes),
        "seconds": time.monotonic() - start,
    }


def document(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The report of a successful build."""
    return {"schema": SCHEMA, "ok": True, "worker_build_version": __version__, **facts}


def failure_document(
    exc: WorkerBuildError, failed_step: str | None, finished: Iterable[tuple[str, float]]
) -> dict[str, Any]:
    """The report of a failed build: the error as its one line shows it, split into its
    parts, the step that failed and the steps that finished before it."""
    return {
        "schema": SCHEMA,
        "ok": False,
        "worker_build_version": __version__,
        "exit_code": exc.exit_code,
        "error": {
            "type": type(exc).__name__,
            "message": exc.headline,
            "fix": exc.fix,
            "details": exc.details,
        },
        "failed_step": failed_step,
        "steps": [{"name": name, "seconds": round(sec, 3)} for name, sec in finished],
    }


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def write(facts: Mapping[str, Any], staging: Path) -> Path:
    """Put `worker-build.json` into the output directory (`facts["out_dir"]`), staged in
    the build's `staging` directory and renamed into place; return its path. Call it
    after a successful build, with the build lock still held."""
    return install_file(staging, Path(str(facts["out_dir"])), REPORT_NAME, dumps(document(facts)))
