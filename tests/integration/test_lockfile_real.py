"""A crate copied without its Cargo.lock builds the first time, with the real cargo writing
the lock file (slow: real cargo, wasm-bindgen, wasm-opt, esbuild).

pure-exports pins `wasm-bindgen = "=0.2.130"`, so the lock cargo writes names the CLI
setup.sh installed, whatever crates.io holds by now; `--offline` has cargo resolve from its
cached index (the fixtures' builds filled it), so no registry is reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import copy_crate, tool_env, worker_build
from worker_build.build.crate import load_crate

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    env = tool_env()
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "pure-exports-abort")  # the fixtures'
    return env


def _without_wasm_bindgen(lock: str) -> str:
    """The lock file with wasm-bindgen's own entry taken out (its dependants still name it)."""
    blocks = lock.split("\n[[package]]\n")
    kept = [b for b in blocks if not b.startswith('name = "wasm-bindgen"\n')]
    assert len(kept) == len(blocks) - 1
    return "\n[[package]]\n".join(kept)


def test_no_lock_file_is_created_and_a_rebuild_says_nothing_of_it(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports", lock=False)
    refused = worker_build(crate, "--no-loader", "--offline", "--", "--locked", env=_env())
    assert refused.returncode == 3, refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        "error: no Cargo.lock for pure-exports, and --locked forbids creating one (run "
        "`cargo update --workspace` and commit Cargo.lock, or build without --locked once)"
    )
    assert not (crate / "Cargo.lock").exists() and not (crate / "build").exists()

    first = worker_build(crate, "--no-loader", "--offline", env=_env())
    assert first.returncode == 0, first.stderr
    assert "✓ Cargo.lock" in first.stderr
    assert f"{crate / 'Cargo.lock'} created by `cargo update --workspace`" in first.stderr
    assert load_crate(crate).wasm_bindgen_version == "0.2.130"
    assert (crate / "build" / "index_bg.wasm").is_file()

    again = worker_build(crate, "--no-loader", "--offline", env=_env())
    assert again.returncode == 0, again.stderr
    assert "Cargo.lock" not in again.stderr, again.stderr  # no step, no stale note
    assert "is up to date" in again.stderr


def test_a_lock_file_without_wasm_bindgen_gains_only_that_entry(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    original = (SAMPLES / "pure-exports" / "Cargo.lock").read_text()
    (crate / "Cargo.lock").write_text(_without_wasm_bindgen(original))
    proc = worker_build(crate, "--no-loader", "--offline", env=_env())
    assert proc.returncode == 0, proc.stderr
    assert f"{crate / 'Cargo.lock'} updated by `cargo update --workspace`" in proc.stderr
    assert (crate / "Cargo.lock").read_text() == original  # every other version kept
