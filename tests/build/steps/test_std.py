"""The std step (build/steps/std.py): when the std cache stands in for -Zbuild-std, and
when not; with fake cargo, and one real build without the cache (`--no-std-cache`)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import Built, tool_env, worker_build
from tests.support.cratefix import write_crate
from tests.support.fakes import fake_exe
from tests.support.stdcache import RELEASE, toolchain, unit
from worker_build.build import crate as crate_mod
from worker_build.build.context import BuildContext
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import std
from worker_build.rust import stdcache
from worker_build.rust.stdcache import StdMode
from worker_build.rust.toolchain import StdSource


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
    # no entry, nothing staged (only the memo of the std sources' digest)
    assert [p.name for p in stdcache.root().iterdir()] == ["sources.json"]


def test_a_custom_codegen_backend_is_not_cached(tmp_path: Path) -> None:
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


def test_host_prebuild_is_the_crates_own_command_with_keep_going() -> None:
    crate_argv = ["/c/cargo", "build", "--lib", "--target", "wasm32-unknown-unknown",
                  "--message-format=json-render-diagnostics", "--release", "--offline",
                  "--features", "http", "--target-dir", "/t", "-j2"]  # fmt: skip
    assert std.host_prebuild_command(crate_argv) == [
        "/c/cargo", "build", "--keep-going", "--lib", "--target", "wasm32-unknown-unknown",
        "--message-format=json-render-diagnostics", "--release", "--offline",
        "--features", "http", "--target-dir", "/t", "-j2",
    ]  # fmt: skip
    # cargo refuses a flag given twice
    given = [*crate_argv, "--keep-going"]
    assert std.host_prebuild_command(given) == given


def cargo_script(graph: Path, tmp: Path, *, wait_for_proc_macros: bool) -> str:
    """A cargo answering --unit-graph with `graph`, recording the host prebuild,
    and building a fake std for the seed (after the proc-macro build has started, when
    asked: then both must run at once, or the seed gives up)."""
    wait = (
        f'i=0; while [ ! -f "{tmp}/pm.started" ]; do i=$((i+1)); '
        "[ $i -gt 600 ] && exit 3; sleep 0.05; done"
        if wait_for_proc_macros
        else ":"
    )
    return f"""
case " $* " in
  *" --unit-graph "*) cat "{graph}" ;;
  *" --keep-going "*)
    echo "$RUSTC" > "{tmp}/pm.rustc"
    printf '%s\\n' "$@" > "{tmp}/pm.argv"
    touch "{tmp}/pm.started" ;;
  *" --manifest-path "*)
    printf '%s\\n' "$@" > "{tmp}/seed.argv"
    {wait}
    target=""; prev=""
    for a in "$@"; do [ "$prev" = "--target-dir" ] && target="$a"; prev="$a"; done
    deps="$target/wasm32-unknown-unknown/release/deps"; mkdir -p "$deps"
    for c in std core alloc panic_unwind; do
      printf '!<arch>\\nfake' > "$deps/lib$c-1.rlib"
      printf '{{"reason":"compiler-artifact","package_id":"path+file:///l/%s#0.0.0","filenames":["%s"]}}\\n' "$c" "$deps/lib$c-1.rlib"
    done ;;
esac
"""


def graph_with_a_proc_macro(graph: Path) -> Path:
    """A unit graph (`cargo build --unit-graph`) with std and one proc-macro."""
    pm = unit("serde_derive", {**RELEASE, "name": "release"}, std=False, platform=None)
    pm["pkg_id"] = "registry+https://x/index#serde_derive@1.0.229"
    pm["target"]["kind"] = ["proc-macro"]
    graph.write_text(json.dumps({"units": [unit("std", {**RELEASE, "name": "release"}), pm],
                                 "roots": [0]}))  # fmt: skip
    return graph


def test_proc_macros_compile_while_std_is_built(tmp_path: Path) -> None:

    graph = graph_with_a_proc_macro(tmp_path / "graph.json")
    ctx = context(tmp_path, cargo_script(graph, tmp_path, wait_for_proc_macros=True))
    std.run(ctx)
    assert ctx.std is not None and ctx.std.mode is StdMode.CACHE and ctx.std.entry is not None
    assert ctx.facts["std"]["built"] is True
    meanwhile = ctx.facts["std"]["proc_macros_meanwhile"]
    assert meanwhile["packages"] == 1
    # through the entry's rustc (staged then: the same -vV, so cargo's fingerprints match)
    staged = Path((tmp_path / "pm.rustc").read_text().strip())
    assert staged.name == "rustc" and staged.parent.name == "bin"
    assert staged.parent.parent.name.startswith(f".tmp-{ctx.std.entry.key}-")
    argv = (tmp_path / "pm.argv").read_text().split()
    # the crate's own build (its features and profiles), not a `-p` build of the macros
    assert argv[:2] == ["build", "--keep-going"] and "-p" not in argv
    assert argv[2:] == std.cargo.command(ctx.options, ctx.need_toolchain(), ctx.std)[2:]
    assert stdcache.problem(ctx.std.entry) is None


def test_offline_reaches_the_std_build(tmp_path: Path) -> None:
    """`worker-build --offline` hands --offline to cargo, and so to the cargo that builds
    the std cache entry (std's own dependencies then come from cargo's local cache)."""
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({"units": [unit("std", {**RELEASE, "name": "release"})],
                                 "roots": [0]}))  # fmt: skip
    script = cargo_script(graph, tmp_path, wait_for_proc_macros=False)
    ctx = context(tmp_path, script, offline=True)
    std.run(ctx)
    assert ctx.facts["std"]["built"] is True
    assert "--offline" in (tmp_path / "seed.argv").read_text().split()


def test_a_failed_std_build_stops_the_proc_macro_build(tmp_path: Path) -> None:

    from worker_build.errors import CommandFailedError

    graph = graph_with_a_proc_macro(tmp_path / "graph.json")
    # a wasm32 build script the prebuild ran before it was stopped
    run_dir, fingerprint = script_run_dirs(tmp_path / "build dïr", "num-traits-1a")
    script = f"""
