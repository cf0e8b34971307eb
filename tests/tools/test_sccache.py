"""tools/sccache.py: which sccache the compile cache uses, with fake executables."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe, path_with
from worker_build.errors import EXIT_TOOL_MISSING, ToolMissingError
from worker_build.tools import sccache
from worker_build.tools.tool import Source


def fake_sccache(path: Path, version: str) -> Path:
    return fake_exe(path, f'[ "$1" = --version ] && echo "sccache {version}"')


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sccache.ENV_VAR, raising=False)


def test_the_python_package_first_then_a_new_enough_one_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = fake_sccache(tmp_path / "venv" / "sccache", "0.16.0")
    fake_sccache(tmp_path / "bin" / "sccache", "0.10.0")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setattr(sccache, "packaged", lambda: wheel)
    got = sccache.find()
    assert not isinstance(got, str)
    assert (got.path, got.version, got.source) == (wheel, "0.16.0", Source.PACKAGE)
    monkeypatch.setattr(sccache, "packaged", lambda: None)  # no wheel here
    got = sccache.find()
    assert not isinstance(got, str) and got.source is Source.PATH


def test_one_too_old_for_a_server_of_its_own_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's 0.4 listens on one TCP port per host (no SCCACHE_SERVER_UDS before 0.9)."""
    fake_sccache(tmp_path / "bin" / "sccache", "0.4.0")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setattr(sccache, "packaged", lambda: None)
    got = sccache.find()
    assert got == f"the sccache on PATH ({tmp_path / 'bin' / 'sccache'}) is 0.4.0, not 0.9+"
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    assert sccache.find() == "sccache is not installed (no Python package, none on PATH)"


def test_worker_build_sccache_is_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = fake_sccache(tmp_path / "my sccache ö", "0.17.0")
    monkeypatch.setenv(sccache.ENV_VAR, str(mine))
    got = sccache.find()
    assert not isinstance(got, str) and (got.path, got.source) == (mine, Source.ENV)
    fake_sccache(mine, "0.8.0")
    with pytest.raises(ToolMissingError, match=r"needs 0\.9 or later") as info:
        sccache.find()
    assert info.value.exit_code == EXIT_TOOL_MISSING
    fake_exe(mine, "exit 1")
    with pytest.raises(ToolMissingError, match="does not report an sccache version"):
        sccache.find()


def test_the_wheels_binary_is_found_beside_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_sccache(tmp_path / "venv" / "bin" / "sccache", "0.16.0")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    assert sccache.packaged() == tmp_path / "venv" / "bin" / "sccache"
