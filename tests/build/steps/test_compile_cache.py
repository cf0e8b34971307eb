"""The compile cache step (build/steps/compile_cache.py): it hands its decision to the
later steps, and a cache directory it cannot write is a note, never a failed build.
No sccache runs here (the caller's empty RUSTC_WRAPPER: cargo's "no wrapper")."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fsfaults import unwritable
from tests.support.stepctx import isolate, step_context
from worker_build.build.steps import compile_cache
from worker_build.rust.toolchain import StdSource, Toolchain


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    monkeypatch.setenv("RUSTC_WRAPPER", "")
    monkeypatch.delenv("CARGO_BUILD_BUILD_DIR", raising=False)


def toolchain(version: str = "1.96.0") -> Toolchain:
    return Toolchain(Path("/tc/rustc"), Path("/tc/cargo"), version, "stable", Path("/tc"),
                     "--rustc", StdSource.BUILD_STD, True)  # fmt: skip


def test_the_decision_reaches_the_later_steps(tmp_path: Path) -> None:
    ctx = step_context(tmp_path)
    ctx.toolchain = toolchain()
    compile_cache.run(ctx)
    cache = ctx.compile_cache
    assert cache is not None
    assert cache.build_dir == tmp_path / "cache" / "compile" / "build-dir"
    assert cache.user_wrapper == "RUSTC_WRAPPER=" and cache.env == {}
    assert ctx.notes == []
    ctx.cleanup.close()  # the build's end lets the build directory go


def test_an_unwritable_cache_is_a_note(tmp_path: Path) -> None:
    ctx = step_context(tmp_path)
    ctx.toolchain = toolchain()
    (tmp_path / "cache").mkdir()
    with unwritable(tmp_path / "cache"):
        compile_cache.run(ctx)
    assert ctx.compile_cache is None
    assert len(ctx.notes) == 1 and ctx.notes[0].startswith("compile cache not used: cannot create")
