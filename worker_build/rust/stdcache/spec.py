"""What the wasm32 std of one build must be: `StdSpec`, whose key names its cache entry.

`-Zbuild-std` compiles std with the build's own profile and target flags. To reuse a
std built once, everything that changes std's code goes into the key:
- the exact compiler (`rustc -vV`: release, commit hash, LLVM) and the std sources
  (their path and a digest of their contents, plus library/Cargo.lock);
- the std crates (`std,panic_unwind` or `std,panic_abort`), the panic strategy and the
  exception-handling encoding;
- the profile settings cargo would apply to std's units: opt-level, codegen-units,
  debuginfo, debug-assertions, overflow-checks, lto (with it, the crate types of the
  crate's lib, which decide whether std is compiled to bitcode, objects or both),
  panic, codegen-backend, split-debuginfo;
- std's cargo features;
- the target rustflags cargo passes (RUSTFLAGS, CARGO_ENCODED_RUSTFLAGS, or a
  `[build]`/`[target]` rustflags config), without the flags that cannot change compiled
  code (lint levels, `-L`, `-l`, `--check-cfg`, link-time `-C` options).

The profile, the features and the flags are cargo's answer (`StdSettings`, asked by
query.py); `spec_for` adds the toolchain and the build's choices to it.

A `--dev` build gets an optimized std (`DEV_STD_PROFILE`: opt-level 3, one codegen unit,
no debuginfo, no debug assertions or overflow checks), as rustup ships it precompiled,
instead of the unoptimized std `-Zbuild-std` would compile; its lto and panic settings
still come from the profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from worker_build.rust.toolchain import WASM_TARGET, Toolchain, std_sources
from worker_build.util import jsonmemo
from worker_build.util.cachedir import cache_root

KEY_SCHEMA = 2  # part of every key: a new one retires every entry (2: content stamp)
# The profile keys cargo's unit graph reports that change std's compiled code (strip,
# rpath and incremental do not: they act at link time or only on local crates).
PROFILE_KEYS = (
    "opt_level",
    "codegen_units",
    "debuginfo",
    "debug_assertions",
    "overflow_checks",
    "lto",
    "panic",
    "codegen_backend",
    "split_debuginfo",
)
RUSTC_DEFAULT_CODEGEN_UNITS = 16
DEV_STD_PROFILE = {
    "opt_level": "3",
    "codegen_units": 1,
    "debuginfo": 0,
    "debug_assertions": False,
    "overflow_checks": False,
}
# Flags that cannot change the code of an rlib: lint levels and link-time options.
_DROP_WITH_VALUE = {
    "-A",
    "-W",
    "-D",
    "-F",
    "--allow",
    "--warn",
    "--deny",
    "--forbid",
    "--cap-lints",
    "-L",
    "-l",
    "--check-cfg",
}
_DROP_CODEGEN = {
    "link-arg",
    "link-args",
    "linker",
    "linker-flavor",
    "link-self-contained",
    "strip",
    "rpath",
    "prefer-dynamic",
    "link-dead-code",
}


@dataclass(frozen=True)
class StdSettings:
    """What cargo applies to std's units in this build (from the unit graph)."""

    profile: dict[str, Any]  # PROFILE_KEYS -> value, as the unit graph spells it
    profile_name: str
    features: tuple[str, ...]
    crate_types: tuple[str, ...]  # of the crate's lib (the unit graph's root)
    rustflags: tuple[str, ...] | None  # None: cargo's target query was not recognised
    config_digest: str  # stands in for `rustflags` when they could not be read
    # The crate's proc-macro packages (`name@version`): host-only work that can be
    # compiled while a std cache entry is built (not part of the key).
    proc_macros: tuple[str, ...] = ()


