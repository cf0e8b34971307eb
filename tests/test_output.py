from __future__ import annotations

import os
from pathlib import Path

import pytest

from worker_build import output
from worker_build.errors import EXIT_LOCKED, LockedError


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
    output.replace_dir(new, target)
    assert sorted(p.name for p in target.iterdir()) == ["index.js"]
    assert not new.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(output.STAGING_PREFIX)] == []


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

    monkeypatch.setattr(output.os, "replace", flaky)
    new = tmp_path / "new"
    new.mkdir()
    with pytest.raises(OSError, match="disk full"):
        output.replace_dir(new, target)
    assert (target / "keep.txt").read_text() == "previous output"


def test_staging_is_a_sibling_and_stale_ones_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "build"
    stale = tmp_path / f"{output.STAGING_PREFIX}build-dead"
    stale.mkdir()
    staging = output.make_staging(out)
    assert staging.parent == tmp_path and staging.name.startswith(f"{output.STAGING_PREFIX}build-")
    assert not stale.exists()


def test_lock_times_out_with_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "build"
    waited: list[bool] = []
    # flock locks are per open file description: a second open conflicts just as
    # another process would.
    with (
        output.build_lock(out, timeout=5),
        pytest.raises(LockedError) as info,
        output.build_lock(out, 0.3, lambda: waited.append(True)),
    ):
        pass
    assert waited == [True]
    assert info.value.exit_code == EXIT_LOCKED
    assert "--lock-timeout" in (info.value.fix or "")
    with output.build_lock(out, timeout=1):  # released afterwards
        pass


def test_lock_file_is_outside_the_output(tmp_path: Path) -> None:
    out = tmp_path / "build"
    assert out not in output.lock_path(out).parents
    assert output.lock_path(out) == output.lock_path(tmp_path / "x" / ".." / "build")
