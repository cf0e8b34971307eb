"""The bounded JSON memo (util/jsonmemo.py) on its own; its users' memos are tested
with them (tests/tools/test_probes.py for the probe cache, tests/rust/stdcache/test_query.py
for the std settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fsfaults import unwritable
from worker_build.util import jsonmemo


def test_entries_round_trip(tmp_path: Path) -> None:
    memo = tmp_path / "deep" / "memo.json"  # the directory is made on the first save
    entries = {"a": {"answer": 1, "at": 1}, "b": {"answer": [2, "x"], "at": 2}}
    jsonmemo.save_entries(memo, entries, schema=3, limit=10)
    assert jsonmemo.load_entries(memo, 3) == entries
    assert json.loads(memo.read_text()) == {"schema": 3, "entries": entries}


UNUSABLE = {
    "missing": None,
    "empty": "",
    "corrupt": "{oops",
    "not an object": "[]",
    "other schema": '{"schema": 2, "entries": {"a": {}}}',
    "no entries": '{"schema": 3}',
    "entries not an object": '{"schema": 3, "entries": []}',
}


@pytest.mark.parametrize("text", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_an_unusable_file_holds_nothing(tmp_path: Path, text: str | None) -> None:
    memo = tmp_path / "memo.json"
    if text is not None:
        memo.write_text(text)
    assert jsonmemo.load_entries(memo, 3) == {}


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    memo = tmp_path / "memo.json"
    entries = {f"k{at}": {"at": at} for at in (5, 1, 4, 2, 3)}
    entries["no time"] = {}  # counts as the oldest
    jsonmemo.save_entries(memo, entries, schema=1, limit=3)
    assert sorted(jsonmemo.load_entries(memo, 1)) == ["k3", "k4", "k5"]


def test_a_save_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    memo = tmp_path / "memo.json"
    jsonmemo.save_entries(memo, {"a": {"at": 1}}, schema=1, limit=10)
    jsonmemo.save_entries(memo, {"b": {"at": 2}}, schema=1, limit=10)
    assert jsonmemo.load_entries(memo, 1) == {"b": {"at": 2}}
    assert [p.name for p in tmp_path.iterdir()] == ["memo.json"]


def test_an_unwritable_directory_loses_the_write_silently(tmp_path: Path) -> None:
    memo = tmp_path / "cache" / "memo.json"
    memo.parent.mkdir()
    with unwritable(memo.parent):
        jsonmemo.save_entries(memo, {"a": {"at": 1}}, schema=1, limit=10)
    assert not memo.exists() and list(memo.parent.iterdir()) == []
