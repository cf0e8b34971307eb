"""The build summary for people (cli/summary.py)."""

from __future__ import annotations

from worker_build.cli import summary


def test_loader_summary_counts_callable_and_not() -> None:
    # rpc-server: its only export is async, so nothing is callable; say so by name
    rows = summary.loader_rows({"files": ["loader.py"], "functions": [],
                           "unsupported": ["add: returns Promise<number> (an async fn)"]})  # fmt: skip
    assert rows == [
        ("python loader", "loader.py (0 callable, 1 not)"),
        ("  not callable", "add: returns Promise<number> (an async fn)"),
    ]
    rows = summary.loader_rows({
        "files": ["loader.py", "loader_bg.wasm"], "functions": ["f", "Point.x"],
        "unsupported": [f"u{i}: i128" for i in range(6)], "imports": ["log(str) -> None"],
        "unsupported_imports": ["any: a JS value"],
    })  # fmt: skip
    assert rows == [
        (
            "python loader",
            "loader.py, loader_bg.wasm (2 callable, 6 not, 1 JS imports to provide())",
        ),
        ("  not callable", "u0: i128; u1: i128; u2: i128; u3: i128; 2 more in the report"),
        ("  JS imports", "cannot be provided: any: a JS value"),
    ]


def test_a_tool_row_names_what_was_passed_over() -> None:
    facts = {
        "tools": {"esbuild": "esbuild 0.28.2 (cache)", "wasm-bindgen": "wasm-bindgen 0.2.130 (PATH)"},
        "tools_passed_over": {
            "esbuild": [
                {"origin": "node_modules", "path": "/p/node_modules/.bin/esbuild",
                 "version": "0.27.3", "reason": "esbuild 0.27.3, not the pinned 0.28.2"},
            ]
        },
    }  # fmt: skip
    assert summary.tool_row(facts, "esbuild") == (
        "0.28.2 (cache); passed over: /p/node_modules/.bin/esbuild (node_modules): "
        "esbuild 0.27.3, not the pinned 0.28.2"
    )
    assert summary.tool_row(facts, "wasm-bindgen") == "0.2.130 (PATH)"
    assert summary.tool_row(facts, "wasm-opt") == "not run"


def test_compile_cache_row_says_where_and_what_sccache_served() -> None:
    row = summary.compile_cache_row
    assert row(None) == "off"
    shared = {"build_dir_state": "shared", "sccache": None}
    assert row(shared) == "shared build directory; no sccache"
    counted = {"build_dir_state": "busy", "sccache": {"hits": 72, "misses": 12,
               "location": "Redis: redis://127.0.0.1:6379"}}  # fmt: skip
    assert row(counted) == (
        "target directory (the shared build directory was busy); sccache 72 hits, 12 misses "
        "(Redis: redis://127.0.0.1:6379)"
    )
    yours = {"build_dir_state": "yours", "sccache": None, "wrapper": "RUSTC_WRAPPER=w"}
    assert row(yours) == "your build directory; your wrapper (RUSTC_WRAPPER=w)"
    facts = {"out_dir": "/o", "profile": "release", "panic_strategy": "unwind",
             "wasm_bytes": 1, "wasm_gzip_bytes": 1, "js_bytes": 1, "js_gzip_bytes": 1,
             "compile_cache": shared}  # fmt: skip
    rows = dict(summary.summary_rows(facts))
    assert rows["compile cache"] == "shared build directory; no sccache"
