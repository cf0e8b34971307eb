"""What resolving a tool gives (tools/tool.py): its label, as the summary and the JSON
report's `tools` show it, and the values a resolved tool is compared and kept by."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from worker_build.tools.tool import Source, Tool

BINDGEN = Path("/cache/wasm-bindgen/0.2.130/bin/wasm-bindgen")


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (Source.ENV, "env"),
        (Source.PATH, "PATH"),
        (Source.NODE_MODULES, "node_modules"),
        (Source.CACHE, "cache"),
        (Source.DOWNLOADED, "downloaded"),
        (Source.INSTALLED, "installed"),
    ],
)
def test_the_label_is_name_version_and_where_it_came_from(source: Source, shown: str) -> None:
    tool = Tool("wasm-bindgen", BINDGEN, "0.2.130", source)
    assert tool.label == f"wasm-bindgen 0.2.130 ({shown})"


def test_the_label_never_shows_the_path() -> None:
    """The label is the summary's one-line account; the path goes to the incremental
    state (build/incremental.py), not into it."""
    assert str(BINDGEN) not in Tool("wasm-bindgen", BINDGEN, "0.2.130", Source.CACHE).label


def test_a_tool_is_a_value() -> None:
    tool = Tool("wasm-opt", Path("/usr/bin/wasm-opt"), "132", Source.PATH)
    assert tool == Tool("wasm-opt", Path("/usr/bin/wasm-opt"), "132", Source.PATH)
    assert tool != dataclasses.replace(tool, source=Source.ENV)
    assert len({tool, dataclasses.replace(tool)}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        tool.version = "133"  # type: ignore[misc]


def test_each_source_has_its_own_value() -> None:
    """The labels and the incremental state tell sources apart by `value` alone."""
    assert len({s.value for s in Source}) == len(Source)
