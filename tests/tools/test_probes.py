"""worker_build/tools/probes.py: `TOOL --version` answers cached per executable identity.

Fake tools are shell scripts that count their runs. Whether a probe is cached depends on
the file's times and on the clock the module reads: tests that need a fresh file cached
switch RACY_SECONDS off, and the racy-window test stops the module's clock at an instant
set from the file's own times, so no answer depends on how long a step takes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe, path_with
from worker_build.errors import CommandFailedError
from worker_build.tools import probes, resolve
from worker_build.tools.tool import InstallPolicy


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WASM_OPT_BIN", raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


class StoppedClock:
    """Stands in for the `time` module inside probes.py: `time_ns()` answers `ns`."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def time_ns(self) -> int:
        return self.ns


def counting_tool(tmp: Path, says: str) -> tuple[Path, Path]:
    log = tmp / "calls.log"
    exe = fake_exe(tmp / "bin" / "tool", f'echo run >> "{log}"\necho "{says}"')
    return exe, log


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_probe_is_cached_until_the_executable_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "tool 1.0.0")
    # An old mtime for the first version: a rewrite then changes the identity for
    # certain, not only when it falls in another timestamp tick (same size, same inode;
    # RACY_SECONDS, which covers that case in the product, is off in this test).
    os.utime(exe, ns=(10**18, 10**18))
    assert probes.version_output(exe) == "tool 1.0.0\n"
    assert probes.version_output(exe) == "tool 1.0.0\n"
    assert calls(log) == 1
    fake_exe(exe, f'echo run >> "{log}"\necho "tool 1.0.1"')  # rewritten in place
    assert probes.version_output(exe) == "tool 1.0.1\n"
    assert calls(log) == 2
    os.utime(exe, ns=(2 * 10**18, 2 * 10**18))  # touched only: probed again, to be safe
    probes.version_output(exe)
    assert calls(log) == 3


def test_probe_cache_follows_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "tool 2")
    link = tmp_path / "link"
    link.symlink_to(exe)
    probes.version_output(link)
    probes.version_output(exe)
    assert calls(log) == 1
    entries = json.loads(probes.cache_file().read_text())["entries"]
    assert list(entries) == [os.path.realpath(exe)]


def test_freshly_written_executables_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # default RACY_SECONDS: a file modified less than that before the probe could change
    # again within the same timestamp tick, so its answer is not kept. The module's clock
    # stands still inside that window, however long the probes take.
    exe, log = counting_tool(tmp_path, "tool 3")
    st = exe.stat()
    changed = max(st.st_mtime_ns, st.st_ctime_ns)
    window = int(probes.RACY_SECONDS * 1e9)
    clock = StoppedClock(changed + window // 2)
    monkeypatch.setattr(probes, "time", clock)
    probes.version_output(exe)
    probes.version_output(exe)
    assert calls(log) == 2
    assert not probes.cache_file().exists()
    # the same file once the window has passed: kept, and the next probe is an answer
    # from the cache
    clock.ns = changed + window + 1
    probes.version_output(exe)
    probes.version_output(exe)
    assert calls(log) == 3


def test_failed_probe_raises_and_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe = fake_exe(tmp_path / "bad", "echo broken >&2; exit 3")
    for _ in range(2):
        with pytest.raises(CommandFailedError):
            probes.version_output(exe)
    assert not probes.cache_file().exists()


def test_corrupt_probe_cache_is_ignored_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    probes.cache_file().parent.mkdir(parents=True)
    probes.cache_file().write_text("{oops")
    exe, _ = counting_tool(tmp_path, "tool 4")
    assert probes.version_output(exe) == "tool 4\n"
    assert json.loads(probes.cache_file().read_text())["schema"] == probes.SCHEMA


def test_probe_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    monkeypatch.setattr(probes, "MAX_ENTRIES", 3)
    for i in range(5):
        probes.version_output(fake_exe(tmp_path / f"t{i}", f"echo {i}"))
    entries = json.loads(probes.cache_file().read_text())["entries"]
    assert len(entries) == 3


def test_tools_module_probes_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "wasm-opt version 132 (version_132)")
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    monkeypatch.setenv("WASM_OPT_BIN", str(exe))
    for _ in range(3):
        assert resolve.wasm_opt(tmp_path, InstallPolicy.OFFLINE).version == "132"
    assert calls(log) == 1
