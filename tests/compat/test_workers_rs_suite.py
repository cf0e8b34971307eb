"""compat/workers_rs_suite.py: its arguments (usage errors exit 2 with one message each;
WORKERS_RS_REPO; the vitest arguments the timeout option adds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat import workers_rs_suite as suite


def test_parse_args(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("WORKERS_RS_REPO", raising=False)
    for argv, message in (
        ([], "pass --repo PATH or set WORKERS_RS_REPO"),
        (["--repo", "r", "--modes", "test,bogus"], "unknown mode 'bogus'"),
        (["--repo", "r", "--check"], "--check needs the real tool's results"),
        (["--repo", "r", "--no-ours"], "--no-ours needs --real"),
        (["--repo", "r", "--commit", "bb14171"], "full 40-digit commit id"),
    ):
        with pytest.raises(SystemExit) as exc:
            suite.parse_args(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    monkeypatch.setenv("WORKERS_RS_REPO", "/some/repo")
    args = suite.parse_args(["--check", "--baseline", "old.json", "--modes", "test-panic-unwind"])
    assert args.repo == Path("/some/repo")
    assert args.modes == ["test-panic-unwind"]
    assert args.commit == suite.PINNED_COMMIT
    assert args.vitest_arg == ["--testTimeout=30000"]
    args = suite.parse_args(["--test-timeout", "5000", "--vitest-arg=--bail=1"])
    assert args.vitest_arg == ["--testTimeout=5000", "--bail=1"]