@dataclass(frozen=True)
class StdSpec:
    """Everything that changes std's code; `key` names its cache entry."""

    target: str
    rustc: str  # `rustc -vV`
    rustc_path: str  # the entry's wrapper runs it, and links its host libraries
    sources: str
    sources_stamp: str
    crates: str  # -Zbuild-std's crate list
    panic: str
    eh_encoding: str
    policy: str  # "profile" or "dev: optimized"
    profile: dict[str, Any]
    crate_types: tuple[str, ...]  # only when lto is on: decides bitcode vs objects
    features: tuple[str, ...]
    rustflags: tuple[str, ...]
    config_digest: str  # only when the rustflags are unknown

    @property
    def key(self) -> str:
        text = json.dumps({"schema": KEY_SCHEMA, **asdict(self)}, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def describe(self) -> dict[str, Any]:
        """The human-readable part, for entry.json and `worker-build cache`."""
        fields = {
            line.split(":", 1)[0]: line.split(":", 1)[1].strip()
            for line in self.rustc.splitlines()
            if ":" in line
        }
        return {
            "rustc": f"{fields.get('release', '?')} ({fields.get('commit-hash', '?')[:9]})",
            "crates": self.crates,
            "panic": self.panic,
            "eh_encoding": self.eh_encoding,
            "policy": self.policy,
            "profile": self.profile,
            "crate_types": list(self.crate_types),
            "features": list(self.features),
            "rustflags": list(self.rustflags),
            "sources": self.sources,
        }


def lto_on(profile: Mapping[str, Any]) -> bool:
    return str(profile.get("lto", "false")) not in ("false", "off")


def relevant_rustflags(flags: Sequence[str]) -> tuple[str, ...]:
    """The flags that can change std's code, with `-C x` / `--cfg x` spelled as one word."""
    out: list[str] = []
    args = iter(flags)
    for arg in args:
        if arg in _DROP_WITH_VALUE:
            next(args, None)
            continue
        if any(
            arg.startswith(p) and len(arg) > len(p) for p in ("-A", "-W", "-D", "-F", "-L", "-l")
        ):
            continue
        if arg.startswith(("--cap-lints=", "--check-cfg=", "--allow=", "--warn=", "--deny=")):
            continue
        if arg in ("-C", "--codegen", "-Z", "--cfg"):
            value = next(args, "")
            arg = f"{'-C' if arg == '--codegen' else arg}{'=' if arg == '--cfg' else ''}{value}"
        if arg.startswith("--codegen="):
            arg = "-C" + arg.removeprefix("--codegen=")
        if arg.startswith("-C") and arg[2:].split("=", 1)[0] in _DROP_CODEGEN:
            continue
        out.append(arg)
    return tuple(out)


SOURCES_MEMO = "sources.json"  # in <cache>/std/: stat stamp -> content digest
SOURCES_SCHEMA = 1


def _std_files(root: Path) -> list[tuple[str, os.DirEntry[str]]]:
    """Every file under library/ but vendor/ (Cargo.lock pins it), by relative path."""
    found: list[tuple[str, os.DirEntry[str]]] = []
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if not (directory == root and entry.name == "vendor"):
                        stack.append(Path(entry.path))
                    continue
                found.append((entry.path[len(str(root)) :], entry))
    return found


def _stat_stamp(root: Path) -> str:
    h = hashlib.sha256((root / "Cargo.lock").read_bytes())
    for rel, entry in _std_files(root):
        st = entry.stat(follow_symlinks=False)
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _content_stamp(root: Path) -> str:
    h = hashlib.sha256((root / "Cargo.lock").read_bytes())
    for rel, entry in _std_files(root):
        h.update(f"{rel}\0".encode())
        if entry.is_symlink():
            h.update(os.readlink(entry.path).encode() + b"\0")
        else:
            with open(entry.path, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def source_stamp(sysroot: Path) -> str:
    """A digest of the std sources' contents (library/ but vendor/, plus
    library/Cargo.lock). Contents, not mtimes: two machines that installed the same
    toolchain at different times (rustup, apt) get the same key, so a std cache entry
    and what sccache compiled against it travel between them. Reading ~50 MB costs
    ~0.3 s, so it is memoised in `<cache>/std/sources.json` by the files' paths, sizes
    and mtimes (a stat of each, as before)."""
    root = std_sources(sysroot)
    quick = _stat_stamp(root)
    memo = cache_root() / "std" / SOURCES_MEMO
    entries = jsonmemo.load_entries(memo, SOURCES_SCHEMA)
    hit = entries.get(quick)
    if isinstance(hit, dict) and isinstance(hit.get("digest"), str):
        return str(hit["digest"])
    digest = _content_stamp(root)
    entries[quick] = {"digest": digest, "at": time.time_ns()}
    jsonmemo.save_entries(memo, entries, schema=SOURCES_SCHEMA, limit=16)
    return digest


def spec_for(
    settings: StdSettings,
    toolchain: Toolchain,
    *,
    crates: str,
    panic: str,
    eh_encoding: str,
    dev: bool,
    stamp: str,
) -> StdSpec:
    """The spec of a build's std: cargo's settings, the toolchain, and the build's
    panic strategy (`crates`, `panic`, `eh_encoding`) and profile policy (`dev`)."""
    profile = dict(settings.profile)
    if dev:
        profile.update(DEV_STD_PROFILE)
    if profile.get("codegen_units") is None:
        # rustc's own default for a non-incremental crate (std's units never are)
        profile["codegen_units"] = RUSTC_DEFAULT_CODEGEN_UNITS
    return StdSpec(
        target=WASM_TARGET,
        rustc=toolchain.verbose_version,
        rustc_path=os.path.realpath(toolchain.rustc),
        sources=str(std_sources(toolchain.sysroot)),
        sources_stamp=stamp,
        crates=crates,
        panic=panic,
        eh_encoding=eh_encoding,
        policy="dev: optimized" if dev else "profile",
        profile=profile,
        crate_types=settings.crate_types if lto_on(profile) else (),
        features=settings.features,
        rustflags=relevant_rustflags(settings.rustflags or ()),
        config_digest="" if settings.rustflags is not None else settings.config_digest,
    )
