"""Issue 16, end to end: a project's own esbuild of another version (what `npm install
wrangler` brings) is passed over for the pinned one, the summary and the report say so,
and it does not make the next build rebuild.

The real CLI, cargo, wasm-bindgen and esbuild build a copy of pure-exports. The project's
other esbuild is a decoy that reports 0.27.3: it is only asked its version, never run as
a bundler (running it would be the bug)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from harness.paths import CACHE, NODE_BIN, SAMPLES
from tests.support.builds import tool_env, wasm_bindgen_for, worker_build
from tests.support.fakes import fake_exe

pytestmark = pytest.mark.slow


def test_a_projects_own_esbuild_of_another_version_is_passed_over(tmp_path: Path) -> None:
    project = tmp_path / "prøject"
    crate = project / "worker"
    shutil.copytree(
        SAMPLES / "pure-exports", crate, ignore=shutil.ignore_patterns("target", "build")
    )
    # the pinned esbuild where a workspace keeps it (the real one, from this checkout)
    (project / "node_modules" / ".bin").mkdir(parents=True)
    os.symlink(NODE_BIN / "esbuild", project / "node_modules" / ".bin" / "esbuild")
    env = tool_env()
    env["PATH"] = env["PATH"].replace(str(NODE_BIN), str(tmp_path / "no-node-modules"))
    env["WASM_BINDGEN_BIN"] = str(wasm_bindgen_for(crate))
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "pure-exports-abort")
    env.pop("ESBUILD_BIN", None)
    args = (crate, "--dev", "--no-loader", "--json")

    first = worker_build(*args, env=env)
    assert first.returncode == 0, first.stderr[-4000:]
    doc = json.loads(first.stdout)
    assert doc["tools"]["esbuild"] == "esbuild 0.28.2 (node_modules)"
    assert doc["tools_passed_over"] == {}

    # `npm install wrangler` in the crate: its own esbuild, nearer than the pinned one
    decoy = fake_exe(crate / "node_modules" / ".bin" / "esbuild", "echo 0.27.3")
    second = worker_build(*args, env=env)
    assert second.returncode == 0, second.stderr[-4000:]
    doc = json.loads(second.stdout)
    assert doc["tools"]["esbuild"] == "esbuild 0.28.2 (node_modules)"
    reason = f"esbuild 0.27.3, not the pinned 0.28.2; set ESBUILD_BIN={decoy} to use it anyway"
    assert doc["tools_passed_over"]["esbuild"] == [
        {"origin": "node_modules", "path": str(decoy), "version": "0.27.3", "reason": reason}
    ]
    assert doc["incremental"]["up_to_date"] is True, doc["incremental"]  # nothing rebuilt
    assert f"passed over: {decoy} (node_modules): {reason}" in second.stderr
