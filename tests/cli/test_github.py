"""GitHub Actions workflow commands (cli/github.py)."""

from __future__ import annotations

from worker_build.cli import github


def test_workflow_command_escaping() -> None:
    assert github.command("error", "50%\r\nnext", title="a:b,c") == (
        "::error title=a%3Ab%2Cc::50%25%0D%0Anext"
    )
