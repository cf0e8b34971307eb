"""The one way worker-build runs another program.

No shell, ever: argv lists only. The executable is resolved up front so a
missing program is a `ToolMissingError` with a fix, not a bare
`FileNotFoundError`. Failures raise `CommandFailedError` with the command,
exit code and captured output; a child killed by SIGINT raises KeyboardInterrupt
(see `_interrupted`).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO

from worker_build.errors import CommandFailedError, ToolMissingError

# Called with the printable command line before each run (the UI sets this
# in --verbose mode). A module-level hook keeps every caller's signature small.
_echo: Callable[[str], None] | None = None


def set_echo(echo: Callable[[str], None] | None) -> None:
    global _echo
    _echo = echo


class Output(Enum):
    """Where a child's output goes."""

    CAPTURE = "capture"  # both streams captured; shown only in errors
    STDOUT = "stdout"  # stdout captured (e.g. cargo's JSON), stderr shown live
    STREAM = "stream"  # both shown live; errors carry no output
    # stdout captured, stderr shown live *and* captured (to explain a failure, e.g.
    # cargo's "error: ..." line); a failure's output is stdout only, since stderr was seen
    TEE = "tee"


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def resolve(program: str | os.PathLike[str], fix: str | None = None) -> str:
    """Absolute path of `program` (a path or a name on PATH), or ToolMissingError."""
    text = os.fspath(program)
    if os.sep in text:
        path = Path(text)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise ToolMissingError(f"{text} does not exist or is not executable", fix)
    found = shutil.which(text)
    if found is None:
        raise ToolMissingError(f"{text} not found on PATH", fix)
    return found


def format_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    cmd = shlex.join(argv)
    return f"{prefix} {cmd}" if prefix else cmd


def _interrupted(returncode: int) -> None:
    """A child that died of SIGINT means a Ctrl-C reached its process group, and so us:
    the build is interrupted (exit 130), as a shell treats a child killed that way, not
    failed. We may never see the signal ourselves: a process started with SIGINT ignored
    (a background job of a script, `nohup`) keeps ignoring it, while Node, which runs npm's
    wasm-opt and esbuild, resets it to the default at start-up and dies of it."""
    if returncode == -signal.SIGINT:
        raise KeyboardInterrupt


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    output: Output = Output.CAPTURE,
    fix: str | None = None,
    check: bool = True,
) -> Result:
    """Run argv[0] (resolved) with `env` layered over os.environ."""
    args = [os.fspath(a) for a in argv]
    args[0] = resolve(args[0], fix)
    if _echo is not None:
        _echo(format_command(args, env))
    full_env = {**os.environ, **env} if env else None
    if output is Output.TEE:
        return _run_tee(args, cwd, full_env, fix, check)
    try:
        completed = subprocess.run(
            args,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=None if output is Output.STREAM else subprocess.PIPE,
            stderr=subprocess.PIPE if output is Output.CAPTURE else None,
            text=True,
            errors="replace",
            check=False,
        )
    except OSError as exc:
        raise ToolMissingError(f"cannot run {args[0]}: {exc.strerror}", fix) from exc
    _interrupted(completed.returncode)
    result = Result(args, completed.returncode, completed.stdout or "", completed.stderr or "")
    if check and completed.returncode != 0:
        raise CommandFailedError(args, completed.returncode, result.stdout + result.stderr, fix)
    return result


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook (Linux, main thread) that makes the child get SIGTERM when we die,
    so a server outlives neither a SIGKILLed parent nor one ended by an unhandled signal.

    The signal is tied to the thread that forks: from any other thread the child would be
    killed when that thread ends, so no hook there. ctypes is loaded here, in the parent:
    the child only makes one C call between fork and exec.
    """
    if sys.platform != "linux" or threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)

    return hook


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    *,
    stdout: IO[bytes],
    pass_fds: Sequence[int] = (),
    env: Mapping[str, str] | None = None,
    fix: str | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a long-lived child (a server) in its own process group, output to `stdout`.

    The group lets `stop_group` end it with everything it started, and keeps a terminal's
    Ctrl-C from reaching it before the parent's cleanup runs (see _parent_death_signal for
    a parent that dies without cleaning up).
    """
    args = [os.fspath(a) for a in argv]
    args[0] = resolve(args[0], fix)
    if _echo is not None:
        _echo(format_command(args, env))
    try:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            pass_fds=tuple(pass_fds),
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
        )
    except OSError as exc:
        raise ToolMissingError(f"cannot run {args[0]}: {exc.strerror}", fix) from exc


