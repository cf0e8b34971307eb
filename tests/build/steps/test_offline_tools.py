"""Step `tools (offline)` (build/steps/offline_tools.py): with --offline, every missing
tool is named at once, before any build step; and the pipeline runs it first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cratefix import write_crate
from tests.support.fakes import fake_exe, path_with
from tests.support.stepctx import isolate, step_context
from worker_build.build import pipeline
from worker_build.build.options import RawArgs
from worker_build.build.steps import offline_tools
from worker_build.errors import EXIT_TOOL_MISSING, ToolMissingError


@pytest.fixture(autouse=True)
def _empty_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))


def test_every_missing_tool_is_named_in_one_error(tmp_path: Path) -> None:
    ctx = step_context(tmp_path, offline=True)  # release: wasm-opt is needed too
    with pytest.raises(ToolMissingError) as info:
        offline_tools.run(ctx)
    exc = info.value
    assert exc.exit_code == EXIT_TOOL_MISSING
    assert exc.headline == "--offline: 3 tools are missing"
    assert (exc.details or "").splitlines() == [
        "wasm-bindgen 0.2.130 (locked in Cargo.lock) is not installed",
        "wasm-opt 132 is not installed",
        "esbuild 0.28.2 is not installed",
    ]
    assert (exc.fix or "").startswith("build once without --offline to fetch them into the cache")
    assert "cargo install wasm-bindgen-cli --version 0.2.130" in (exc.fix or "")


def test_one_missing_tool_and_the_others_found(tmp_path: Path) -> None:
    fake_exe(tmp_path / "bin" / "wasm-bindgen", 'echo "wasm-bindgen 0.2.130"')
    fake_exe(tmp_path / "bin" / "esbuild", "echo 0.28.2")
    ctx = step_context(tmp_path, offline=True, dev=True)  # dev, abort: no wasm-opt
    offline_tools.run(ctx)
    (tmp_path / "bin" / "esbuild").unlink()
    with pytest.raises(ToolMissingError) as info:
        offline_tools.run(ctx)
    assert info.value.headline == "--offline: esbuild 0.28.2 is not installed"
    assert (info.value.fix or "").startswith("build once without --offline to fetch it")


class Steps:
    def __init__(self) -> None:
        self.started: list[str] = []

    def step_started(self, name: str) -> None:
        self.started.append(name)

    def step_finished(self, name: str, seconds: float) -> None: ...
    def step_failed(self, name: str, seconds: float) -> None: ...
    def waiting_for_lock(self, out_dir: Path) -> None: ...


def test_the_build_stops_before_its_first_build_step(tmp_path: Path) -> None:
    """Issue 16: --offline with an empty cache reported the missing tool after 52 s of
    std build; now no step after pre-flight starts."""
    crate = write_crate(tmp_path / "crate")
    seen = Steps()
    with pytest.raises(ToolMissingError, match="--offline: 3 tools are missing"):
        pipeline.build(RawArgs(path=crate, offline=True), seen)
    assert seen.started == [pipeline.PREFLIGHT, offline_tools.NAME]
