"""Terminals for UI tests: captured streams that say whether they are a TTY, a pseudo-terminal
to run a command in, and the environment those tests start from."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import select
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from harness.paths import REPO

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Stream(io.StringIO):
    """A captured stream that reports an encoding and whether it is a TTY."""

    def __init__(self, tty: bool = False, encoding: str = "utf-8") -> None:
        super().__init__()
        self._tty = tty
        self._encoding = encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "NO_COLOR",
        "FORCE_COLOR",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "TERM",
        "WORKER_BUILD_RUSTC",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "NO_COLOR",
            "FORCE_COLOR",
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "COLUMNS",
            "TTY_COMPATIBLE",
            "TTY_INTERACTIVE",
        )
    }
    env["TERM"] = "xterm-256color"
    env["PYTHONPATH"] = str(REPO)  # the checkout under test, whatever the venv installed
    env.update(extra)
    return env


def run_in_pty(argv: list[str], env: dict[str, str], cols: int = 100) -> tuple[int, str]:
    """Run argv with stdin/stdout/stderr on a fresh pseudo-terminal; return what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                proc.kill()
                pytest.fail(f"{argv} wrote nothing for 60 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def run_piped(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def plain_lines(text: str) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", text).replace("\r", "\n").splitlines()]
