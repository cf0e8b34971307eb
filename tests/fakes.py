"""Fake executables for unit tests of command lines and error paths only."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def fake_exe(path: Path, script: str) -> Path:
    """Write a small POSIX shell program; `script` is its body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_rustc(
    bindir: Path,
    sysroot: Path,
    release: str = "1.96.0",
    *,
    std_src: bool = False,
    wasm_std: bool = False,
) -> Path:
    """A rustc answering -vV and --print sysroot, plus a cargo beside it."""
    if std_src:
        src = sysroot / "lib/rustlib/src/rust/library"
        src.mkdir(parents=True, exist_ok=True)
        (src / "Cargo.lock").write_text("")
    if wasm_std:
        lib = sysroot / "lib/rustlib/wasm32-unknown-unknown/lib"
        lib.mkdir(parents=True, exist_ok=True)
        (lib / "libstd-0000.rlib").write_text("")
    rustc = fake_exe(
        bindir / "rustc",
        f"""case "$1" in
  -vV) printf 'rustc {release}\\nrelease: {release}\\nhost: x86_64-unknown-linux-gnu\\n' ;;
  --print) echo '{sysroot}' ;;
esac""",
    )
    fake_exe(bindir / "cargo", 'echo cargo-called "$@"')
    return rustc


_BASICS = ("sh", "mkdir", "chmod", "cat", "printf", "echo", "rm", "mv", "cp", "sleep", "touch")


def path_with(*dirs: Path) -> str:
    """A PATH of `dirs` plus a directory holding only basic utilities, so tests see
    no real tool that happens to be installed on the machine."""
    basics = Path(os.environ.get("PYTEST_BASICS_DIR", "/tmp/worker-build-test-basics"))
    basics.mkdir(parents=True, exist_ok=True)
    for name in _BASICS:
        link = basics / name
        for origin in (Path("/bin") / name, Path("/usr/bin") / name):
            if origin.exists() and not link.exists():
                link.symlink_to(origin)
                break
    return os.pathsep.join([*(str(d) for d in dirs), str(basics)])
