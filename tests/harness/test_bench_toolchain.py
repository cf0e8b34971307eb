"""harness/bench_toolchain.py: the environment both compared tools build in, the rustc
wrapper that puts the benchmark sysroot in, and the rustup shim that answers the real
tool's rust-src query. With stand-in rustc/rustup scripts: no toolchain is built."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness import bench_toolchain as bt
from harness.paths import NODE_BIN

ECHO_ARGS = '#!/bin/sh\nprintf "%s\\n" "{name}" "$@"\n'


def stand_in(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_env_drops_what_would_change_one_tools_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for var in ("RUSTFLAGS", "PYTHONPATH", "RUSTC_BOOTSTRAP", "WASM_BINDGEN_BIN", "RUST_BACKTRACE"):
        monkeypatch.setenv(var, "from the caller")
    monkeypatch.setenv("KEEP_ME", "yes")
    monkeypatch.setenv("PATH", os.pathsep.join(["/usr/bin", str(bt.CARGO_BIN), "/bin"]))
    toolchain = bt.BenchToolchain(tmp_path / "rustup-home", tmp_path / "shim")

    env = toolchain.env(unwind=False)
    assert env["PATH"].split(os.pathsep) == [str(bt.CARGO_BIN), "/usr/bin", "/bin"]
    assert env["KEEP_ME"] == "yes"
    assert not {"RUSTFLAGS", "PYTHONPATH", "RUSTC_BOOTSTRAP", "WASM_BINDGEN_BIN"} & set(env)
    assert "RUST_BACKTRACE" not in env
    assert env["RUSTUP_HOME"] == str(tmp_path / "rustup-home")
    assert env["RUSTUP_TOOLCHAIN"] == bt.TOOLCHAIN_NAME
    assert env["WASM_OPT_BIN"] == str(NODE_BIN / "wasm-opt")
    assert env["ESBUILD_BIN"] == str(NODE_BIN / "esbuild")

    unwind = toolchain.env(unwind=True)
    assert unwind["PATH"].split(os.pathsep)[:2] == [str(tmp_path / "shim"), str(bt.CARGO_BIN)]
    assert unwind["RUSTC_BOOTSTRAP"] == "1"  # Debian's stable cargo, -Zbuild-std


def test_rustc_wrapper_adds_the_sysroot_unless_the_caller_names_one(tmp_path: Path) -> None:
    rustc = stand_in(tmp_path / "debian" / "rustc", ECHO_ARGS.format(name="rustc"))
    real = tmp_path / "sysroot"
    (real / "bin").mkdir(parents=True)
    linked = tmp_path / "linked-sysroot"  # as a worktree reaches the shared one
    linked.symlink_to(real)
    bt.write_rustc_wrapper(linked, rustc)
    wrapper = str(real / "bin" / "rustc")

    def run(*args: str) -> list[str]:
        out = subprocess.run([wrapper, *args], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()

    assert run("-vV") == ["rustc", "--sysroot", str(real), "-vV"]
    assert run("--sysroot", "/other", "x.rs") == ["rustc", "--sysroot", "/other", "x.rs"]
    assert run("--sysroot=/other") == ["rustc", "--sysroot=/other"]

    inode = os.stat(wrapper).st_ino
    bt.write_rustc_wrapper(linked, rustc)
    assert os.stat(wrapper).st_ino == inode  # the same text: left alone
    bt.write_rustc_wrapper(linked, stand_in(tmp_path / "other" / "rustc", ECHO_ARGS))
    assert os.stat(wrapper).st_ino != inode  # replaced by a rename, never written in place


def test_rustup_shim_answers_the_rust_src_query_from_the_toolchains_files(
    tmp_path: Path,
) -> None:
    sysroot = tmp_path / "sysroot"
    rustc = '#!/bin/sh\n[ "$*" = "+nightly --print sysroot" ] && echo "{sysroot}"\n'
    bin_dir = tmp_path / "bin"
    stand_in(bin_dir / "rustc", rustc.format(sysroot=sysroot))
    rustup = stand_in(tmp_path / "real" / "rustup", ECHO_ARGS.format(name="real rustup"))
    bt.write_rustup_shim(tmp_path / "shim", rustup)
    env = dict(os.environ, PATH=os.pathsep.join([str(bin_dir), os.environ["PATH"]]))

    def shim(*args: str) -> str:
        argv = [str(tmp_path / "shim" / "rustup"), *args]
        return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout

    query = ("component", "list", "--toolchain", "nightly")
    assert shim(*query) == "rust-src\n"
    lock = sysroot / "lib" / "rustlib" / "src" / "rust" / "library" / "Cargo.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    assert shim(*query) == "rust-src (installed)\n"
    assert (
        shim(*query, "--installed") == "real rustup\n" + "\n".join([*query, "--installed"]) + "\n"
    )
    assert shim("show") == "real rustup\nshow\n"
