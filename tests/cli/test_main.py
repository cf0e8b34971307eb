"""One command-line convention for every subcommand (cli/main.py and the parsers it
dispatches to): `-h`/`--help` works, an unknown option is one `error:` line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_error, cli_env, run
from worker_build.errors import EXIT_OK, EXIT_USAGE

_env = cli_env  # autouse: a cache of the test's own, no caller settings
COMMANDS = [[], ["verify"], ["doctor"], ["cache"]]
VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c else "build")
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help(
    command: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *command, flag)
    assert code == EXIT_OK, err
    assert out.lower().startswith("usage:") and err == ""


@pytest.mark.parametrize(
    "command", [["verify"], ["doctor"], ["cache"], ["cache", "prune"]], ids=" ".join
)
def test_an_unknown_option_is_one_error_line_and_exit_2(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *command, "--bogus")
    assert code == EXIT_USAGE
    assert_one_line_error(err, "--bogus", f"worker-build {' '.join(command)} -h")
    assert len(err.splitlines()) == 1 and out == ""


def test_the_console_script_follows_the_convention() -> None:
    """As a user runs it: the installed `worker-build` for `doctor -h` and a bad option."""
    exe = str(VENV_BIN / "worker-build")
    shown = subprocess.run([exe, "doctor", "-h"], capture_output=True, text=True, check=False)
    assert shown.returncode == 0 and "--panic-unwind" in shown.stdout
    bad = subprocess.run([exe, "doctor", "--bogus"], capture_output=True, text=True, check=False)
    assert bad.returncode == EXIT_USAGE
    assert bad.stderr.splitlines() == [bad.stderr.strip()]
    assert bad.stderr.startswith("error: ")
