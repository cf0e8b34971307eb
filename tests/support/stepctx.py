"""A BuildContext as a step finds it, for unit tests of one step on a small crate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cratefix import write_crate
from worker_build.build.context import BuildContext
from worker_build.build.crate import load_crate
from worker_build.build.options import RawArgs, resolve

# What the build's options read from the environment besides the command line, and the
# tools a step would otherwise take from the caller's environment.
OPTION_VARIABLES = ("CUSTOM_SHIM", "NO_MINIFY", "RUN_TO_COMPLETION")
TOOL_VARIABLES = ("WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN")


def isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """None of the caller's option or tool variables, and a cache of the test's own."""
    for var in (*OPTION_VARIABLES, *TOOL_VARIABLES):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


def step_context(
    tmp_path: Path, metadata: dict[str, Any] | None = None, **raw: Any
) -> BuildContext:
    """The context after pre-flight and `cargo build`: `tmp_path/crate` (my-worker, locking
    wasm-bindgen 0.2.130) with options from `raw` (RawArgs fields) and `metadata` (its
    [package.metadata]), and a cargo artifact of a few bytes."""
    crate = load_crate(write_crate(tmp_path / "crate"))
    options = resolve(RawArgs(path=crate.root, **raw), crate.root, metadata or {})
    artifact = tmp_path / "target" / "my_worker.wasm"
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_bytes(b"\0asm\1\0\0\0")
    return BuildContext(
        options=options, staging=tmp_path / "staging", crate=crate, artifact=artifact
    )
