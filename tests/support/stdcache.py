"""Fake toolchains, settings and builds for std cache tests that need no cargo."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.support.fakes import fake_rustc
from worker_build.rust import stdcache
from worker_build.rust.stdcache import Entry, StdSettings, StdSpec, store
from worker_build.rust.toolchain import StdSource, Toolchain

HOST = "x86_64-unknown-linux-gnu"


VV = f"rustc 1.96.0\nbinary: rustc\ncommit-hash: ac68faa20c5\nhost: {HOST}\nrelease: 1.96.0\n"


RELEASE = {
    "opt_level": "s",
    "codegen_units": 16,
    "debuginfo": 0,
    "debug_assertions": False,
    "overflow_checks": False,
    "lto": "false",
    "panic": "unwind",
    "codegen_backend": None,
    "split_debuginfo": None,
}


def toolchain(tmp_path: Path) -> Toolchain:
    sysroot = tmp_path / "sysroot"
    rustc = fake_rustc(sysroot / "bin", sysroot, std_src=True)
    (sysroot / "lib" / "rustlib" / HOST / "lib").mkdir(parents=True, exist_ok=True)
    return Toolchain(
        rustc,
        sysroot / "bin" / "cargo",
        "1.96.0",
        "stable",
        sysroot,
        "test",
        StdSource.BUILD_STD,
        True,
        verbose_version=VV,
    )


def settings(**changes: object) -> StdSettings:
    base = StdSettings(
        profile=dict(RELEASE),
        profile_name="release",
        features=("addr2line", "backtrace", "panic-unwind"),
        crate_types=("cdylib",),
        rustflags=("-Cpanic=unwind",),
        config_digest="cfg0",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def spec(tc: Toolchain, s: StdSettings | None = None, **kw: object) -> StdSpec:
    args: dict[str, object] = dict(
        crates="std,panic_unwind", panic="unwind", eh_encoding="default", dev=False, stamp="stamp0"
    )
    args.update(kw)
    return stdcache.spec_for(s or settings(), tc, **args)  # type: ignore[arg-type]


def unit(name: str, profile: dict[str, object], *, std: bool = True, **extra: object) -> dict:
    return {
        "pkg_id": f"path+file:///lib/{name}#0.0.0",
        "is_std": std,
        "mode": "build",
        "target": {"name": name, "crate_types": ["lib"]},
        "profile": profile,
        "features": [],
        **extra,
    }


def fake_build(calls: list[Path]) -> object:
    """A build callback writing a plausible entry (as build_entry would)."""

    def build(staging: Path) -> dict[str, object]:
        calls.append(staging)
        lib = Entry("x", staging).libdir
        lib.mkdir(parents=True)
        for name in ("libstd-1.rlib", "libcore-2.rlib"):
            (lib / name).write_bytes(store.RLIB_MAGIC + b"x" * 100)
        (staging / "bin").mkdir()
        (staging / "bin" / "rustc").write_text("#!/bin/sh\n")
        return {"rustc_path": "/r"}

    return build
