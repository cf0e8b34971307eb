"""The std cache on disk (rust/stdcache/store.py): entries built once, checked,
rebuilt when broken; locking between builds; a full or unwritable disk; with fake
builds (tests/support/stdcache.py)."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest

from tests.support.stdcache import fake_build, spec, toolchain
from worker_build.errors import (
    EXIT_NOT_WRITABLE,
    CommandFailedError,
    LockedError,
    NotWritableError,
)
from worker_build.rust.stdcache import store
from worker_build.rust.stdcache.store import Entry
from worker_build.util import locking


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_an_entry_is_built_once_and_reused(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    calls: list[Path] = []
    found, built = store.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert built and found.path == store.root() / s.key
    doc = json.loads((found.path / "entry.json").read_text())
    assert doc["key"] == s.key and doc["spec"]["panic"] == "unwind"
    assert doc["files"] == {
        "bin/rustc": 10,
        "sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libcore-2.rlib": 108,
        "sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-1.rlib": 108,
    }
    again, built = store.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert again == found and not built and len(calls) == 1
    assert not list(store.root().glob(".tmp-*"))


@pytest.mark.parametrize(
    "damage",
    [
        "truncated rlib",
        "not an rlib",
        "missing file",
        "no entry.json",
        "bad entry.json",
        "other key",
    ],
)
def test_a_broken_entry_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    s = spec(toolchain(tmp_path))
    calls: list[Path] = []
    found, _ = store.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    rlib = found.libdir / "libstd-1.rlib"
    if damage == "truncated rlib":
        rlib.write_bytes(rlib.read_bytes()[:50])
    elif damage == "not an rlib":
        rlib.write_bytes(b"?" * 108)
    elif damage == "missing file":
        rlib.unlink()
    elif damage == "no entry.json":  # a half-written entry (e.g. copied by hand)
        (found.path / "entry.json").unlink()
    elif damage == "bad entry.json":
        (found.path / "entry.json").write_text("{")
    else:
        doc = json.loads((found.path / "entry.json").read_text())
        (found.path / "entry.json").write_text(json.dumps({**doc, "key": "0" * 20}))
    assert store.problem(found) is not None
    again, built = store.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert built and len(calls) == 2 and store.problem(again) is None
    assert not list(store.root().glob(".trash-*"))


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    stale = store.root() / f".tmp-{s.key}-killed"
    (stale / "sysroot").mkdir(parents=True)
    store.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    assert not stale.exists()


def test_a_build_waits_for_the_one_building_the_same_key(tmp_path: Path) -> None:
    """Two builds racing, made certain: this test holds the key's lock (as the other
    build would), the second build waits, then finds the entry the first one wrote."""
    s = spec(toolchain(tmp_path))
    waiting = threading.Event()
    result: list[tuple[Entry, bool]] = []
    calls: list[Path] = []
    lock = store.root() / "locks" / f"{s.key}.lock"
    with locking.exclusive(lock, 0, held_by="test", fix=""):
        second = threading.Thread(
            target=lambda: result.append(
                store.ensure(s, fake_build(calls), timeout=60, on_wait=waiting.set)
            )
        )  # type: ignore[arg-type]
        second.start()
        assert waiting.wait(30), "the second build did not wait for the lock"
        # the first build finishes its entry while holding the lock
        staging = store._new_staging(s.key)
        fake_build([])(staging)  # type: ignore[operator]
        store._write_entry(staging, s, {}, 1.0)
        os.replace(staging, store.root() / s.key)
    second.join(30)
    assert result and result[0][1] is False and calls == []


def test_lock_timeout(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    lock = store.root() / "locks" / f"{s.key}.lock"
    with (
        locking.exclusive(lock, 0, held_by="t", fix=""),
        pytest.raises(LockedError, match="still building the std cache entry"),
    ):
        store.ensure(s, fake_build([]), timeout=0.2)  # type: ignore[arg-type]


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))

    def full(staging: Path) -> dict[str, object]:
        (staging / "partial").write_bytes(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(store.StdCacheError) as info:
        store.ensure(s, full, timeout=5)
    assert info.value.message.startswith("no space left on the device holding the std cache")
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert "worker-build cache prune" in (info.value.fix or "")
    assert "--no-std-cache" in (info.value.fix or "")
    assert sorted(p.name for p in store.root().iterdir()) == ["locks"]


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    from tests.support.fsfaults import unwritable

    s = spec(toolchain(tmp_path))
    cache = store.root().parent
    cache.mkdir(parents=True)
    with unwritable(cache), pytest.raises(NotWritableError) as info:
        store.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert info.value.message.startswith("cannot create the lock of the std cache entry")
    assert "WORKER_BUILD_CACHE" in (info.value.fix or "")


def test_a_failed_std_build_leaves_nothing(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))

    def fails(staging: Path) -> dict[str, object]:
        raise CommandFailedError(["cargo"], 101, "error: boom")

    with pytest.raises(CommandFailedError):
        store.ensure(s, fails, timeout=5)
    assert sorted(p.name for p in store.root().iterdir()) == ["locks"]
