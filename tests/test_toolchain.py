from __future__ import annotations

from pathlib import Path

import pytest
from fakes import fake_exe, fake_rustc, path_with

from worker_build import toolchain
from worker_build.errors import EXIT_TOOLCHAIN, ToolchainError
from worker_build.toolchain import EhEncoding, StdSource


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.delenv("WORKER_BUILD_CARGO", raising=False)


def test_explicit_stable_compiler_with_sources_needs_bootstrap(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", std_src=True)
    tc = toolchain.find_toolchain(rustc, unwind=True)
    assert tc.std_source is StdSource.BUILD_STD
    assert tc.needs_bootstrap and tc.channel == "stable" and tc.version == "1.96.0"
    assert tc.cargo == tmp_path / "bin" / "cargo"
    assert tc.origin == "--rustc"


def test_env_variable_selects_the_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", "1.97.0-nightly", std_src=True)
    monkeypatch.setenv("WORKER_BUILD_RUSTC", str(rustc))
    tc = toolchain.find_toolchain(None, unwind=True)
    assert tc.origin == "WORKER_BUILD_RUSTC"
    assert tc.channel == "nightly" and not tc.needs_bootstrap


def test_precompiled_std_is_preferred_without_unwind(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", std_src=True, wasm_std=True)
    tc = toolchain.find_toolchain(rustc, unwind=False)
    assert tc.std_source is StdSource.PRECOMPILED and not tc.needs_bootstrap


def test_sources_only_builds_std_without_unwind(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", std_src=True)
    assert toolchain.find_toolchain(rustc, unwind=False).std_source is StdSource.BUILD_STD


def test_unwind_without_sources_names_the_fix(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", wasm_std=True)
    with pytest.raises(ToolchainError) as info:
        toolchain.find_toolchain(rustc, unwind=True)
    assert "has no std sources" in info.value.message
    assert info.value.exit_code == EXIT_TOOLCHAIN


def test_no_wasm_std_at_all(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    with pytest.raises(ToolchainError, match="no wasm32 standard library") as info:
        toolchain.find_toolchain(rustc, unwind=False)
    assert "rustup target add wasm32-unknown-unknown" in (info.value.fix or "")


def test_explicit_path_that_is_not_executable(tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match="not an executable rustc"):
        toolchain.find_toolchain(tmp_path / "nope", unwind=True)


def test_explicit_rustc_without_cargo(tmp_path: Path) -> None:
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", std_src=True)
    (tmp_path / "bin" / "cargo").unlink()
    with pytest.raises(ToolchainError, match="no cargo next to") as info:
        toolchain.find_toolchain(rustc, unwind=True)
    assert "WORKER_BUILD_CARGO" in (info.value.fix or "")


def test_rustup_nightly_without_rust_src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "nightly"
    fake_rustc(bindir, tmp_path / "sysroot", "1.97.0-nightly")
    fake_exe(tmp_path / "rustup" / "rustup", f'echo "{bindir}/$4"')
    monkeypatch.setenv("PATH", path_with(tmp_path / "rustup"))
    with pytest.raises(ToolchainError) as info:
        toolchain.find_toolchain(None, unwind=True)
    assert info.value.fix is not None
    assert "rustup component add rust-src --toolchain nightly" in info.value.fix


def test_no_rustup_and_unwind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="needs a nightly toolchain") as info:
        toolchain.find_toolchain(None, unwind=True)
    assert "rustup toolchain install nightly --component rust-src" in (info.value.fix or "")


def test_no_rust_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="no Rust toolchain found"):
        toolchain.find_toolchain(None, unwind=False)


def test_flags() -> None:
    assert toolchain.build_std_flag(True) == "-Zbuild-std=std,panic_unwind"
    assert toolchain.build_std_flag(False) == "-Zbuild-std=std,panic_abort"
    assert toolchain.eh_rustflags(EhEncoding.DEFAULT) == []
    assert toolchain.eh_rustflags(EhEncoding.EXNREF) == ["-Cllvm-args=-wasm-use-legacy-eh=false"]
    assert toolchain.eh_rustflags(EhEncoding.LEGACY) == ["-Cllvm-args=-wasm-use-legacy-eh=true"]
