"""The exclusive lock (util/locking.py): who holds it, what a waiter sees, the timeout.

The interleaving is made certain, never left to timing: the test holds the lock itself
(flock locks belong to an open file description, so a second open in this process
conflicts as another process would), and the lock's clock is a fake whose `sleep`
advances it and can release the test's hold at a chosen poll.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

import pytest

from worker_build.errors import EXIT_LOCKED, EXIT_NOT_WRITABLE, LockedError, NotWritableError
from worker_build.util import locking

HELD_BY = "another worker-build is still writing build/"
FIX = "wait for it to finish, or raise --lock-timeout"


class Clock:
    """Stands for the `time` module inside locking.py: `sleep` advances `monotonic`
    and runs `on_sleep` with the number of sleeps so far."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda n: None) -> None:
        self.now = 1000.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        self.on_sleep(self.sleeps)


@contextmanager
def held(path: Path) -> Iterator[IO[str]]:
    """`path` locked by the test, as another build would hold it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield fh


def free(path: Path) -> bool:
    """Whether another holder could take `path` now."""
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return True


def lock(
    path: Path, timeout: float = 60, on_wait: Callable[[], None] | None = None
) -> AbstractContextManager[None]:
    return locking.exclusive(path, timeout, held_by=HELD_BY, fix=FIX, on_wait=on_wait)


def test_held_inside_and_released_after(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "x.lock"  # its directory is made on the way
    with lock(path):
        assert path.is_file()
        assert not free(path)
    assert free(path)
    assert path.is_file()  # the file stays: flock needs no cleaning up


def test_released_when_the_body_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    with pytest.raises(KeyError), lock(path):
        raise KeyError("the build failed")
    assert free(path)


def test_a_free_lock_is_taken_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(locking, "time", clock)
    waited: list[bool] = []
    with lock(tmp_path / "x.lock", on_wait=lambda: waited.append(True)):
        pass
    assert waited == [] and clock.sleeps == 0


def test_a_waiter_is_told_once_and_gets_the_lock_when_it_is_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.lock"
    waited: list[int] = []
    with held(path) as other:

        def release_at_fifth_poll(sleeps: int) -> None:
            if sleeps == 5:
                fcntl.flock(other.fileno(), fcntl.LOCK_UN)

        clock = Clock(release_at_fifth_poll)
        monkeypatch.setattr(locking, "time", clock)
        with lock(path, on_wait=lambda: waited.append(clock.sleeps)):
            assert not free(path)
        assert clock.sleeps == 5
        assert clock.now == pytest.approx(1000.0 + 5 * locking.POLL_SECONDS)
    assert waited == [0]  # once, before the first wait


def test_a_lock_held_past_the_timeout_names_the_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.lock"
    clock = Clock()
    monkeypatch.setattr(locking, "time", clock)
    waited: list[bool] = []
    entered = False
    with (
        held(path),
        pytest.raises(LockedError) as info,
        lock(path, timeout=3, on_wait=lambda: waited.append(True)),
    ):
        entered = True
    assert not entered
    assert info.value.exit_code == EXIT_LOCKED
    assert info.value.message == f"{HELD_BY} after 3s"
    assert info.value.fix == FIX
    assert waited == [True]  # told once however long it waited
    assert clock.sleeps == pytest.approx(3 / locking.POLL_SECONDS, abs=1)
    assert free(path)  # the waiter let go of its file too


def test_no_timeout_fails_at_once_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "x.lock"
    clock = Clock()
    monkeypatch.setattr(locking, "time", clock)
    waited: list[bool] = []
    with (
        held(path),
        pytest.raises(LockedError, match=r"after 0s$"),
        lock(path, timeout=0, on_wait=lambda: waited.append(True)),
    ):
        pass
    assert waited == [] and clock.sleeps == 0


def test_a_lock_file_that_cannot_be_created_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the lock directory should be")
    path = blocker / "locks" / "x.lock"
    with (
        pytest.raises(NotWritableError) as info,
        locking.exclusive(path, 1, held_by=HELD_BY, fix=FIX, what="the build lock"),
    ):
        pass
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert info.value.message.startswith(f"cannot create the build lock {path}: ")
    assert "WORKER_BUILD_CACHE" in (info.value.fix or "")
