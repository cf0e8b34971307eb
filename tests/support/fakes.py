"""Fake executables for unit tests of command lines and error paths only."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

HOST = "x86_64-unknown-linux-gnu"


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


def fake_rustup(
    bindir: Path, toolchains: Sequence[tuple[str, Path, str]], host: str = HOST
) -> Path:
    """A rustup answering `toolchain list -v` and `which --toolchain NAME rustc` for
    `toolchains`: (name, directory, flags such as "active, default")."""
    listing = "\n".join(
        f"{name} ({flags}) {path}" if flags else f"{name} {path}"
        for name, path, flags in toolchains
    )
    which = "\n".join(
        f'  {name}|{name.removesuffix("-" + host)}) echo "{path}/bin/$4" ;;'
        for name, path, _ in toolchains
    )
    return fake_exe(
        bindir / "rustup",
        f"""case "$1 $2" in
  "toolchain list") printf '%s\\n' "{listing}" ;;
  "which --toolchain") case "$3" in
{which}
  *) echo "error: toolchain '$3' is not installed" >&2; exit 1 ;;
  esac ;;
  *) exit 1 ;;
esac""",
    )


def rustup_toolchain(
    home: Path, name: str, release: str = "1.96.0", *, std_src: bool = False, wasm_std: bool = False
) -> Path:
    """A rustup toolchain directory (its own sysroot) with a fake rustc and cargo."""
    path = home / "toolchains" / name
    fake_rustc(path / "bin", path, release, std_src=std_src, wasm_std=wasm_std)
    return path


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
