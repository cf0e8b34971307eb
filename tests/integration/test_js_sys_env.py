"""WASM_BINDGEN_USE_JS_SYS=1 for cargo, as the Rust worker-build sets it.

wasm-bindgen 0.2.130's macro reads the variable when it expands an async export:
set, the export is driven by `js_sys::futures`; unset, by `wasm_bindgen_futures`
(which 0.4.80 only re-exports from js-sys, so the output is the same code). What it
changes is which crate the user's crate must depend on. The fixture
tests/data/js-sys-async depends on js-sys and not on wasm-bindgen-futures: it
builds only with the variable, and its async `fetch` export then runs in workerd.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cargo import cargo_invocation
from harness.paths import REPO
from harness.workerd import Workerd
from tests.support.builds import VENV_BIN, cargo_target_dir, tool_env, worker_build
from worker_build.build.options import RawArgs
from worker_build.build.steps.cargo import JS_SYS_ENV

pytestmark = pytest.mark.slow

CRATE = REPO / "tests" / "data" / "js-sys-async"


def env_for_build() -> dict[str, str]:
    env = tool_env()
    env.pop(JS_SYS_ENV, None)  # worker-build must set it itself
    # same profile and flags as pure-exports' unwind fixture: its std build is reused
    env["CARGO_TARGET_DIR"] = str(cargo_target_dir("pure-exports", "legacy"))
    return env


def test_async_export_without_wasm_bindgen_futures_builds_and_runs(tmp_path: Path) -> None:
    out = tmp_path / "build"
    proc = worker_build(CRATE, "--panic-unwind", "--no-loader", "--out-dir", out, "--verbose",
                        env=env_for_build())  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the command line --verbose shows is the one cargo ran
    cargo_line = next(line for line in proc.stderr.splitlines() if " build --lib " in line)
    assert f"{JS_SYS_ENV}=1" in cargo_line
    with Workerd(out, durable_objects={}, log_path=tmp_path / "workerd.log") as worker:
        response = worker.get("/")
        assert (response.status, response.body) == (200, "awaited 42"), worker.log_text()


def test_without_the_variable_the_macro_needs_wasm_bindgen_futures(tmp_path: Path) -> None:
    # The same crate, built by cargo with worker-build's flags but without the variable.
    # cargo does not fingerprint the variable: the crate must compile afresh. A copy
    # with new mtimes (cargo's unit hash of a path package does not depend on where
    # it lives, so the copy shares the fixture's fingerprint; the mtime decides).
    crate = tmp_path / "crate"
    shutil.copytree(CRATE, crate, copy_function=shutil.copy)
    inv = cargo_invocation(RawArgs(path=crate, panic_unwind=True))
    env = {**env_for_build(), **inv.env}
    del env[JS_SYS_ENV]
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(inv.argv, cwd=inv.cwd, env=env, capture_output=True, text=True,
                          timeout=1800, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "unresolved module or unlinked crate `wasm_bindgen_futures`" in proc.stderr
