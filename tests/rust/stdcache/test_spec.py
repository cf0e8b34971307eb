"""What goes into a std cache key and what does not (rust/stdcache/spec.py)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.stdcache import RELEASE, VV, settings, spec, toolchain
from worker_build.rust.stdcache import spec as spec_mod


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
    assert spec_mod.relevant_rustflags(flags) == (
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


def test_the_source_stamp_follows_std_sources_but_not_vendor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    library = tmp_path / "lib" / "rustlib" / "src" / "rust" / "library"
    (library / "std" / "src").mkdir(parents=True)
    (library / "vendor" / "dep").mkdir(parents=True)
    (library / "Cargo.lock").write_text("lock 1\n")
    source = library / "std" / "src" / "lib.rs"
    source.write_text("fn a() {}\n")
    os.utime(source, ns=(10**18, 10**18))
    (library / "vendor" / "dep" / "lib.rs").write_text("x")
    first = spec_mod.source_stamp(tmp_path)
    assert spec_mod.source_stamp(tmp_path) == first
    (library / "vendor" / "dep" / "lib.rs").write_text("changed")  # Cargo.lock pins vendor
    assert spec_mod.source_stamp(tmp_path) == first
    # contents, not mtimes: a machine that installed the same sources later shares entries
    os.utime(source, ns=(2 * 10**18, 2 * 10**18))
    assert spec_mod.source_stamp(tmp_path) == first
    source.write_text("fn b() {}\n")  # same size, other contents
    touched = spec_mod.source_stamp(tmp_path)
    assert touched != first
    (library / "Cargo.lock").write_text("lock 2\n")
    assert spec_mod.source_stamp(tmp_path) not in (first, touched)