def stop_group(child: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the child's process group, SIGKILL after `timeout`; reaps the child."""
    if child.poll() is None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):  # the group is already gone
                os.killpg(child.pid, sig)
            try:
                child.wait(timeout=timeout)
                break
            except subprocess.TimeoutExpired:
                continue
    child.poll()


def _run_tee(
    args: list[str], cwd: Path | None, env: dict[str, str] | None, fix: str | None, check: bool
) -> Result:
    try:
        child = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ToolMissingError(f"cannot run {args[0]}: {exc.strerror}", fix) from exc
    assert child.stdout is not None and child.stderr is not None
    out, err = bytearray(), bytearray()
    shown = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with child, selectors.DefaultSelector() as selector:
        selector.register(child.stdout, selectors.EVENT_READ, out)
        selector.register(child.stderr, selectors.EVENT_READ, err)
        try:
            while selector.get_map():
                for key, _ in selector.select():
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fileobj)
                        continue
                    key.data.extend(chunk)
                    if key.data is err:
                        # Chunks as they come: progress redraws (\r) stay live.
                        sys.stderr.write(shown.decode(chunk))
                        sys.stderr.flush()
            returncode = child.wait()
        except BaseException:  # Ctrl-C: the child got SIGINT too; never leave it behind
            child.kill()
            child.wait()
            raise
    _interrupted(returncode)
    stdout = out.decode("utf-8", "replace")
    result = Result(args, returncode, stdout, err.decode("utf-8", "replace"))
    if check and returncode != 0:
        raise CommandFailedError(args, returncode, stdout, fix)
    return result


class Background:
    """A command started now and joined later, while this process does other work
    (e.g. a second wasm-opt beside the main one, on another core).

    It runs in its own process group (`spawn`), so a terminal's Ctrl-C does not reach
    it: whoever starts one must `join()` or `stop()` it, even on errors (the pipeline
    stops every job a failed or interrupted build left). Output goes to a temporary
    file, so the child never blocks on a full pipe while nobody reads it.
    """

    def __init__(
        self,
        argv: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str] | None = None,
        fix: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        import tempfile

        self.fix = fix
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (closed by join or stop)
        try:
            self.child = spawn(argv, stdout=self._output, env=env, fix=fix, cwd=cwd)
        except BaseException:
            self._output.close()
            raise
        self.argv = [str(a) for a in self.child.args]  # type: ignore[union-attr]

    def join(self) -> Result:
        """Wait for it; its Result, or CommandFailedError as `run` raises it."""
        try:
            returncode = self.child.wait()
        except BaseException:
            self.stop()
            raise
        output = self._take_output()
        if returncode != 0:
            raise CommandFailedError(self.argv, returncode, output, self.fix)
        return Result(self.argv, returncode, output, "")

    def stop(self, timeout: float = 5.0) -> str:
        """End it (SIGTERM, then SIGKILL after `timeout`) and reap it; what it wrote
        until then ("" once joined or stopped). Idempotent."""
        stop_group(self.child, timeout)
        return self._take_output()

    def _take_output(self) -> str:
        """What the job wrote, once: the file is closed after ("" from then on)."""
        if self._output.closed:
            return ""
        self._output.seek(0)
        output = self._output.read().decode(errors="replace")
        self._output.close()
        return output
