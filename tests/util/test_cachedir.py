"""Where the cache lives, and how much a directory of it holds (util/cachedir.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker_build.util import cachedir


def test_the_cache_root_follows_its_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKER_BUILD_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert cachedir.cache_root() == tmp_path / "home" / ".cache" / "worker-build"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cachedir.cache_root() == tmp_path / "xdg" / "worker-build"
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "mine"))
    assert cachedir.cache_root() == tmp_path / "mine"
    monkeypatch.setenv("WORKER_BUILD_CACHE", "")  # empty: as if unset
    assert cachedir.cache_root() == tmp_path / "xdg" / "worker-build"


def test_sizes_count_regular_files_and_follow_no_symlink(tmp_path: Path) -> None:
    top = tmp_path / "entry"
    (top / "a" / "b").mkdir(parents=True)
    (top / "a" / "b" / "two").write_bytes(b"xx")
    (top / "one").write_bytes(b"x")
    elsewhere = tmp_path / "host"
    elsewhere.mkdir()
    (elsewhere / "big").write_bytes(b"x" * 1000)
    (top / "a" / "host").symlink_to(elsewhere)  # a directory link, as an entry's host libs
    (top / "a" / "big").symlink_to(elsewhere / "big")  # a file link
    assert cachedir.regular_files(top) == [top / "a" / "b" / "two", top / "one"]
    assert cachedir.tree_size(top) == 3
    assert cachedir.tree_size(tmp_path / "missing") == 0
