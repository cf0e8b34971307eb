"""Output under wrangler's [build] (cli/wrangler_log.py): whole lines, no empty ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.terminal import Stream, child_env, clean_env
from worker_build.errors import EXIT_CRATE

_clean_env = clean_env  # autouse: every test here starts from the same environment
VENV_BIN = Path(sys.executable).parent


def wrangler_lines(chunks: list[bytes]) -> list[str]:
    """What wrangler's runCommand logs for these chunks: each one split on newlines."""
    return [piece for chunk in chunks for piece in chunk.decode().split("\n")]


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_wrangler_sees_whole_lines_and_no_empty_ones(kind: str) -> None:
    import socket

    from worker_build.cli.wrangler_log import LineChunks

    if kind == "pipe":
        read_fd, write_fd = os.pipe()
    else:  # Node's child stdio
        ours, theirs = socket.socketpair()
        read_fd, write_fd = theirs.detach(), ours.detach()
    with os.fdopen(write_fd, "w", encoding="utf-8") as pipe:
        stream = LineChunks(pipe)  # type: ignore[arg-type]
        chunks: list[bytes] = []

        def read() -> None:
            chunks.append(os.read(read_fd, 65536))

        stream.write("▸ pre-flight\n")  # one line: passed on without its newline
        read()
        stream.write("✓ pre-flight 0.00s\n▸ cargo build\n")
        read()
        stream.write("    Blocking")  # cargo writes its status word apart
        stream.write(" waiting for file lock\n")
        stream.write("   Compiling x\n")  # unread: after DRAIN_POLLS, the newline in front
        read()
        stream.write("error: no newline at exit")
        stream.close()
        read()
    os.close(read_fd)
    assert chunks == [
        "▸ pre-flight".encode(),
        "✓ pre-flight 0.00s\n▸ cargo build".encode(),
        b"    Blocking waiting for file lock\n   Compiling x",
        b"error: no newline at exit",
    ]
    assert wrangler_lines(chunks) == [
        "▸ pre-flight",
        "✓ pre-flight 0.00s",
        "▸ cargo build",
        "    Blocking waiting for file lock",
        "   Compiling x",
        "error: no newline at exit",
    ]


def test_wrangler_mode_only_under_wrangler_and_on_a_pipe(tmp_path: Path) -> None:
    import socket

    from worker_build.cli.wrangler_log import wanted

    read_fd, write_fd = os.pipe()
    ours, theirs = socket.socketpair()  # what Node gives a child's stdio
    with (
        os.fdopen(write_fd, "w") as pipe,
        ours.makefile("w") as sock,
        open(tmp_path / "log", "w") as file,
    ):
        assert wanted(pipe, {"WRANGLER_COMMAND": "deploy"})
        assert wanted(sock, {"WRANGLER_COMMAND": "dev"})
        assert not wanted(pipe, {})
        assert not wanted(file, {"WRANGLER_COMMAND": "deploy"})
        assert not wanted(Stream(tty=True), {"WRANGLER_COMMAND": "deploy"})
    os.close(read_fd)
    ours.close()
    theirs.close()


def test_cli_under_wrangler_writes_no_empty_lines(tmp_path: Path) -> None:
    """The real CLI with stderr on a pipe and WRANGLER_COMMAND set, read the way
    wrangler reads it (chunk by chunk, split on newlines)."""
    exe = str(VENV_BIN / "worker-build")
    env = child_env(WRANGLER_COMMAND="deploy")
    proc = subprocess.Popen([exe, str(tmp_path)], env=env, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    # Read only after it exits: every chunk after the first finds the previous one
    # unread and puts the newline in front (the other case is the unit test above).
    assert proc.wait(timeout=60) == EXIT_CRATE
    chunks = [proc.stderr.read()]
    lines = wrangler_lines(chunks)
    assert "" not in lines, lines
    assert lines[-1] == (
        f"error: no Cargo.toml in {tmp_path} "
        "(run worker-build in the crate's directory or pass its path)"
    )
