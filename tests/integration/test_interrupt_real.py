"""A Ctrl-C that reaches the whole process group while a step's child runs (slow: a real
worker-build, cargo, wasm-bindgen and Node).

A terminal sends SIGINT to its foreground process group: worker-build and the tool it runs.
npm's wasm-opt and esbuild are Node programs, and Node resets SIGINT to its default at
start-up, so the tool dies of it even when worker-build was started with SIGINT ignored (a
background job of a script does that). Either way the build must end as interrupted, exit
130, with the previous output untouched. The stand-in wasm-opt is a Node program too: it
answers `--version`, and when asked to optimise says so through a FIFO and waits, so the
signal certainly lands while it runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from harness.paths import CACHE
from tests.support.builds import VENV_BIN, copy_crate, snapshot, tool_env, worker_build
from tests.support.procs import interrupt_when

pytestmark = pytest.mark.slow

FAKE_WASM_OPT = """#!/usr/bin/env node
if (process.argv[2] === "--version") {
  console.log("wasm-opt version 132 (version_132)");
  process.exit(0);
}
require("fs").writeFileSync(process.env.WASM_OPT_STARTED, "started\\n");
setInterval(() => {}, 1 << 30);
"""


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ctrl_c_during_wasm_opt_exits_130_and_keeps_the_output(tmp_path: Path, sigint: str) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    env = tool_env()
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "pure-exports-abort")  # the fixtures'
    first = worker_build(crate, "--no-loader", env=env)
    assert first.returncode == 0, first.stderr
    before = snapshot(crate / "build")

    started = tmp_path / "wasm-opt-started"
    os.mkfifo(started)
    fake = tmp_path / "wasm-opt"
    fake.write_text(FAKE_WASM_OPT)
    fake.chmod(0o755)
    # Another wasm-opt: the incremental check rebuilds everything after cargo.
    env.update(WASM_OPT_BIN=str(fake), WASM_OPT_STARTED=str(started))
    proc = subprocess.Popen(
        [str(VENV_BIN / "worker-build"), str(crate), "--no-loader"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, which the test signals as a terminal would
        preexec_fn=_ignore_sigint if sigint == "ignored" else None,
    )
    err = interrupt_when(proc, started, "wasm-opt started")
    assert proc.returncode == 130, err
    assert "interrupted; the previous output was left unchanged" in err
    assert "exited with code" not in err, err
    assert snapshot(crate / "build") == before
    assert not [p for p in crate.iterdir() if p.name.startswith(".worker-build-staging")]
