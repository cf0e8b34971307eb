"""rust/compile_cache/listing.py: what `worker-build cache` lists and prunes of the
compile cache; nothing a build holds goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from worker_build.rust.compile_cache import builddir, listing
from worker_build.rust.compile_cache.use import SCCACHE_LOCK
from worker_build.util import locking

DAY = 86400


def filled(cache: Path) -> tuple[Path, Path, Path]:
    """A build directory (last used 10 days ago) and two sccache files, one used 10 days
    ago, one now."""
    dep = builddir.location(cache) / "release" / "deps" / "libx.rlib"
    dep.parent.mkdir(parents=True)
    dep.write_bytes(b"x" * 100)
    used = builddir.used_file(cache)
    used.touch()
    os.utime(used, (time.time() - 10 * DAY,) * 2)
    old = listing.sccache_dir(cache) / "a" / "b" / "old"
    new = listing.sccache_dir(cache) / "c" / "d" / "new"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_bytes(b"y" * 10)
    os.utime(old, (time.time() - 10 * DAY,) * 2)
    return dep, old, new


def test_listing_sizes_and_use(tmp_path: Path) -> None:
    filled(tmp_path)
    info = listing.listing(tmp_path)
    assert (info.build_dir_bytes, info.sccache_bytes, info.sccache_files) == (100, 20, 2)
    assert info.build_dir_used is not None and info.servers == []
    assert info.total == 120


def test_prune_by_age_keeps_what_was_used_since(tmp_path: Path) -> None:
    dep, old, new = filled(tmp_path)
    assert listing.prune(tmp_path, 30, False, False, None).removed == []
    dry = listing.prune(tmp_path, 7, False, True, None)
    assert [size for _, size, _ in dry.removed] == [100, 10]
    assert dep.exists() and old.exists()  # a dry run removes nothing
    done = listing.prune(tmp_path, 7, False, False, None)
    assert done.removed == dry.removed
    assert not builddir.location(tmp_path).exists() and not old.exists() and new.exists()


def test_prune_all(tmp_path: Path) -> None:
    filled(tmp_path)
    got = listing.prune(tmp_path, None, True, False, None)
    assert [why for _, _, why in got.removed] == ["all", "all"]
    assert not builddir.location(tmp_path).exists()
    assert not listing.sccache_dir(tmp_path).exists()


@pytest.mark.parametrize("held", ["build dir", "sccache"])
def test_nothing_a_build_holds_is_pruned(tmp_path: Path, held: str) -> None:
    dep, old, _ = filled(tmp_path)
    if held == "build dir":
        lock = builddir.lock_file(tmp_path)
        with locking.exclusive(lock, 0, held_by="x", fix=""):
            got = listing.prune(tmp_path, None, True, False, None)
        assert dep.exists() and not old.exists()
        assert got.busy == [str(builddir.location(tmp_path))]
    else:
        with locking.shared(tmp_path / "compile" / SCCACHE_LOCK):
            got = listing.prune(tmp_path, None, True, False, None)
        assert old.exists() and not dep.exists()
        assert got.busy == [str(listing.sccache_dir(tmp_path))]
