"""Asking cargo what it applies to std, and the memo of its answers
(rust/stdcache/query.py), with a fake cargo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from tests.support.stdcache import RELEASE, toolchain, unit
from worker_build.rust.stdcache import query
from worker_build.rust.stdcache.spec import StdSettings
from worker_build.rust.toolchain import Toolchain


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_settings_come_from_the_std_unit_of_the_unit_graph() -> None:
    root = unit("my_worker", {**RELEASE, "name": "release"}, std=False)
    root["target"]["crate_types"] = ["rlib", "cdylib"]
    graph = {
        "units": [
            unit("core", {**RELEASE, "name": "release"}),
            unit(
                "std",
                {**RELEASE, "opt_level": "3", "name": "release", "strip": "debuginfo"},
                features=["panic-unwind"],
            ),
            root,
        ],
        "roots": [2],
    }
    got = query.settings_from_graph(graph, ("-Cpanic=unwind",), "cfg")
    assert got.profile["opt_level"] == "3" and "strip" not in got.profile
    assert got.features == ("panic-unwind",) and got.crate_types == ("cdylib", "rlib")


def test_target_rustflags_from_cargos_target_query() -> None:
    host_query = [
        "-",
        "--crate-name",
        "___",
        "--print=file-names",
        "--crate-type",
        "bin",
        "--print=cfg",
    ]
    wasm_query = [
        "-",
        "--crate-name",
        "___",
        "--print=file-names",
        "-Cpanic=unwind",
        "--cfg",
        "x",
        "--target",
        "wasm32-unknown-unknown",
        "--crate-type",
        "bin",
        "--print=cfg",
    ]
    calls = [["-vV"], host_query, wasm_query, wasm_query]
    assert query._target_rustflags(calls) == ("-Cpanic=unwind", "--cfg", "x")
    assert query._target_rustflags([["-vV"], host_query]) is None


def test_pkgid_specs() -> None:
    assert (
        query.pkgid_spec("registry+https://x/index#serde_derive@1.0.229") == "serde_derive@1.0.229"
    )
    assert query.pkgid_spec("path+file:///w/crates/macros#0.1.0") == "macros@0.1.0"
    assert query.pkgid_spec("path+file:///w/m#my-macros@0.2.0") == "my-macros@0.2.0"


FAKE_CARGO = """
log="{log}"
case " $* " in
  *" --unit-graph "*)
    echo unit-graph >> "$log"
    # ask rustc about the target the way cargo does, with the target rustflags
    "$RUSTC" - --crate-name ___ --print=file-names $RUSTFLAGS --target wasm32-unknown-unknown \\
      --crate-type bin --print=cfg
    cat "{graph}" ;;
  *) echo "build $*" >> "$log" ;;
esac
"""


def fake_cargo(tmp_path: Path, tc: Toolchain) -> Path:
    graph = tmp_path / "graph.json"
    root = unit("w", {**RELEASE, "name": "release"}, std=False)
    root["target"]["crate_types"] = ["cdylib"]
    graph.write_text(
        json.dumps({"units": [unit("std", {**RELEASE, "name": "release"}), root], "roots": [1]})
    )
    fake_exe(tc.rustc, "exit 0")
    return fake_exe(tc.cargo, FAKE_CARGO.format(log=tmp_path / "cargo.log", graph=graph))


def test_cargo_is_asked_once_until_an_input_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tc = toolchain(tmp_path)
    fake_cargo(tmp_path, tc)
    crate = tmp_path / "crate"
    crate.mkdir()
    (crate / "Cargo.toml").write_text("[package]\nname = 'w'\n")
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))
    argv = [str(tc.cargo), "build", "--release", "-Zbuild-std=std,panic_unwind"]
    env = {"RUSTFLAGS": "-Cpanic=unwind -Ctarget-feature=+simd128"}

    def ask() -> StdSettings:
        return query.settings_for(argv, crate, env, [crate / "Cargo.toml"], tc, "s0")

    first = ask()
    assert first.rustflags == ("-Cpanic=unwind", "-Ctarget-feature=+simd128")
    assert first.profile["opt_level"] == "s"
    assert ask() == first
    log = tmp_path / "cargo.log"
    assert log.read_text().splitlines() == ["unit-graph"]
    (crate / ".cargo").mkdir()
    (crate / ".cargo" / "config.toml").write_text("[profile.release]\nopt-level = 3\n")
    ask()
    monkeypatch.setenv("CARGO_PROFILE_RELEASE_LTO", "true")
    ask()
    (crate / "Cargo.toml").write_text("[package]\nname = 'w'\n[profile.release]\nlto = true\n")
    ask()
    assert log.read_text().splitlines() == ["unit-graph"] * 4
    # `include`d configuration files are not tracked: no memo then
    (crate / ".cargo" / "config.toml").write_text("include = ['other.toml']\n")
    ask()
    ask()
    assert log.read_text().splitlines() == ["unit-graph"] * 6
