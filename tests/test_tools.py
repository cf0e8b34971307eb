from __future__ import annotations

from pathlib import Path

import pytest
from fakes import fake_exe, path_with

from worker_build import tools
from worker_build.errors import EXIT_TOOL_MISSING, ToolMissingError
from worker_build.tools import InstallPolicy, Source


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN", "WORKERD_BIN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))


def bindgen(path: Path, version: str) -> Path:
    return fake_exe(path, f'echo "wasm-bindgen {version}"')


def test_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = bindgen(tmp_path / "x" / "wb", "0.2.125")
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(exe))
    tool = tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert tool.source is Source.ENV and tool.version == "0.2.125"


def test_env_override_that_is_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(tmp_path / "missing"))
    with pytest.raises(ToolMissingError, match="does not exist") as info:
        tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert "WASM_BINDGEN_BIN" in (info.value.fix or "")
    exe = fake_exe(tmp_path / "silent", "exit 0")
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(exe))
    with pytest.raises(ToolMissingError, match="does not report a wasm-bindgen version"):
        tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)


def test_path_needs_the_exact_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindgen(tmp_path / "bin" / "wasm-bindgen", "0.2.129")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert "cargo install wasm-bindgen-cli --version 0.2.130" in (info.value.fix or "")
    assert info.value.exit_code == EXIT_TOOL_MISSING
    bindgen(tmp_path / "bin" / "wasm-bindgen", "0.2.130")
    assert tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE).source is Source.PATH


def test_cache_keeps_one_dir_per_version(tmp_path: Path) -> None:
    for version in ("0.2.125", "0.2.130"):
        bindgen(tmp_path / "cache" / "wasm-bindgen" / version / "bin" / "wasm-bindgen", version)
    assert tools.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE).path.parts[-3] == "0.2.130"
    assert tools.wasm_bindgen("0.2.125", InstallPolicy.OFFLINE).path.parts[-3] == "0.2.125"


def test_install_with_fake_cargo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fake cargo "installs" by writing the binary under --root, recording its argv.
    log = tmp_path / "argv.txt"
    fake_exe(
        tmp_path / "bin" / "cargo",
        f'echo "$@" >> {log}\nroot=$6\n[ -n "$root" ] || exit 9\nmkdir -p "$root/bin"\n'
        f'printf \'#!/bin/sh\\necho "wasm-bindgen %s"\\n\' "$4" > "$root/bin/wasm-bindgen"\n'
        'chmod +x "$root/bin/wasm-bindgen"',
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    tool = tools.wasm_bindgen("0.2.130", InstallPolicy.ALLOW)
    assert tool.source is Source.INSTALLED
    assert tool.path == tmp_path / "cache" / "wasm-bindgen" / "0.2.130" / "bin" / "wasm-bindgen"
    assert "install wasm-bindgen-cli --version 0.2.130 --root" in log.read_text()
    assert "--locked" in log.read_text()
    # no half-installed staging directories are left behind
    assert [p.name for p in (tmp_path / "cache" / "wasm-bindgen").iterdir()] == ["0.2.130"]


def test_install_retries_without_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_exe(
        tmp_path / "bin" / "cargo",
        'case "$*" in *--locked*) echo "error: failed to select a version for x" >&2; exit 101;; esac\n'
        'root=$6\n[ -n "$root" ] || exit 9\nmkdir -p "$root/bin"\nprintf \'#!/bin/sh\\necho wasm-bindgen 0.2.130\\n\' > "$root/bin/wasm-bindgen"\n'
        'chmod +x "$root/bin/wasm-bindgen"',
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    assert tools.wasm_bindgen("0.2.130", InstallPolicy.ALLOW).source is Source.INSTALLED


def test_failed_install_is_a_tool_missing_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_exe(tmp_path / "bin" / "cargo", 'echo "network unreachable" >&2; exit 101')
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError, match="network unreachable"):
        tools.wasm_bindgen("0.2.130", InstallPolicy.ALLOW)
    assert not (tmp_path / "cache" / "wasm-bindgen" / "0.2.130").exists()


def test_npm_tools_from_node_modules(tmp_path: Path) -> None:
    crate = tmp_path / "proj" / "crate"
    crate.mkdir(parents=True)
    fake_exe(
        tmp_path / "proj" / "node_modules" / ".bin" / "wasm-opt",
        'echo "wasm-opt version 132 (version_132)"',
    )
    fake_exe(tmp_path / "proj" / "node_modules" / ".bin" / "esbuild", "echo 0.28.2")
    assert tools.wasm_opt(crate, InstallPolicy.OFFLINE).source is Source.NODE_MODULES
    assert tools.esbuild(crate, InstallPolicy.OFFLINE).version == "0.28.2"


def test_old_wasm_opt_on_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_exe(tmp_path / "bin" / "wasm-opt", 'echo "wasm-opt version 108"')
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        tools.wasm_opt(tmp_path, InstallPolicy.OFFLINE)
    assert "npm install binaryen@" in (info.value.fix or "")


def test_npm_tool_needs_npm_to_install(tmp_path: Path) -> None:
    # PATH (from the autouse fixture) holds no npm
    with pytest.raises(ToolMissingError, match="npm is not available"):
        tools.esbuild(tmp_path, InstallPolicy.ALLOW)


def workerd_exe(path: Path, date: str) -> Path:
    return fake_exe(path, f'echo "workerd {date}"')


def test_workerd_order_env_path_node_modules_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = tmp_path / "proj" / "crate"
    crate.mkdir(parents=True)
    cached = tmp_path / "cache" / "workerd" / tools.WORKERD_VERSION / "node_modules" / ".bin"
    workerd_exe(cached / "workerd", "2026-11-17")
    assert tools.workerd(crate, InstallPolicy.OFFLINE).source is Source.CACHE
    workerd_exe(tmp_path / "proj" / "node_modules" / ".bin" / "workerd", "2026-11-17")
    found = tools.workerd(crate, InstallPolicy.OFFLINE)
    assert (found.source, found.version) == (Source.NODE_MODULES, "2026-11-17")
    workerd_exe(tmp_path / "bin" / "workerd", "2026-10-01")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    assert tools.workerd(crate, InstallPolicy.OFFLINE).source is Source.PATH
    monkeypatch.setenv("WORKERD_BIN", str(workerd_exe(tmp_path / "x" / "wd", "2024-01-01")))
    assert tools.workerd(crate, InstallPolicy.OFFLINE).source is Source.ENV  # used as given


def test_old_workerd_is_passed_over_and_missing_one_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workerd_exe(tmp_path / "bin" / "workerd", "2023-05-01")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        tools.workerd(tmp_path, InstallPolicy.OFFLINE)
    assert f"npm install workerd@{tools.WORKERD_VERSION}" in (info.value.fix or "")
    assert "WORKERD_BIN" in (info.value.fix or "")
