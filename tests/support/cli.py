"""Running worker-build's command line in-process, as the CLI tests do."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker_build.cli import main


@pytest.fixture(autouse=True)
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache of the test's own, no toolchain or CI settings of the caller, no colour, and
    no rustc wrapper (cargo's empty RUSTC_WRAPPER): a build that gets to the compile cache
    with a fake cargo starts no real sccache server."""
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RUSTC_WRAPPER", "")
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in err
