"""The std step (steps/std.py): when the std cache stands in for -Zbuild-std, and when not."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from cratefix import write_crate
from fakes import fake_exe
from test_std_cache import RELEASE, toolchain, unit

from worker_build import crate as crate_mod
from worker_build import std_cache
from worker_build.context import BuildContext
from worker_build.options import RawArgs, resolve
from worker_build.std_cache import StdMode
from worker_build.steps import std
from worker_build.toolchain import StdSource


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))


def context(
    tmp_path: Path, cargo_script: str, *, source: StdSource = StdSource.BUILD_STD, **raw: object
) -> BuildContext:
    tc = toolchain(tmp_path)
    fake_exe(tc.cargo, cargo_script)
    crate = crate_mod.load_crate(write_crate(tmp_path / "crate"))
    args: dict[str, object] = {"panic_unwind": True, **raw}
    options = resolve(RawArgs(**args), crate.root, crate.metadata)  # type: ignore[arg-type]
    ctx = BuildContext(options=options, staging=tmp_path / "staging", crate=crate)
    ctx.toolchain = replace(tc, std_source=source)
    return ctx


def test_a_precompiled_std_needs_no_cache(tmp_path: Path) -> None:
    ctx = context(tmp_path, "exit 99", source=StdSource.PRECOMPILED, panic_unwind=False)
    std.run(ctx)
    assert ctx.std is not None and ctx.std.mode is StdMode.PRECOMPILED
    assert ctx.facts["std"] == {"source": "precompiled"}


def test_cargo_refusing_the_unit_graph_falls_back_to_build_std(tmp_path: Path) -> None:
    ctx = context(tmp_path, 'echo "warning: x" >&2; echo "error: unexpected argument" >&2; exit 1')
    std.run(ctx)
    assert ctx.std is not None and ctx.std.mode is StdMode.BUILD_STD
    reason = "`cargo build --unit-graph` failed: error: unexpected argument"
    assert ctx.facts["std"] == {"source": "build-std", "reason": reason}
    assert ctx.notes == [f"std cache not used: {reason}"]
    assert not (std_cache.root()).exists() or not any(std_cache.root().iterdir())


def test_a_custom_codegen_backend_is_not_cached(tmp_path: Path) -> None:
    import json

    graph = tmp_path / "graph.json"
    profile = {**RELEASE, "codegen_backend": "cranelift", "name": "release"}
    graph.write_text(json.dumps({"units": [unit("std", profile)], "roots": [0]}))
    ctx = context(tmp_path, f'cat "{graph}"')
    std.run(ctx)
    assert ctx.std is not None and ctx.std.mode is StdMode.BUILD_STD
    assert ctx.facts["std"]["reason"] == "the profile sets codegen-backend cranelift"


def test_manifests_up_to_the_workspace_root(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    member = root / "crates" / "w"
    member.mkdir(parents=True)
    for d in (tmp_path, root, member):
        (d / "Cargo.toml").write_text("")
    assert std.manifests(member / "Cargo.toml", root) == [
        member / "Cargo.toml",
        root / "Cargo.toml",
    ]
