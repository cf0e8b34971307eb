"""Asking cargo what it applies to std's units in this build, and remembering the answer.

Cargo is the authority for the profile, the features and the flags: `cargo build
--unit-graph -Zbuild-std` lists each std unit's profile and features, and the rustc it
runs to learn the target (`--print=cfg`) is handed the target rustflags, which a
recording rustc catches. That answer (`StdSettings`) is kept in the memo
`<cache>/std/settings.json` (util/jsonmemo.py), keyed on everything cargo reads to
produce it (the compiler and cargo binaries, the manifests from the crate up to its
workspace root, every `.cargo/config[.toml]` cargo would read, the environment
variables cargo reads, the cargo arguments), so a build with unchanged inputs asks
cargo nothing. A configuration that `include`s other files is never memoised (those
files are not tracked).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from worker_build.errors import WorkerBuildError
from worker_build.rust.stdcache import store
from worker_build.rust.stdcache.spec import PROFILE_KEYS, StdSettings
from worker_build.rust.toolchain import WASM_TARGET, Toolchain
from worker_build.util import jsonmemo, proc

MEMO_SCHEMA = 1  # of settings.json's entries: StdSettings as a dict
SETTINGS_FILE = "settings.json"
MAX_MEMO = 64

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
    return store.root() / SETTINGS_FILE


def _load_memo() -> dict[str, Any]:
    return jsonmemo.load_entries(_memo_file(), MEMO_SCHEMA)


def _save_memo(entries: dict[str, Any]) -> None:
    # an optimisation only: a failed write means the next build asks cargo again
    jsonmemo.save_entries(_memo_file(), entries, schema=MEMO_SCHEMA, limit=MAX_MEMO)


def settings_for(
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
