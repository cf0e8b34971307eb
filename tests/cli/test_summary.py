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
