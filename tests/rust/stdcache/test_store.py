"""The std cache (rust/stdcache/spec.py, store.py): keys, entries, locking, failures.

Unit tests with fake cargo/rustc executables (tests/fakes.py); the real std builds
are covered by the slow tests at the end and by every fixture build (conftest.py).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import Built, tool_env, worker_build
from tests.support.fakes import fake_exe
from tests.support.stdcache import HOST, RELEASE, VV, fake_build, settings, spec, toolchain, unit
from worker_build.errors import (
    EXIT_NOT_WRITABLE,
    CommandFailedError,
    LockedError,
    NotWritableError,
)
from worker_build.rust.stdcache import spec as std_settings
from worker_build.rust.stdcache import store as std_cache
from worker_build.rust.stdcache.spec import StdSettings
from worker_build.rust.stdcache.store import Entry
from worker_build.rust.toolchain import Toolchain
from worker_build.util import locking


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- the key --------------------------------------------------------------------------------


def test_every_input_changes_the_key(tmp_path: Path) -> None:
    tc = toolchain(tmp_path)
    base = spec(tc)
    variants = {
        "compiler": spec(replace(tc, verbose_version=VV.replace("ac68faa20c5", "0000000"))),
        "std sources": spec(tc, stamp="stamp1"),
        "compiler path": spec(replace(tc, rustc=tmp_path / "elsewhere" / "rustc")),
        "std crates": spec(tc, crates="std,panic_abort"),
        "panic": spec(tc, panic="abort"),
        "eh encoding": spec(tc, eh_encoding="exnref"),
        "dev policy": spec(tc, dev=True),
        "features": spec(tc, settings(features=("panic-unwind",))),
        "target feature": spec(
            tc, settings(rustflags=("-Cpanic=unwind", "-Ctarget-feature=+simd128"))
        ),
        "codegen flag": spec(tc, settings(rustflags=("-Cpanic=unwind", "-Cllvm-args=-x"))),
        "unknown rustflags": spec(tc, settings(rustflags=None, config_digest="cfg1")),
    }
    for key in (
        "opt_level",
        "codegen_units",
        "debuginfo",
        "debug_assertions",
        "overflow_checks",
        "lto",
        "panic",
        "split_debuginfo",
    ):
        changed = dict(RELEASE, **{key: "x"})
        variants[f"profile {key}"] = spec(tc, settings(profile=changed))
    keys = {name: s.key for name, s in variants.items()}
    assert base.key not in keys.values()
    assert len(set(keys.values())) == len(keys), keys


def test_what_cannot_change_std_leaves_the_key(tmp_path: Path) -> None:
    tc = toolchain(tmp_path)
    base = spec(tc)
    noise = (
        "-Cpanic=unwind",
        "-Awarnings",
        "-D",
        "unused",
        "--cap-lints",
        "warn",
        "-L",
        "native=/x",
        "-Clink-arg=-zstack-size=65536",
        "--check-cfg",
        "cfg(x)",
    )
    assert spec(tc, settings(rustflags=noise)).key == base.key
    # crate types only matter with LTO (bitcode and/or objects for std)
    assert spec(tc, settings(crate_types=("cdylib", "rlib"))).key == base.key
    lto = dict(RELEASE, lto="true")
    assert (
        spec(tc, settings(profile=lto)).key
        != spec(tc, settings(profile=lto, crate_types=("cdylib", "rlib"))).key
    )
    # codegen-units unset is rustc's default for non-incremental crates: 16
    assert spec(tc, settings(profile=dict(RELEASE, codegen_units=None))).key == base.key
    # the configuration digest stands in only when the rustflags are unknown
    assert spec(tc, settings(config_digest="other")).key == base.key


def test_rustflags_are_normalised() -> None:
    flags = ["-C", "opt-level=z", "--codegen", "lto=off", "--cfg", "x", "-Z", "y", "-Wunused"]
    assert std_settings.relevant_rustflags(flags) == (
        "-Copt-level=z",
        "-Clto=off",
        "--cfg=x",
        "-Zy",
    )


def test_dev_builds_get_an_optimized_std(tmp_path: Path) -> None:
    dev = dict(
        RELEASE,
        opt_level="0",
        debuginfo=2,
        debug_assertions=True,
        overflow_checks=True,
        codegen_units=256,
        lto="false",
    )
    got = spec(toolchain(tmp_path), settings(profile=dev), dev=True)
    assert got.profile["opt_level"] == "3" and got.profile["codegen_units"] == 1
    assert got.profile["debuginfo"] == 0 and not got.profile["debug_assertions"]
    assert not got.profile["overflow_checks"] and got.policy == "dev: optimized"
    assert got.profile["lto"] == "false"  # still the profile's: it decides bitcode


# --- cargo's answers -------------------------------------------------------------------------


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
    got = std_settings.settings_from_graph(graph, ("-Cpanic=unwind",), "cfg")
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
    assert std_settings._target_rustflags(calls) == ("-Cpanic=unwind", "--cfg", "x")
    assert std_settings._target_rustflags([["-vV"], host_query]) is None


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
        return std_settings.std_settings(argv, crate, env, [crate / "Cargo.toml"], tc, "s0")

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


# --- entries ---------------------------------------------------------------------------------


def test_an_entry_is_built_once_and_reused(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    calls: list[Path] = []
    found, built = std_cache.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert built and found.path == std_cache.root() / s.key
    doc = json.loads((found.path / "entry.json").read_text())
    assert doc["key"] == s.key and doc["spec"]["panic"] == "unwind"
    assert doc["files"] == {
        "bin/rustc": 10,
        "sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libcore-2.rlib": 108,
        "sysroot/lib/rustlib/wasm32-unknown-unknown/lib/libstd-1.rlib": 108,
    }
    again, built = std_cache.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert again == found and not built and len(calls) == 1
    assert not list(std_cache.root().glob(".tmp-*"))


@pytest.mark.parametrize(
    "damage",
    [
        "truncated rlib",
        "not an rlib",
        "missing file",
        "no entry.json",
        "bad entry.json",
        "other key",
    ],
)
def test_a_broken_entry_is_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    s = spec(toolchain(tmp_path))
    calls: list[Path] = []
    found, _ = std_cache.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    rlib = found.libdir / "libstd-1.rlib"
    if damage == "truncated rlib":
        rlib.write_bytes(rlib.read_bytes()[:50])
    elif damage == "not an rlib":
        rlib.write_bytes(b"?" * 108)
    elif damage == "missing file":
        rlib.unlink()
    elif damage == "no entry.json":  # a half-written entry (e.g. copied by hand)
        (found.path / "entry.json").unlink()
    elif damage == "bad entry.json":
        (found.path / "entry.json").write_text("{")
    else:
        doc = json.loads((found.path / "entry.json").read_text())
        (found.path / "entry.json").write_text(json.dumps({**doc, "key": "0" * 20}))
    assert std_cache.problem(found) is not None
    again, built = std_cache.ensure(s, fake_build(calls), timeout=5)  # type: ignore[arg-type]
    assert built and len(calls) == 2 and std_cache.problem(again) is None
    assert not list(std_cache.root().glob(".trash-*"))


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    stale = std_cache.root() / f".tmp-{s.key}-killed"
    (stale / "sysroot").mkdir(parents=True)
    std_cache.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    assert not stale.exists()


def test_a_build_waits_for_the_one_building_the_same_key(tmp_path: Path) -> None:
    """Two builds racing, made certain: this test holds the key's lock (as the other
    build would), the second build waits, then finds the entry the first one wrote."""
    s = spec(toolchain(tmp_path))
    waiting = threading.Event()
    result: list[tuple[Entry, bool]] = []
    calls: list[Path] = []
    lock = std_cache.root() / "locks" / f"{s.key}.lock"
    with locking.exclusive(lock, 0, held_by="test", fix=""):
        second = threading.Thread(
            target=lambda: result.append(
                std_cache.ensure(s, fake_build(calls), timeout=60, on_wait=waiting.set)
            )
        )  # type: ignore[arg-type]
        second.start()
        assert waiting.wait(30), "the second build did not wait for the lock"
        # the first build finishes its entry while holding the lock
        staging = std_cache._new_staging(s.key)
        fake_build([])(staging)  # type: ignore[operator]
        std_cache._write_entry(staging, s, {}, 1.0)
        os.replace(staging, std_cache.root() / s.key)
    second.join(30)
    assert result and result[0][1] is False and calls == []


def test_lock_timeout(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))
    lock = std_cache.root() / "locks" / f"{s.key}.lock"
    with (
        locking.exclusive(lock, 0, held_by="t", fix=""),
        pytest.raises(LockedError, match="still building the std cache entry"),
    ):
        std_cache.ensure(s, fake_build([]), timeout=0.2)  # type: ignore[arg-type]


def test_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))

    def full(staging: Path) -> dict[str, object]:
        (staging / "partial").write_bytes(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(std_cache.StdCacheError) as info:
        std_cache.ensure(s, full, timeout=5)
    assert info.value.message.startswith("no space left on the device holding the std cache")
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert "worker-build cache prune" in (info.value.fix or "")
    assert "--no-std-cache" in (info.value.fix or "")
    assert sorted(p.name for p in std_cache.root().iterdir()) == ["locks"]


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    from tests.support.fsfaults import unwritable

    s = spec(toolchain(tmp_path))
    cache = std_cache.root().parent
    cache.mkdir(parents=True)
    with unwritable(cache), pytest.raises(NotWritableError) as info:
        std_cache.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert info.value.message.startswith("cannot create the lock of the std cache entry")
    assert "WORKER_BUILD_CACHE" in (info.value.fix or "")


def test_a_failed_std_build_leaves_nothing(tmp_path: Path) -> None:
    s = spec(toolchain(tmp_path))

    def fails(staging: Path) -> dict[str, object]:
        raise CommandFailedError(["cargo"], 101, "error: boom")

    with pytest.raises(CommandFailedError):
        std_cache.ensure(s, fails, timeout=5)
    assert sorted(p.name for p in std_cache.root().iterdir()) == ["locks"]


# --- building an entry with (fake) cargo -------------------------------------------------------

SEED_CARGO = """
echo "$@" > "{log}"
env > "{log}.env"
target=""
prev=""
for a in "$@"; do [ "$prev" = "--target-dir" ] && target="$a"; prev="$a"; done
deps="$target/wasm32-unknown-unknown/release/deps"
mkdir -p "$deps"
for c in std core alloc panic_unwind compiler_builtins; do
  printf '!<arch>\\nfake' > "$deps/lib$c-0123.rlib"
  printf '{{"reason":"compiler-artifact","package_id":"path+file:///lib/%s#0.0.0","filenames":["%s"]}}\\n' "$c" "$deps/lib$c-0123.rlib"
