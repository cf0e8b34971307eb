from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_exe, fake_rustc, rustup_toolchain
from tests.support.rustmachine import (
    NIGHTLY,
    STABLE,
    bare_machine,
    no_caller_toolchain,
    rustup,
)
from worker_build.errors import EXIT_TOOLCHAIN, ToolchainError
from worker_build.rust import toolchain
from worker_build.rust.toolchain import StdSource
from worker_build.tools import probes


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    no_caller_toolchain(monkeypatch, tmp_path)


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


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake machine with no distro compiler (tests add one when they need it)."""
    return bare_machine(tmp_path, monkeypatch)


def test_unwind_prefers_rustup_nightly_with_sources(home: Path) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly", std_src=True)
    stable = rustup_toolchain(home, STABLE, std_src=True)
    rustup(home, (STABLE, stable, "active, default"), (NIGHTLY, nightly, ""))
    tc = toolchain.find_toolchain(None, unwind=True)
    assert tc.origin == "rustup nightly" and tc.rustc == nightly / "bin" / "rustc"
    assert tc.sysroot == nightly and tc.channel == "nightly" and not tc.needs_bootstrap
    assert tc.rejected == ()
    assert "release: 1.97.0-nightly" in tc.verbose_version


def test_unwind_falls_back_to_another_rustup_toolchain(home: Path) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly")  # no rust-src
    dated = rustup_toolchain(
        home, "nightly-2026-05-01-x86_64-unknown-linux-gnu", "1.96.0-nightly", std_src=True
    )
    stable = rustup_toolchain(home, STABLE)
    rustup(
        home,
        (STABLE, stable, "active, default"),
        (NIGHTLY, nightly, ""),
        ("nightly-2026-05-01-x86_64-unknown-linux-gnu", dated, ""),
    )
    tc = toolchain.find_toolchain(None, unwind=True)
    assert tc.origin == "rustup nightly-2026-05-01" and tc.sysroot == dated
    assert [(r.origin, r.reason) for r in tc.rejected] == [
        ("rustup nightly", "no std sources (rust-src)"),
        ("rustup stable", "no std sources (rust-src)"),
    ]
    assert tc.rejected[0].fix == "run `rustup component add rust-src --toolchain nightly`"


def test_unwind_falls_back_to_a_distro_compiler(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This machine's case (README, "Quick start"): rustup's toolchains have no rust-src, Debian's
    rustc-web has the sources."""
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly")
    stable = rustup_toolchain(home, STABLE)
    rustup(
        home,
        (STABLE, stable, "active, default"),
        (NIGHTLY, nightly, ""),
        ("1.95.0-x86_64-unknown-linux-gnu", stable, ""),
    )  # same directory as stable
    (home / "bin" / "rustc").symlink_to(home / "bin" / "rustup")  # the proxy on PATH
    distro = fake_rustc(home / "usr" / "bin", home / "usr", std_src=True)
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", (home / "nowhere" / "rustc", distro))
    tc = toolchain.find_toolchain(None, unwind=True)
    assert tc.origin == str(distro) and tc.cargo == home / "usr" / "bin" / "cargo"
    assert tc.std_source is StdSource.BUILD_STD and tc.needs_bootstrap
    assert tc.label == f"rustc 1.96.0 (stable, {distro})"
    # the proxy and the duplicate 1.95.0 are not listed as separate candidates
    assert [r.label for r in tc.rejected] == [
        "rustup nightly: no std sources (rust-src)",
        "rustup stable: no std sources (rust-src)",
    ]


def test_abort_prefers_the_active_toolchain(home: Path) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly", wasm_std=True)
    pinned = rustup_toolchain(home, "1.90.0-x86_64-unknown-linux-gnu", "1.90.0", wasm_std=True)
    stable = rustup_toolchain(home, STABLE, wasm_std=True)
    rustup(
        home,
        (STABLE, stable, "default"),
        (NIGHTLY, nightly, ""),
        ("1.90.0-x86_64-unknown-linux-gnu", pinned, "active"),
    )  # rust-toolchain.toml
    tc = toolchain.find_toolchain(None, unwind=False)
    assert tc.origin == "rustup 1.90.0" and tc.std_source is StdSource.PRECOMPILED
    assert not tc.needs_bootstrap and tc.rejected == ()


def test_abort_without_wasm32_target_tries_the_next(home: Path) -> None:
    stable = rustup_toolchain(home, STABLE)  # neither the wasm32 target nor rust-src
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly", wasm_std=True)
    rustup(home, (STABLE, stable, "default"), (NIGHTLY, nightly, ""))  # old rustup: no "active"
    tc = toolchain.find_toolchain(None, unwind=False)
    assert tc.origin == "rustup nightly" and tc.std_source is StdSource.PRECOMPILED
    assert [r.label for r in tc.rejected] == ["rustup stable: no wasm32 std and no std sources"]
    assert tc.rejected[0].fix == "run `rustup target add wasm32-unknown-unknown --toolchain stable`"


