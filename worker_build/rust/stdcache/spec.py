"""What the wasm32 std of one build must be: the inputs of the std cache's key.

`-Zbuild-std` compiles std with the build's own profile and target flags. To reuse a
std built once, everything that changes std's code goes into the key (`StdSpec`):
- the exact compiler (`rustc -vV`: release, commit hash, LLVM) and the std sources
  (their path and a stamp of every file's size and mtime, plus library/Cargo.lock);
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

Cargo is the authority for the profile, the features and the flags: `cargo build
--unit-graph -Zbuild-std` lists each std unit's profile and features, and the rustc it
runs to learn the target (`--print=cfg`) is handed the target rustflags. That answer is
kept in `<cache>/std/settings.json`, keyed on everything cargo reads to produce it (the
compiler and cargo binaries, the manifests from the crate up to its workspace root, every
`.cargo/config[.toml]` cargo would read, the environment variables cargo reads, the
cargo arguments), so a build with unchanged inputs asks cargo nothing.

A `--dev` build gets an optimized std (`DEV_STD_PROFILE`: opt-level 3, one codegen unit,
no debuginfo, no debug assertions or overflow checks), as rustup ships it precompiled,
instead of the unoptimized std `-Zbuild-std` would compile; its lto and panic settings
still come from the profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from worker_build.errors import WorkerBuildError
from worker_build.rust.toolchain import WASM_TARGET, Toolchain, std_sources
from worker_build.util import jsonmemo, proc
from worker_build.util.cachedir import cache_root

SCHEMA = 1
SETTINGS_FILE = "settings.json"
MAX_MEMO = 64
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
        text = json.dumps({"schema": SCHEMA, **asdict(self)}, sort_keys=True, default=list)
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


def source_stamp(sysroot: Path) -> str:
    """Size and mtime of every std source file (library/vendor aside: Cargo.lock pins it)."""
    root = std_sources(sysroot)
    h = hashlib.sha256((root / "Cargo.lock").read_bytes())
    stack = [root]
    while stack:
        directory = stack.pop()
        with os.scandir(directory) as it:
            for entry in sorted(it, key=lambda e: e.name):
                if entry.is_dir(follow_symlinks=False):
                    if not (directory == root and entry.name == "vendor"):
                        stack.append(Path(entry.path))
                    continue
                st = entry.stat(follow_symlinks=False)
                rel = entry.path[len(str(root)) :]
                h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


# --- asking cargo ------------------------------------------------------------------------------

RECORDER = """#!/bin/sh
# worker-build: records each rustc invocation cargo makes, then runs rustc.
f=$(mktemp "{log}/call.XXXXXX") && printf '%s\\0' "$@" > "$f"
exec {rustc} "$@"
"""


def _target_rustflags(calls: Sequence[Sequence[str]]) -> tuple[str, ...] | None:
    """Cargo learns the target with `rustc - --crate-name ___ --print=file-names
    <target rustflags> --target <triple> ... --print=cfg`; the flags are what sits
    between. None when no such call is seen (a cargo that asks otherwise)."""
    found: set[tuple[str, ...]] = set()
    for argv in calls:
        if "--print=cfg" not in argv or "--print=file-names" not in argv:
            continue
        start = argv.index("--print=file-names") + 1
        for i in range(start, len(argv)):
            if argv[i] == "--target" and i + 1 < len(argv) and argv[i + 1] == WASM_TARGET:
                found.add(tuple(argv[start:i]))
                break
            if argv[i] == f"--target={WASM_TARGET}":
                found.add(tuple(argv[start:i]))
                break
    return found.pop() if len(found) == 1 else None


def _unit_graph(
    cargo_argv: Sequence[str], cwd: Path, env: Mapping[str, str], toolchain: Toolchain
) -> tuple[dict[str, Any], tuple[str, ...] | None]:
    with tempfile.TemporaryDirectory(prefix="worker-build-unit-graph-") as tmp:
        log = Path(tmp) / "calls"
        log.mkdir()
        recorder = Path(tmp) / "rustc"
        recorder.write_text(
            RECORDER.format(log=shlex.quote(str(log)), rustc=shlex.quote(str(toolchain.rustc)))
        )
        recorder.chmod(0o755)
        run_env = {
            **env,
            "RUSTC": str(recorder),
            "RUSTC_BOOTSTRAP": "1",  # --unit-graph and -Zbuild-std are unstable
            "CARGO_CACHE_RUSTC_INFO": "0",  # so the target query really runs
        }
        argv = [*cargo_argv, "--unit-graph", "-Zunstable-options"]
        # an empty wrapper is none (cargo's rule): a query needs no sccache server
        run_env.update(RUSTC_WRAPPER="", RUSTC_WORKSPACE_WRAPPER="")
        result = proc.run(argv, cwd=cwd, env=run_env)
        calls = [f.read_bytes().split(b"\0")[:-1] for f in sorted(log.iterdir())]
        decoded = [[a.decode("utf-8", "replace") for a in argv] for argv in calls]
        return json.loads(result.stdout), _target_rustflags(decoded)


def pkgid_spec(pkg_id: str) -> str:
    """`registry+https://...#serde_derive@1.0.1` -> `serde_derive@1.0.1`; a path package
    named as its directory (`path+file:///x/foo#0.1.0`) -> `foo@0.1.0`."""
    url, _, fragment = pkg_id.rpartition("#")
    if "@" in fragment:
        return fragment
    return f"{url.rstrip('/').rsplit('/', 1)[-1]}@{fragment}"


def settings_from_graph(
    graph: Mapping[str, Any], rustflags: tuple[str, ...] | None, config_digest: str
) -> StdSettings:
    units = graph.get("units", [])
    std = next(
        (
            u
            for u in units
            if u.get("is_std") and u["target"]["name"] == "std" and u.get("mode") == "build"
        ),
        None,
    )
    if std is None:
        raise WorkerBuildError("cargo's unit graph lists no std unit")
    roots = [units[i] for i in graph.get("roots", [])]
    crate_types = tuple(sorted({t for r in roots for t in r["target"].get("crate_types", [])}))
    profile = {k: std["profile"].get(k) for k in PROFILE_KEYS}
    return StdSettings(
        profile=profile,
        profile_name=str(std["profile"].get("name", "")),
        features=tuple(sorted(std.get("features", []))),
        crate_types=crate_types,
        rustflags=rustflags,
        config_digest=config_digest,
        proc_macros=tuple(
            sorted(
                {
                    pkgid_spec(str(u["pkg_id"]))
                    for u in units
                    if "proc-macro" in u["target"].get("kind", []) and u.get("platform") is None
                }
            )
        ),
    )


# --- the memo --------------------------------------------------------------------------------

_ENV_PREFIXES = ("CARGO_", "__CARGO")
_ENV_EXACT = ("RUSTFLAGS", "RUSTC_BOOTSTRAP", "RUSTUP_TOOLCHAIN")
_ENV_IGNORED = (
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_TERM_COLOR",
    "CARGO_TERM_PROGRESS_WHEN",
    "CARGO_TERM_PROGRESS_WIDTH",
    "CARGO_TERM_VERBOSE",
    "CARGO_TERM_QUIET",
    "CARGO_MAKEFLAGS",
)


def config_files(cwd: Path) -> list[Path]:
    """The configuration files cargo reads for a build run in `cwd`."""
    home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    found = []
    for directory in (cwd, *cwd.parents):
        found += [directory / ".cargo" / "config.toml", directory / ".cargo" / "config"]
    found += [home / "config.toml", home / "config"]
    return [p for p in found if p.is_file()]


def _identity(path: Path) -> list[Any]:
    st = os.stat(path)
    return [os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino]


def inputs_digest(
    cargo_argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    manifests: Sequence[Path],
    toolchain: Toolchain,
    stamp: str,
) -> tuple[str, str, bool]:
    """(memo key, digest of the configuration, whether memoising is safe)."""
    memoisable = True
    config = hashlib.sha256()
    for path in config_files(cwd):
        data = path.read_bytes()
        memoisable &= b"include" not in data  # `include`d files are not tracked here
        config.update(f"{path}\0{len(data)}\0".encode() + data)
    merged = {**os.environ, **env}
    for name in sorted(merged):
        if (name.startswith(_ENV_PREFIXES) or name in _ENV_EXACT) and name not in _ENV_IGNORED:
            config.update(f"{name}={merged[name]}\0".encode())
    key = hashlib.sha256()
    key.update(
        json.dumps(
            [
                list(cargo_argv),
                str(cwd),
                toolchain.verbose_version,
                _identity(toolchain.rustc),
                _identity(toolchain.cargo),
                stamp,
            ],
            default=str,
        ).encode()
    )
    for manifest in manifests:
        key.update(f"{manifest}\0".encode() + manifest.read_bytes())
    key.update(config.digest())
    return key.hexdigest(), config.hexdigest()[:20], memoisable


def _memo_file() -> Path:
    return cache_root() / "std" / SETTINGS_FILE


def _load_memo() -> dict[str, Any]:
    return jsonmemo.load_entries(_memo_file(), SCHEMA)


def _save_memo(entries: dict[str, Any]) -> None:
    # an optimisation only: a failed write means the next build asks cargo again
    jsonmemo.save_entries(_memo_file(), entries, schema=SCHEMA, limit=MAX_MEMO)


def std_settings(
    cargo_argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    manifests: Sequence[Path],
    toolchain: Toolchain,
    stamp: str,
) -> StdSettings:
    """The settings cargo applies to std for `cargo_argv` (a `cargo build ...
    -Zbuild-std=...` command line), from the memo when nothing cargo reads changed."""
    key, config_digest, memoisable = inputs_digest(
        cargo_argv, cwd, env, manifests, toolchain, stamp
    )
    entries = _load_memo() if memoisable else {}
    hit = entries.get(key)
    if isinstance(hit, dict) and isinstance(hit.get("settings"), dict):
        try:
            saved = hit["settings"]
            return StdSettings(
                profile=dict(saved["profile"]),
                profile_name=str(saved["profile_name"]),
                features=tuple(saved["features"]),
                crate_types=tuple(saved["crate_types"]),
                rustflags=None if saved["rustflags"] is None else tuple(saved["rustflags"]),
                config_digest=str(saved["config_digest"]),
                proc_macros=tuple(saved.get("proc_macros", ())),
            )
        except (KeyError, TypeError):
            pass
    graph, rustflags = _unit_graph(cargo_argv, cwd, env, toolchain)
    settings = settings_from_graph(graph, rustflags, config_digest)
    if memoisable:
        entries[key] = {"settings": asdict(settings), "at": time.time_ns()}
        _save_memo(entries)
    return settings


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