done
printf '!<arch>\\nseed' > "$deps/libworker_build_std-1.rlib"
printf '{{"reason":"compiler-artifact","package_id":"path+file:///s#worker-build-std@0.0.0","filenames":["%s"]}}\\n' "$deps/libworker_build_std-1.rlib"
"""


def test_build_entry_layout_and_command(tmp_path: Path) -> None:
    tc = toolchain(tmp_path)
    log = tmp_path / "seed.log"
    fake_exe(tc.cargo, SEED_CARGO.format(log=log))
    s = spec(tc)
    crate = tmp_path / "crate"
    crate.mkdir()
    env = {"RUSTFLAGS": "-Cpanic=unwind", "CARGO_TARGET_DIR": "/elsewhere"}
    found, built = std_cache.ensure(
        s,
        lambda staging: std_cache.build_entry(
            staging,
            s,
            tc,
            cwd=crate,
            env=env,
            cargo_argv=(
                str(tc.cargo),
                "build",
                "--lib",
                "-Zbuild-std=std,panic_unwind",
                "--features",
                "x",
                "--frozen",
                "-q",
                "-Zbuild-std-features=panic-unwind",
            ),
        ),
        timeout=5,
        toolchain=tc,
    )
    assert built and std_cache.problem(found, tc) is None
    assert sorted(p.name for p in found.libdir.iterdir()) == [
        "liballoc-0123.rlib",
        "libcompiler_builtins-0123.rlib",
        "libcore-0123.rlib",
        "libpanic_unwind-0123.rlib",
        "libstd-0123.rlib",
    ]
    host = found.sysroot / "lib" / "rustlib" / HOST
    assert os.readlink(host) == str(tc.sysroot / "lib" / "rustlib" / HOST)
    assert sorted(p.name for p in found.path.iterdir()) == [
        "bin",
        "entry.json",
        "last-used",
        "sysroot",
    ]
    argv = log.read_text().split()
    assert argv[:2] == ["build", "--manifest-path"] and "-Zbuild-std=std,panic_unwind" in argv
    assert "--release" in argv and "--features" not in argv  # the crate's own features
    assert "--offline" in argv and "-Zbuild-std-features=panic-unwind" in argv
    assert "--frozen" not in argv and "--quiet" in argv  # no lockfile of its own to freeze
    assert [a for a in argv if a.startswith("-Zbuild-std=")] == ["-Zbuild-std=std,panic_unwind"]
    config = [argv[i + 1] for i, a in enumerate(argv) if a == "--config"]
    assert config == [
        "profile.release.incremental=false",
        'profile.release.opt-level="s"',
        "profile.release.codegen-units=16",
        "profile.release.debug=0",
        "profile.release.debug-assertions=false",
        "profile.release.overflow-checks=false",
        "profile.release.lto=false",
        'profile.release.panic="unwind"',
    ]
    seen_env = (log.parent / "seed.log.env").read_text().splitlines()
    assert "RUSTC_BOOTSTRAP=1" in seen_env and f"RUSTC={tc.rustc}" in seen_env
    assert not any(line.startswith("CARGO_TARGET_DIR=") for line in seen_env)
    # a host toolchain moved away: the entry no longer fits it
    moved = replace(tc, sysroot=tmp_path / "elsewhere")
    assert "host libraries link" in (std_cache.problem(found, moved) or "")


def test_the_seed_mirrors_crate_types_only_with_lto(tmp_path: Path) -> None:
    tc = toolchain(tmp_path)
    plain = std_cache.seed_manifest(spec(tc))
    assert 'crate-type = ["rlib"]' in plain and "[workspace]" in plain
    lto = spec(tc, settings(profile=dict(RELEASE, lto="true"), crate_types=("cdylib", "rlib")))
    assert 'crate-type = ["cdylib", "rlib"]' in std_cache.seed_manifest(lto)
    assert "profile.release.lto=true" in std_cache.profile_config(lto)


def test_the_wrapper_adds_the_sysroot_and_names_the_entry(tmp_path: Path) -> None:
    real = fake_exe(
        tmp_path / "real" / "rustc",
        'if [ "$1" = -vV ]; then echo "rustc 1.96.0"; else echo "$@"; fi',
    )
    wrapper = tmp_path / "entry" / "bin" / "rustc"
    fake_exe(wrapper, "")
    wrapper.write_text(std_cache.wrapper_script("abc", real))

    def run(*args: str) -> str:
        return subprocess.run([wrapper, *args], capture_output=True, text=True, check=True).stdout

    assert run("-vV") == "rustc 1.96.0\nworker-build-std: abc\n"
    assert run("--crate-name", "x", "a b.rs") == (
        f"--sysroot {tmp_path}/entry/sysroot --crate-name x a b.rs\n"
    )


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
    proc = worker_build(SAMPLES / "pure-exports", "--panic-unwind", "--no-std-cache", "--json",
                        "--out-dir", out, env=env)  # fmt: skip
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
