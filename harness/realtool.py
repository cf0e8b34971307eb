"""The two worker-builds that benchmarks and the compat suite compare, as commands to run.

- The real worker-build: `cargo install worker-build --version <V> --locked` from
  crates.io, built with the machine's default cargo, installed into
  .cache/bench/real-worker-build/ (reinstalled only when another version is asked for).
  The benchmarks take V from the `worker` version sample-crates/hello-worker locks
  (`real_version`, 0.8.7), read by worker-build's own Cargo.lock reader.
- Ours: the installed console script, run with a snapshot of the committed HEAD
  (`git archive` of worker_build/ and templates/, compiled to bytecode) on PYTHONPATH in
  front of the editable install, so edits in the working tree made while a run goes on
  do not change what is measured.

Both build with the toolchain of harness/bench_toolchain.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from harness.machine import log
from harness.paths import BENCH, REPO, SAMPLES
from worker_build.build.crate import load_crate

VENV_BIN = Path(sys.executable).parent
OURS = VENV_BIN / "worker-build"  # the console script; PYTHONPATH picks the snapshot


def real_version() -> str:
    """The `worker` crate version hello-worker locks: the real worker-build to compare."""
    version = load_crate(SAMPLES / "hello-worker").worker_version
    assert version is not None, "sample-crates/hello-worker locks no `worker` crate"
    return version


def install_real(version: str) -> Path:
    """The real worker-build `version`'s executable, installed from crates.io if missing."""
    root = BENCH / "real-worker-build"
    exe = root / "bin" / "worker-build"
    if exe.is_file():
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        if out == version:
            return exe
    log(f"installing the real worker-build {version} from crates.io (cargo install)...")
    env = dict(os.environ, CARGO_TARGET_DIR=str(BENCH / "install-target"))
    argv = ["nice", "-n", "10", "cargo", "install", "worker-build", "--version", version,
            "--locked", "--force", "--root", str(root)]  # fmt: skip
    subprocess.run(argv, env=env, text=True, check=True)
    return exe


def snapshot_ours() -> tuple[Path, str]:
    """Our worker-build at the committed HEAD, for PYTHONPATH, and what it is: the
    commit, noting uncommitted changes (which are not measured)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()

    commit = git("rev-parse", "HEAD")
    dest = BENCH / "ours-src" / commit
    if not (dest / "worker_build" / "__init__.py").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "HEAD", "worker_build", "templates"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        # as `pip install` does: bytecode up front (PYTHONDONTWRITEBYTECODE may be set)
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(dest)], capture_output=True, check=True
        )
    dirty = git("status", "--porcelain", "worker_build", "templates")
    return dest, commit + (" (working tree has uncommitted changes, not measured)" if dirty else "")
