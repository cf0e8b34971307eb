"""Listing and pruning the std cache (rust/stdcache/listing.py) on fake entries; the
CLI on top of it is tested in tests/cli/test_cache.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.stdcache import fake_build, settings, spec, toolchain
from worker_build.rust.stdcache import listing, store
from worker_build.rust.stdcache.store import Entry
from worker_build.util import locking
from worker_build.util.cachedir import tree_size


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_entry(tmp_path: Path, opt_level: str) -> Entry:
    s = spec(toolchain(tmp_path), settings(profile=dict(settings().profile, opt_level=opt_level)))
    found, _ = store.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    return found


def test_an_empty_cache_lists_nothing() -> None:
    assert listing.entries() == [] and listing.leftovers() == []


def test_entries_with_their_size_state_spec_and_use(tmp_path: Path) -> None:
    good = make_entry(tmp_path, "s")
    broken = make_entry(tmp_path, "z")
    (broken.path / "entry.json").write_text("{")
    os.utime(good.path / "last-used", (1_000_000, 1_000_000))
    (broken.path / "last-used").unlink()
    leftover = store.root() / f".tmp-{good.key}-killed"
    leftover.mkdir()
    listed = {e.key: e for e in listing.entries()}
    assert sorted(listed) == sorted([good.key, broken.key])  # no locks, no leftovers
    ok = listed[good.key]
    assert ok.path == good.path and ok.problem is None and ok.bytes == tree_size(good.path)
    assert ok.spec["profile"]["opt_level"] == "s" and ok.last_used == 1_000_000
    created = json.loads((good.path / "entry.json").read_text())["created"]
    assert ok.created == created
    bad = listed[broken.key]
    assert bad.problem is not None and bad.problem.startswith("unreadable entry.json")
    assert bad.spec == {} and bad.created == "" and bad.last_used is None
    assert listing.leftovers() == [leftover]


def test_remove_deletes_an_entry_no_build_holds(tmp_path: Path) -> None:
    found = make_entry(tmp_path, "s")
    (listed,) = listing.entries()
    with locking.exclusive(store.lock_file(found.key), 0, held_by="t", fix=""):
        assert listing.remove(listed) is False
    assert found.path.exists()
    assert listing.remove(listed) is True
    assert not found.path.exists() and listing.entries() == [] and listing.leftovers() == []


def test_remove_leftover_spares_the_staging_of_a_live_build(tmp_path: Path) -> None:
    key = "a" * 20
    staging = store.root() / f".tmp-{key}-live"
    trash = store.root() / f".trash-{'b' * 20}-123"
    for path in (staging, trash):
        (path / "sysroot").mkdir(parents=True)
    with locking.exclusive(store.lock_file(key), 0, held_by="t", fix=""):
        assert listing.remove_leftover(staging) is False
        assert listing.remove_leftover(trash) is True
    assert staging.exists() and not trash.exists()
    assert listing.remove_leftover(staging) is True
    assert listing.leftovers() == []
