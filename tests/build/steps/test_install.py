"""The install step (build/steps/install.py): the staged output replaces the user's output
directory whole, with its sizes in the facts and the incremental state file beside the
files it describes (build/incremental.py, build/report.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.stepctx import isolate, step_context
from worker_build.build import incremental, report
from worker_build.build.context import BuildContext
from worker_build.build.steps import install

WASM = b"\0asm\1\0\0\0" + bytes(300)
BUNDLE = "export default {};\n" * 20


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def staged_build(tmp_path: Path, **raw: Any) -> BuildContext:
    """A context whose steps all ran: the staged output holds a module and a bundle."""
    ctx = step_context(tmp_path, **raw)
    ctx.out_dir.mkdir(parents=True)
    if ctx.options.legacy_layout:
        (ctx.out_dir / "worker").mkdir()
        (ctx.out_dir / "worker" / "index.wasm").write_bytes(WASM)
        (ctx.out_dir / "worker" / "shim.mjs").write_text(BUNDLE)
    else:
        (ctx.out_dir / "index_bg.wasm").write_bytes(WASM)
        (ctx.out_dir / "index.js").write_text(BUNDLE)
    ctx.facts["eh_encoding"] = "legacy"
    ctx.notes.append("a note of an earlier step")
    return ctx


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_the_staged_output_replaces_the_old_one_whole(tmp_path: Path) -> None:
    ctx = staged_build(tmp_path)
    out = ctx.options.out_dir
    (out / "old").mkdir(parents=True)
    (out / "old" / "stale.js").write_text("from an earlier build")
    (out / "index.js").write_text("the old bundle")
    install.run(ctx)
    assert files(out) == [incremental.STATE_NAME, "index.js", "index_bg.wasm"]
    assert (out / "index.js").read_text() == BUNDLE
    assert (out / "index_bg.wasm").read_bytes() == WASM
    assert not ctx.out_dir.exists()  # renamed, not copied
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".worker-build")] == []


def test_a_first_build_creates_the_output(tmp_path: Path) -> None:
    ctx = staged_build(tmp_path)
    assert not ctx.options.out_dir.exists()
    install.run(ctx)
    assert files(ctx.options.out_dir) == [incremental.STATE_NAME, "index.js", "index_bg.wasm"]


@pytest.mark.parametrize("legacy", [False, True], ids=["module", "legacy-layout"])
def test_sizes_are_measured_into_the_facts_and_the_state(tmp_path: Path, legacy: bool) -> None:
    ctx = staged_build(tmp_path, no_panic_recovery=legacy)
    sizes = report.measure(ctx.out_dir)
    assert sizes["wasm_bytes"] == len(WASM) and sizes["js_bytes"] == len(BUNDLE)
    install.run(ctx)
    assert {key: ctx.facts[key] for key in sizes} == sizes
    state = json.loads(incremental.state_path(ctx.options.out_dir).read_text())
    # recorded, so an up-to-date build reports them without compressing the files again
    assert {key: state["facts"][key] for key in sizes} == sizes
    assert state["facts"]["eh_encoding"] == "legacy"
    assert state["notes"] == ["a note of an earlier step"]


def test_the_state_describes_the_installed_files(tmp_path: Path) -> None:
    ctx = staged_build(tmp_path)
    install.run(ctx)
    out = ctx.options.out_dir
    state = json.loads(incremental.state_path(out).read_text())
    assert state["outputs"] == incremental.output_files(out)
    assert sorted(state["outputs"]) == ["index.js", "index_bg.wasm"]
    assert state["inputs"]["artifact"] == incremental.file_digest(ctx.need_artifact())


def test_the_next_build_finds_the_installed_output_up_to_date(tmp_path: Path) -> None:
    install.run(staged_build(tmp_path))
    again = step_context(tmp_path)
    assert incremental.up_to_date(again), again.facts["incremental"]
    assert again.facts["wasm_bytes"] == len(WASM)  # restored, not measured
    assert again.facts["eh_encoding"] == "legacy"
