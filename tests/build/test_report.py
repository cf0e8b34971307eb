"""The build's report (build/report.py): worker-build.json and the sizes it records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.stepctx import isolate, step_context
from worker_build.build import report
from worker_build.tools.tool import PassedOver, Source, Tool

FACTS = {
    "profile": "release",
    "panic_strategy": "unwind",
    "seconds": 12.5,
    "steps": [{"name": "cargo build", "seconds": 10.0}],
}


def test_write_report(tmp_path: Path) -> None:
    out, staging = tmp_path / "build", tmp_path / "staging"
    out.mkdir()
    staging.mkdir()
    facts = {**FACTS, "out_dir": str(out)}
    path = report.write(facts, staging)
    assert path == out / "worker-build.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(report.document(facts)))
    facts["seconds"] = 1.0
    report.write(facts, staging)  # replaced, and nothing else written into build/
    assert json.loads(path.read_text())["seconds"] == 1.0
    assert sorted(p.name for p in out.iterdir()) == ["worker-build.json"]
    assert list(staging.iterdir()) == []


def test_measure_reports_raw_and_gzip_sizes_of_both_layouts(tmp_path: Path) -> None:
    out = tmp_path / "build"
    out.mkdir()
    (out / "index_bg.wasm").write_bytes(b"\0asm" + bytes(4000))
    (out / "index.js").write_text("export default {};\n" * 100)
    sizes = report.measure(out)
    assert (sizes["wasm_bytes"], sizes["js_bytes"]) == (4004, 1900)
    assert 0 < sizes["wasm_gzip_bytes"] < 100 and 0 < sizes["js_gzip_bytes"] < 100
    legacy = tmp_path / "legacy"
    (legacy / "worker").mkdir(parents=True)
    (legacy / "worker" / "index.wasm").write_bytes(b"\0asm" + bytes(10))
    (legacy / "worker" / "shim.mjs").write_text("x")
    assert report.measure(legacy)["wasm_bytes"] == 14
    assert report.measure(legacy)["js_bytes"] == 1


def test_the_report_says_what_was_passed_over_for_each_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `toolchain_rejected` for rustc: each tool's candidates passed over, and why."""
    isolate(tmp_path, monkeypatch)
    ctx = step_context(tmp_path)
    theirs = PassedOver(
        "node_modules", Path("/p/node_modules/.bin/esbuild"), "0.27.3", "not the pinned 0.28.2"
    )
    ctx.tools["esbuild"] = Tool(
        "esbuild", Path("/c/esbuild"), "0.28.2", Source.CACHE, passed_over=(theirs,)
    )
    ctx.tools["wasm-bindgen"] = Tool("wasm-bindgen", Path("/c/wb"), "0.2.130", Source.PATH)
    facts = report.facts_of(ctx, [], 0.0)
    assert facts["tools"]["esbuild"] == "esbuild 0.28.2 (cache)"
    assert facts["tools_passed_over"] == {
        "esbuild": [
            {
                "origin": "node_modules",
                "path": "/p/node_modules/.bin/esbuild",
                "version": "0.27.3",
                "reason": "not the pinned 0.28.2",
            }
        ]
    }
