"""Incremental output on real builds: the real worker-build on a private copy of
hello-worker, its --json report read after each run. `incremental.up_to_date` and the
step list show whether the steps after `cargo build` ran (worker_build/build/incremental.py;
its unit tests: tests/build/test_incremental.py).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import tool_env, worker_build

POST_CARGO = {
    "wasm-bindgen",
    "wasm-opt",
    "producers",
    "bundle",
    "python loader",
    "verify",
    "install",
}


class RealCrate:
    """A private copy of hello-worker with its own output and cargo target dirs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root / "build"
        self.lib = root / "src" / "lib.rs"
        self.env = tool_env()
        self.env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "incremental-hello-abort")

    def build(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = worker_build(self.root, "--json", *args, env=env or self.env)
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        report: dict[str, Any] = json.loads(proc.stdout)
        report["step_names"] = [s["name"] for s in report["steps"]]
        return report

    def snapshot(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file() and p.name != "worker-build.json"
        }


def skipped(report: dict[str, Any]) -> bool:
    inc = report["incremental"]
    names = set(report["step_names"])
    if inc["up_to_date"]:
        assert names.isdisjoint(POST_CARGO), names
        assert "cargo build" in names
        return True
    assert {"wasm-bindgen", "bundle", "verify", "install"} <= names, names
    return False


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealCrate:
    root = tmp_path_factory.mktemp("incremental") / "hello-worker"
    shutil.copytree(
        SAMPLES / "hello-worker", root, ignore=shutil.ignore_patterns("target", "build")
    )
    crate = RealCrate(root)
    first = crate.build()
    assert not skipped(first)
    assert first["incremental"]["reason"] == "no usable state file from a previous build"
    return crate


@pytest.mark.slow
def test_real_noop_rebuild_skips_everything_after_cargo(real: RealCrate) -> None:
    before = real.snapshot()
    inodes = {p: p.stat().st_ino for p in real.out.rglob("*") if p.is_file()}
    report = real.build()
    assert skipped(report), report["incremental"]
    # the compile cache and std steps sit before cargo and are not skipped (std finds
    # its cache entry)
    assert report["step_names"] == [
        "pre-flight", "toolchain", "compile cache", "std", "cargo build"
    ]  # fmt: skip
    assert real.snapshot() == before
    # not rewritten either: the same files are still in place
    assert all(p.stat().st_ino == ino for p, ino in inodes.items() if p.name != "worker-build.json")
    # the summary still describes the build that produced the files
    assert report["eh_encoding"] == "none (panic=abort)"
    assert set(report["tools"]) == {"wasm-bindgen", "wasm-opt", "esbuild"}


@pytest.mark.slow
def test_real_touch_recompiles_but_identical_artifact_skips(real: RealCrate) -> None:
    artifact = Path(real.build()["artifact"])
    mtime = artifact.stat().st_mtime_ns
    os.utime(real.lib)
    report = real.build()
    # cargo did recompile and relink (a new artifact file) ...
    assert artifact.stat().st_mtime_ns != mtime
    # ... into the same bytes (rustc is deterministic), so nothing after cargo reran
    assert skipped(report), report["incremental"]


@pytest.mark.slow
def test_real_source_change_rebuilds(real: RealCrate) -> None:
    original = real.lib.read_text()
    marker = "hello from the incremental test"
    try:
        real.lib.write_text(original.replace("hello from hello-worker", marker))
        report = real.build()
        assert not skipped(report)
        assert report["incremental"]["reason"] == "cargo artifact changed"
        assert marker.encode() in (real.out / "index_bg.wasm").read_bytes()
        assert skipped(real.build())
    finally:
        real.lib.write_text(original)
    report = real.build()
    assert not skipped(report)
    assert marker.encode() not in (real.out / "index_bg.wasm").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "field"),
    [(("--no-opt",), "wasm_opt_args"), (("--panic-body", "generic"), "panic_body")],
)
def test_real_option_change_rebuilds(real: RealCrate, flags: tuple[str, ...], field: str) -> None:
    assert skipped(real.build())
    report = real.build(*flags)
    assert not skipped(report)
    assert report["incremental"]["reason"] == f"options changed ({field})"
    if "--no-opt" in flags:
        assert "wasm-opt" not in report["step_names"]
    assert skipped(real.build(*flags))
    back = real.build()
    assert not skipped(back) and back["incremental"]["reason"] == f"options changed ({field})"


@pytest.mark.slow
def test_real_shim_template_change_rebuilds(real: RealCrate, tmp_path: Path) -> None:
    # worker-build run from a copy of the package whose shim template is edited
    # (the repository's own templates/ stay untouched).
    import worker_build as pkg

    src = Path(pkg.__file__).resolve().parent
    copy = tmp_path / "src"
    shutil.copytree(src, copy / "worker_build", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(src.parent / "templates", copy / "templates")
    env = dict(real.env, PYTHONPATH=str(copy))
    assert skipped(real.build()), "setup: the output must be up to date first"
    same = real.build(env=env)
    assert skipped(same), "an identical copy of worker-build is the same worker-build"
    shim = copy / "templates" / "shim.js"
    shim.write_text(shim.read_text() + "\nglobalThis.__incrementalTestMarker = 7;\n")
    report = real.build(env=env)
    assert not skipped(report)
    assert report["incremental"]["reason"] == "worker-build or its templates changed (sources)"
    assert "__incrementalTestMarker" in (real.out / "index.js").read_text()
    back = real.build()  # the repository's worker-build again
    assert not skipped(back)
    assert "__incrementalTestMarker" not in (real.out / "index.js").read_text()


@pytest.mark.slow
def test_real_output_tampering_rebuilds(real: RealCrate) -> None:
    assert skipped(real.build())
    good = real.snapshot()

    (real.out / "index.js").unlink()
    report = real.build()
    assert report["incremental"]["reason"] == "output file index.js was deleted"
    assert real.snapshot() == good

    wasm = real.out / "index_bg.wasm"
    wasm.write_bytes(wasm.read_bytes() + b"\0")
    report = real.build()
    assert report["incremental"]["reason"] == "output file index_bg.wasm was modified"
    assert real.snapshot() == good

    (real.out / "notes.txt").write_text("mine")
    report = real.build()
    assert report["incremental"]["reason"] == "output file notes.txt was added"
    assert real.snapshot() == good  # a full build replaces build/ as a whole


@pytest.mark.slow
def test_real_tool_change_rebuilds(real: RealCrate, tmp_path: Path) -> None:
    # the same esbuild binary reached through another path counts as another tool
    esbuild = Path(str(shutil.which("esbuild", path=real.env["PATH"])))
    other = tmp_path / "bin" / "esbuild"
    other.parent.mkdir()
    shutil.copy2(os.path.realpath(esbuild), other)
    assert skipped(real.build())
    report = real.build(env=dict(real.env, ESBUILD_BIN=str(other)))
    assert not skipped(report)
    assert report["incremental"]["reason"] == "tool esbuild changed"
    assert report["tools"]["esbuild"].endswith("(env)")
