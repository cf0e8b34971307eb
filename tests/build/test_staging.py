from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.fsfaults import unwritable
from worker_build.build import staging
from worker_build.errors import EXIT_LOCKED, EXIT_NOT_WRITABLE, LockedError, NotWritableError


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


def test_replace_dir_swaps_whole_trees(tmp_path: Path) -> None:
    target = tmp_path / "build"
    target.mkdir()
    (target / "old.txt").write_text("old")
    new = tmp_path / "new"
    new.mkdir()
    (new / "index.js").write_text("new")
    staging.replace_dir(new, target)
    assert sorted(p.name for p in target.iterdir()) == ["index.js"]
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(staging.STAGING_PREFIX)] == []


def test_replace_dir_restores_the_old_tree_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "build"
    target.mkdir()
    (target / "keep.txt").write_text("previous output")
    real_replace = os.replace
    calls = {"n": 0}

    def flaky(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the move of the new tree into place
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", flaky)
    new = tmp_path / "new"
    new.mkdir()
    with pytest.raises(NotWritableError, match="disk full"):
        staging.replace_dir(new, target)
    assert (target / "keep.txt").read_text() == "previous output"


def test_staging_is_a_sibling_and_stale_ones_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "build"
    stale = tmp_path / f"{staging.STAGING_PREFIX}build-dead"
    stale.mkdir()
    made = staging.make_staging(out)
    assert made.parent == tmp_path and made.name.startswith(f"{staging.STAGING_PREFIX}build-")
    assert not stale.exists()


def test_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "build"
    waited: list[bool] = []
    # flock locks are per open file description: a second open conflicts just as
    # another process would.
    with (
        staging.build_lock(out, timeout=5),
        pytest.raises(LockedError) as info,
        staging.build_lock(out, 0.3, lambda: waited.append(True)),
    ):
        pass
    assert waited == [True]
    assert info.value.exit_code == EXIT_LOCKED
    assert "--lock-timeout" in (info.value.fix or "")
    with staging.build_lock(out, timeout=1):  # released afterwards
        pass


def test_lock_file_is_outside_the_output(tmp_path: Path) -> None:
    out = tmp_path / "build"
    assert out not in staging.lock_path(out).parents
    assert staging.lock_path(out) == staging.lock_path(tmp_path / "x" / ".." / "build")


def test_check_writable_finds_an_unwritable_output_before_any_build(tmp_path: Path) -> None:
    out = tmp_path / "build"
    out.mkdir()
    staging.check_writable(out)  # writable: no error
    staging.check_writable(tmp_path / "new" / "deeper" / "build")  # created on the way
    with unwritable(out) as why, pytest.raises(NotWritableError) as info:
        staging.check_writable(out)
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert info.value.message.startswith(f"cannot write {out}: ") and why in info.value.message
    assert str(out) in info.value.one_line() and "\n" not in info.value.one_line()
    assert "choose another --out-dir" in (info.value.fix or "")
    with unwritable(tmp_path) as why, pytest.raises(NotWritableError, match=why):
        staging.check_writable(out)  # build/ itself is fine, but it cannot be renamed


def test_check_writable_output_under_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotWritableError, match=f"cannot create {blocker}/build: {blocker} is not"):
        staging.check_writable(blocker / "build")
    with pytest.raises(NotWritableError, match="is a file, not a directory"):
        staging.check_writable(blocker)


def test_late_refusals_name_the_path_too(tmp_path: Path) -> None:
    """Should the output become unwritable after pre-flight, the install step says so
    (exit 9) and the previous output stays."""
    out = tmp_path / "build"
    out.mkdir()
    (out / "index.js").write_text("previous")
    new = tmp_path / "new"
    new.mkdir()
    with unwritable(out), pytest.raises(NotWritableError, match=f"cannot replace {out}"):
        staging.replace_dir(new, out)
    assert (out / "index.js").read_text() == "previous"
    with unwritable(tmp_path), pytest.raises(NotWritableError, match="staging directory"):
        staging.make_staging(tmp_path / "other")


def test_unwritable_cache_is_not_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    with (
        unwritable(cache),
        pytest.raises(NotWritableError, match="build lock"),
        staging.build_lock(tmp_path / "build", timeout=1),
    ):
        pass


def test_install_file_is_staged_and_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, scratch = tmp_path / "build", tmp_path / "staging"
    out.mkdir()
    scratch.mkdir()
    (out / "worker-build.json").write_text("old")
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def record(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(staging.os, "replace", record)
    path = staging.install_file(scratch, out, "worker-build.json", "new")
    assert path.read_text() == "new"
    # written in the staging directory only; build/ saw one rename, nothing else
    assert renames == [(str(scratch / "worker-build.json.staged"), str(path))]
    assert sorted(p.name for p in out.iterdir()) == ["worker-build.json"]
