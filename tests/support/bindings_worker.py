"""sample-crates/bindings-worker, built once per session at a path with a space and
non-ASCII letters (as a user's project may live), for the serve tests of workerd and
miniflare (tests/integration/test_serve_real.py, tests/serve/test_pytest_plugin.py).

The crate is copied (mtimes kept, so cargo's fingerprints hold across sessions) to
`.cache/test-crates/bindings wörker 日本/` and built there with `--panic-unwind` into its
`build/`, in hello-worker's cargo target dir, which already holds the dependencies.
"""

from __future__ import annotations

import filecmp
import os
import shutil
from pathlib import Path

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import Built, cargo_target_dir, tool_env, worker_build

HOME = CACHE / "test-crates" / "bindings wörker 日本"
NODE22 = CACHE / "node22" / "node_modules" / ".bin" / "node"  # setup.sh's, for miniflare
_built: list[Built] = []


def _sync(source: Path, dest: Path) -> None:
    """Make `dest` a copy of `source` (no build/ or target/), touching only changed files."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if entry.name in ("build", "target"):
            continue
        target = dest / entry.name
        if entry.is_dir():
            _sync(entry, target)
        elif not target.is_file() or not filecmp.cmp(entry, target, shallow=False):
            shutil.copy2(entry, target)
    for entry in dest.iterdir():
        if entry.name in ("build", "target") or (source / entry.name).exists():
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def bindings_worker() -> Built:
    if not _built:
        _sync(SAMPLES / "bindings-worker", HOME)
        env = tool_env()
        env["CARGO_TARGET_DIR"] = str(cargo_target_dir("hello-worker", "legacy"))
        proc = worker_build(HOME, "--out-dir", HOME / "build", "--panic-unwind", env=env)
        if proc.returncode != 0:
            pytest.fail(f"worker-build of {HOME} failed:\n{proc.stderr[-6000:]}", pytrace=False)
        _built.append(Built("bindings-worker", "unwind", HOME / "build"))
    return _built[0]


def node22_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """miniflare runs on the Node 22 setup.sh installs (the machine's is 20): NODE_BIN."""
    if not os.access(NODE22, os.X_OK):
        pytest.fail(f"{NODE22} is missing: run ./setup.sh", pytrace=False)
    monkeypatch.setenv("NODE_BIN", str(NODE22))