case " $* " in
  *" --unit-graph "*) cat "{graph}" ;;
  *" --keep-going "*)
    echo '{script_run(run_dir)}'
    echo $$ > "{tmp_path}/pm.pid"; touch "{tmp_path}/pm.started"; exec sleep 300 ;;
  *" --manifest-path "*)
    i=0; while [ ! -f "{tmp_path}/pm.started" ]; do i=$((i+1)); [ $i -gt 600 ] && exit 3; sleep 0.05; done
    echo "error: could not compile core" >&2; exit 101 ;;
esac
"""
    ctx = context(tmp_path, script)
    with pytest.raises(CommandFailedError):
        std.run(ctx)
    pid = int((tmp_path / "pm.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped, not left running for 300 s
    assert not list(stdcache.root().glob(".tmp-*")) and not list(stdcache.root().glob("[0-9a-f]*"))
    assert not fingerprint.exists()  # forgotten even though the prebuild was stopped


def script_run_dirs(
    root: Path, unit: str, target: str = "wasm32-unknown-unknown"
) -> tuple[Path, Path]:
    """A build-script run's directory and fingerprint as cargo lays them out."""
    profile_dir = root / target / "release" if target else root / "release"
    run_dir = profile_dir / "build" / unit
    (run_dir / "out").mkdir(parents=True)
    (run_dir / "output").write_text("cargo:rustc-cfg=x\n")
    fingerprint = profile_dir / ".fingerprint" / unit
    fingerprint.mkdir(parents=True)
    (fingerprint / "run-build-script-build-script-build").write_text("0123")
    return run_dir, fingerprint


def script_run(run_dir: Path) -> str:
    """cargo's JSON message for a build script it ran (or found fresh)."""
    return json.dumps({"reason": "build-script-executed", "package_id": "x",
                       "linked_libs": [], "linked_paths": [], "cfgs": [], "env": [],
                       "out_dir": str(run_dir / "out")})  # fmt: skip


def test_the_prebuilds_wasm32_build_script_runs_are_forgotten(tmp_path: Path) -> None:
    """A wasm32 build script that ran before std existed may have probed the target
    and failed: its fingerprint goes, so the crate's build runs it again. Host build
    scripts (their std is the compiler's own) and everything else stay."""
    root = tmp_path / "büild 日本"
    wasm_run, wasm_fp = script_run_dirs(root, "num-traits-4a")
    host_run, host_fp = script_run_dirs(root, "proc-macro2-9b", target="")
    lib_fp = root / "wasm32-unknown-unknown" / "release" / ".fingerprint" / "num-traits-cc"
    lib_fp.mkdir(parents=True)
    output = "\n".join([
        "   Compiling num-traits v0.2.19",
        script_run(wasm_run),
        script_run(host_run),
        json.dumps({"reason": "compiler-artifact", "filenames": []}),
        json.dumps({"reason": "build-script-executed"}),  # no out_dir: nothing to forget
        "{not json",
        "error: could not compile `chrono` (lib)",
    ])  # fmt: skip
    assert std.forget_target_script_runs(output) == ["num-traits-4a"]
    assert not wasm_fp.exists() and (wasm_run / "output").is_file()
    assert host_fp.is_dir() and lib_fp.is_dir()
    assert std.forget_target_script_runs(output) == ["num-traits-4a"]  # again: no error


# --- real builds -------------------------------------------------------------------------------


def exports(wasm: Path) -> list[str]:
    from worker_build.wasm.module import parse_module

    return sorted(e.name for e in parse_module(wasm.read_bytes()).exports)


@pytest.mark.slow
def test_no_std_cache_builds_std_in_the_target_dir_as_before(
    pure_unwind: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--no-std-cache is the behaviour before the cache (-Zbuild-std in the target dir),
    and the module the cache gives is as good: same exports, EH verified, same size
    within 1%."""
    monkeypatch.undo()  # the real cache, as the fixture used
    target = CACHE / "test-target" / "pure-exports-build-std"
    env = {**tool_env(), "CARGO_TARGET_DIR": str(target)}
    out = CACHE / "test-builds" / "pure-exports-build-std"
    # the real tool's way: std and every dependency compiled in the target directory
    proc = worker_build(SAMPLES / "pure-exports", "--panic-unwind", "--no-std-cache",
                        "--no-compile-cache", "--json", "--out-dir", out, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    assert doc["std"] == {"source": "build-std", "reason": "the std cache is off"}
    assert list((target / "wasm32-unknown-unknown" / "release" / "deps").glob("libcore-*.rlib"))
    cached = json.loads((pure_unwind.out / "worker-build.json").read_text())
    assert cached["std"]["source"] == "cache"
    assert exports(out / "index_bg.wasm") == exports(pure_unwind.wasm)
    assert doc["eh_encoding"] == cached["eh_encoding"] == "legacy"
    ratio = pure_unwind.wasm.stat().st_size / (out / "index_bg.wasm").stat().st_size
    assert 0.99 < ratio < 1.01, ratio
