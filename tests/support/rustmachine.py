"""A fake machine's Rust installations, for tests of toolchain discovery (rust/toolchain.py)
and of the build step that reports it (build/steps/toolchain.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_rustup, path_with
from worker_build.rust import toolchain

NIGHTLY = "nightly-x86_64-unknown-linux-gnu"
STABLE = "stable-x86_64-unknown-linux-gnu"


def no_caller_toolchain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No compiler chosen by the caller's environment, and a cache of the test's own."""
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.delenv("WORKER_BUILD_CARGO", raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


def bare_machine(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with no distro compiler and nothing on PATH but `home/bin` and basic
    utilities (tests add compilers and rustup there when they need them)."""
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", ())
    monkeypatch.setenv("PATH", path_with(home / "bin"))
    return home


def rustup(home: Path, *toolchains: tuple[str, Path, str]) -> Path:
    """A rustup in `home/bin` listing `toolchains`: (name, directory, flags)."""
    return fake_rustup(home / "bin", toolchains)
