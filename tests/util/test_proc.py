from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from worker_build.errors import EXIT_TOOL_FAILED, CommandFailedError, ToolMissingError
from worker_build.util import proc


def test_missing_program_is_tool_missing(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match="not found on PATH") as info:
        proc.run(["definitely-not-a-program-xyz"], fix="install it")
    assert info.value.fix == "install it"
    with pytest.raises(ToolMissingError, match="not executable"):
        proc.run([tmp_path / "nope"])


def test_failure_carries_command_code_and_output(tmp_path: Path) -> None:
    exe = fake_exe(tmp_path / "tool", "echo out; echo err >&2; exit 3")
    with pytest.raises(CommandFailedError) as info:
        proc.run([exe, "a b"])
    err = info.value
    assert err.argv == [str(exe), "a b"] and err.returncode == 3
    assert "out" in err.output and "err" in err.output
    assert err.message == "tool exited with code 3"
    assert err.exit_code == EXIT_TOOL_FAILED


def test_no_shell_interpretation(tmp_path: Path) -> None:
    exe = fake_exe(tmp_path / "echoargs", 'for a in "$@"; do echo "[$a]"; done')
    out = proc.run([exe, "$HOME", "a;b", "*"]).stdout
    assert out.split() == ["[$HOME]", "[a;b]", "[*]"]


def test_env_is_layered_and_echoed(tmp_path: Path) -> None:
    exe = fake_exe(tmp_path / "showenv", 'echo "$WB_X"')
    seen: list[str] = []
    proc.set_echo(seen.append)
    try:
        assert proc.run([exe], env={"WB_X": "v 1"}).stdout.strip() == "v 1"
    finally:
        proc.set_echo(None)
    assert seen == [f"WB_X='v 1' {exe}"]


def test_check_false_returns_result(tmp_path: Path) -> None:
    exe = fake_exe(tmp_path / "fail", "exit 4")
    assert proc.run([exe], check=False).returncode == 4


def test_spawned_server_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    exe = fake_exe(tmp_path / "stubborn", "trap '' TERM\necho ready\nsleep 300 &\nwait")
    with log.open("wb") as out:
        child = proc.spawn([exe], stdout=out)
        assert os.getpgid(child.pid) == child.pid  # its own process group
        deadline = time.monotonic() + 30
        while b"ready" not in log.read_bytes():  # the trap is set: SIGTERM is ignored now
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.01)
        proc.stop_group(child, timeout=0.5)
    assert child.returncode == -signal.SIGKILL


def test_tee_shows_stderr_live_and_keeps_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exe = fake_exe(
        tmp_path / "tool",
        'echo "{json}"; printf "progress\\r" >&2; echo "error: é bad" >&2; exit 101',
    )
    result = proc.run([exe], output=proc.Output.TEE, check=False)
    assert (result.returncode, result.stdout) == (101, "{json}\n")
    assert result.stderr == "progress\rerror: é bad\n"
    assert capsys.readouterr().err == "progress\rerror: é bad\n"  # shown as it came
    with pytest.raises(CommandFailedError) as info:
        proc.run([exe], output=proc.Output.TEE)
    assert info.value.output == "{json}\n"  # stderr was seen already: not repeated
    with pytest.raises(ToolMissingError):
        proc.run([tmp_path / "missing"], output=proc.Output.TEE)


@pytest.mark.parametrize("output", [proc.Output.CAPTURE, proc.Output.TEE])
def test_a_child_killed_by_sigint_is_an_interrupt_not_a_failure(
    tmp_path: Path, output: proc.Output
) -> None:
    """A Ctrl-C that reached the child's process group: exit 130, even when we ourselves
    ignore SIGINT (a background job) and the child reset it, as Node does."""
    exe = fake_exe(tmp_path / "tool", "trap - INT\nkill -INT $$\nexit 0")
    with pytest.raises(KeyboardInterrupt):
        proc.run([exe], output=output)
    with pytest.raises(KeyboardInterrupt):  # also when the caller reads the code itself
        proc.run([exe], output=output, check=False)


def test_a_child_exiting_130_is_a_failure(tmp_path: Path) -> None:
    """Only death by the signal counts: an exit code of 130 is the child's own answer."""
    exe = fake_exe(tmp_path / "tool", "exit 130")
    with pytest.raises(CommandFailedError):
        proc.run([exe])


def test_a_stopped_background_job_hands_back_what_it_wrote(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    exe = fake_exe(tmp_path / "job", 'echo "wörk done"; touch "$1"; exec sleep 600')
    job = proc.Background([exe, ready])
    while not ready.exists():  # the child's own handshake: its line is written by now
        assert job.child.poll() is None, "the job ended early"
        time.sleep(0.01)
    assert job.stop() == "wörk done\n"
    assert job.child.returncode is not None
    assert job.stop() == ""  # already stopped: nothing more, and no error
