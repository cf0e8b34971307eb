"""The state one build carries from step to step (build/context.py): the paths derived
from its staging directory, where the Worker's module sits in each layout, and the
`need_*` guards that stop a step scheduled before the one it depends on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cratefix import write_crate
from tests.support.stdcache import toolchain
from tests.support.stepctx import isolate
from worker_build.build.context import BuildContext
from worker_build.build.crate import load_crate
from worker_build.build.options import RawArgs, resolve


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def context(tmp_path: Path, **raw: bool) -> BuildContext:
    options = resolve(RawArgs(**raw), tmp_path / "crate", {})
    return BuildContext(options=options, staging=tmp_path / "staging")


def test_a_new_context_starts_empty(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    assert (ctx.crate, ctx.toolchain, ctx.std, ctx.artifact, ctx.eh_encodings) == (
        None, None, None, None, None,
    )  # fmt: skip
    assert (ctx.tools, ctx.notes, ctx.facts, ctx.jobs) == ({}, [], {}, {})
    other = context(tmp_path)
    ctx.notes.append("x")
    ctx.facts["x"] = 1
    assert other.notes == [] and other.facts == {}  # nothing shared between builds


def test_paths_derive_from_the_staging_directory(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    assert ctx.bindgen_dir == tmp_path / "staging" / "bindgen"
    assert ctx.out_dir == tmp_path / "staging" / "out"
    assert ctx.output_module == tmp_path / "staging" / "out" / "index_bg.wasm"
    assert ctx.options.out_dir == tmp_path / "crate" / "build"  # the user's, not staged
    assert not ctx.staging.exists()  # derived, never created by asking


def test_the_legacy_layout_keeps_the_module_under_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = tmp_path / "staging" / "out" / "worker" / "index.wasm"
    assert context(tmp_path, no_panic_recovery=True).output_module == legacy
    shim = tmp_path / "shim.js"
    shim.write_text("// CUSTOM_SHIM template\n")
    monkeypatch.setenv("CUSTOM_SHIM", str(shim))
    assert context(tmp_path).output_module == legacy


@pytest.mark.parametrize(
    ("need", "before"),
    [
        ("need_crate", "preflight must run before this step"),
        ("need_toolchain", "toolchain step must run before this step"),
        ("need_artifact", "cargo step must run before this step"),
    ],
)
def test_a_step_scheduled_too_early_is_stopped(tmp_path: Path, need: str, before: str) -> None:
    ctx = context(tmp_path)
    with pytest.raises(AssertionError, match=before):
        getattr(ctx, need)()


def test_what_an_earlier_step_found_is_given_back(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx.crate = load_crate(write_crate(tmp_path / "crate"))
    ctx.toolchain = toolchain(tmp_path)
    ctx.artifact = tmp_path / "target" / "my_worker.wasm"
    assert ctx.need_crate() is ctx.crate
    assert ctx.need_toolchain() is ctx.toolchain
    assert ctx.need_artifact() is ctx.artifact