def test_rustc_on_path_without_rustup(home: Path) -> None:
    fake_rustc(home / "bin", home / "sysroot", wasm_std=True)
    tc = toolchain.find_toolchain(None, unwind=False)
    assert tc.origin == "PATH" and tc.rustc == home / "bin" / "rustc"
    assert tc.std_source is StdSource.PRECOMPILED


def test_nothing_usable_lists_every_candidate(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly")
    rustup(home, (NIGHTLY, nightly, "active, default"))
    distro = fake_rustc(home / "usr" / "bin", home / "usr")  # no sources either
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", (distro,))
    with pytest.raises(ToolchainError) as info:
        toolchain.find_toolchain(None, unwind=True)
    assert info.value.message == (
        "no Rust toolchain with std sources (rustup nightly: no std sources (rust-src); "
        f"{distro}: no std sources (rust-src))"
    )
    assert info.value.exit_code == EXIT_TOOLCHAIN
    fix = info.value.fix or ""
    assert fix.startswith("run `rustup component add rust-src --toolchain nightly`, or install")
    assert "rust-web-src" in fix and fix.endswith("or pass --rustc PATH")


def test_no_rustup_and_unwind(home: Path) -> None:
    with pytest.raises(ToolchainError, match="needs a nightly toolchain") as info:
        toolchain.find_toolchain(None, unwind=True)
    assert "rustup toolchain install nightly --component rust-src" in (info.value.fix or "")


def test_no_rust_at_all(home: Path) -> None:
    with pytest.raises(ToolchainError, match="no Rust toolchain found"):
        toolchain.find_toolchain(None, unwind=False)


def test_explicit_wins_over_discovery(home: Path) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly", std_src=True)
    rustup(home, (NIGHTLY, nightly, "active"))
    mine = fake_rustc(home / "mine", home / "mine-sysroot", std_src=True)
    tc = toolchain.find_toolchain(mine, unwind=True)
    assert tc.origin == "--rustc" and tc.rustc == mine and tc.rejected == ()


def test_explicit_unusable_fails_even_when_discovery_would_succeed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly", std_src=True)
    rustup(home, (NIGHTLY, nightly, "active"))
    mine = fake_rustc(home / "mine", home / "mine-sysroot")  # no sources
    monkeypatch.setenv("WORKER_BUILD_RUSTC", str(mine))
    with pytest.raises(
        ToolchainError, match=r"WORKER_BUILD_RUSTC rustc 1\.96\.0 has no std sources"
    ):
        toolchain.find_toolchain(None, unwind=True)


def test_rustc_answers_are_cached_per_binary(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rustc -vV` / `--print sysroot` load the whole compiler (~0.1 s each): a known
    binary is not asked again until it changes."""
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    log = home / "calls"
    distro = fake_rustc(home / "usr" / "bin", home / "usr", std_src=True)
    body = distro.read_text().replace("#!/bin/sh\n", f'#!/bin/sh\necho "$@" >> "{log}"\n', 1)
    distro.write_text(body)
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", (distro,))
    for _ in range(3):
        assert toolchain.find_toolchain(None, unwind=True).origin == str(distro)
    assert log.read_text().splitlines() == ["--print sysroot", "-vV"]


@pytest.mark.parametrize(
    ("script", "cause"),
    [
        ("exit 1", "exited with code 1"),  # `--rustc /bin/false`
        ("echo 'not a compiler'", "cannot read the version"),  # `--rustc /bin/true` and such
        ('case "$1" in -vV) echo "release: 1.96.0";; *) exit 0;; esac', "prints no sysroot"),
    ],
)
def test_explicit_program_that_is_not_a_rustc_is_a_toolchain_error(
    tmp_path: Path, script: str, cause: str
) -> None:
    """Exit 4 with the fix, whichever way the program fails (not exit 1 as a failed tool)."""
    rustc = fake_exe(tmp_path / "bin" / "rustc", script)
    fake_exe(tmp_path / "bin" / "cargo", "exit 0")
    with pytest.raises(ToolchainError) as info:
        toolchain.find_toolchain(rustc, unwind=False)
    assert info.value.exit_code == EXIT_TOOLCHAIN
    assert info.value.message.startswith(f"--rustc points at {rustc}")
    assert cause in info.value.message
    assert "unset it to let worker-build find one" in (info.value.fix or "")
