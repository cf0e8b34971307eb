"""Building a std cache entry through the seed crate (rust/stdcache/seed.py), with a
fake cargo; the real std builds are the fixture builds (tests/support/builds.py)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from tests.support.stdcache import HOST, RELEASE, settings, spec, toolchain
from worker_build.rust.stdcache import seed, store


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


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
    found, built = store.ensure(
        s,
        lambda staging: seed.build_entry(
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
    assert built and store.problem(found, tc) is None
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
    assert "host libraries link" in (store.problem(found, moved) or "")


def test_the_seed_mirrors_crate_types_only_with_lto(tmp_path: Path) -> None:
    tc = toolchain(tmp_path)
    plain = seed.seed_manifest(spec(tc))
    assert 'crate-type = ["rlib"]' in plain and "[workspace]" in plain
    lto = spec(tc, settings(profile=dict(RELEASE, lto="true"), crate_types=("cdylib", "rlib")))
    assert 'crate-type = ["cdylib", "rlib"]' in seed.seed_manifest(lto)
    assert "profile.release.lto=true" in seed.profile_config(lto)


def test_the_wrapper_adds_the_sysroot_and_names_the_entry(tmp_path: Path) -> None:
    real = fake_exe(
        tmp_path / "real" / "rustc",
        'if [ "$1" = -vV ]; then echo "rustc 1.96.0"; else echo "$@"; fi',
    )
    wrapper = tmp_path / "entry" / "bin" / "rustc"
    fake_exe(wrapper, "")
    wrapper.write_text(seed.wrapper_script("abc", real))

    def run(*args: str) -> str:
        return subprocess.run([wrapper, *args], capture_output=True, text=True, check=True).stdout

    assert run("-vV") == "rustc 1.96.0\nworker-build-std: abc\n"
    assert run("--crate-name", "x", "a b.rs") == (
        f"--sysroot {tmp_path}/entry/sysroot --crate-name x a b.rs\n"
    )
