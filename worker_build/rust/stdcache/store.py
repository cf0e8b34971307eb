"""The std cache: a wasm32 std built once per key (spec.StdSpec) and shared.

Layout, under `<cache>/std/`:

    <key>/entry.json      what the entry holds (its spec) and every file with its size;
                          written last, so an entry without it is incomplete
    <key>/sysroot/lib/rustlib/wasm32-unknown-unknown/lib/*.rlib   the std crates
    <key>/sysroot/lib/rustlib/<host>   symlink to the compiler's own host libraries
    <key>/bin/rustc       the compiler with `--sysroot <key>/sysroot` (cargo's RUSTC)
    <key>/last-used       touched by every build that uses the entry (for pruning)
    .tmp-<key>-*/         an entry being built; renamed to <key> when complete
    locks/<key>.lock      held while an entry is checked, built or pruned
    settings.json         cargo's answers, see spec.py

An entry is built by compiling an empty crate with `-Zbuild-std` and the build's own
profile settings and target flags (cargo run in the crate's directory, so its
configuration applies as it would to the crate), then moving std's rlibs out of that
target directory. Builds of the same key wait for each other on the key's lock; a
complete entry appears in one rename. An entry that fails its check (entry.json
missing or unreadable, a file missing, of another size or not an rlib, the host link
pointing elsewhere) is moved aside and built again.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from worker_build import __version__
from worker_build.errors import NotWritableError, WorkerBuildError
from worker_build.rust.stdcache.spec import StdSpec, lto_on
from worker_build.rust.toolchain import WASM_TARGET, Toolchain
from worker_build.util import locking, proc
from worker_build.util.cachedir import cache_root, regular_files, tree_size

SCHEMA = 1
ENTRY_FILE = "entry.json"
USED_FILE = "last-used"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
SEED_NAME = "worker-build-std"
RLIB_MAGIC = b"!<arch>\n"
# Arguments of the crate's cargo command that also apply to building std on its own
# (--frozen without its --locked: the seed crate has no lockfile of its own).
PASSED_FLAGS = {
    "--offline": "--offline",
    "--frozen": "--offline",
    "-q": "--quiet",
    "--quiet": "--quiet",
}
PASSED_WITH_VALUE = ("--config", "-Z")

WRAPPER = """#!/bin/sh
# worker-build std cache entry {key}: {rustc} with this entry's wasm32 std as its
# sysroot. `-vV` names the entry as well, so cargo's fingerprints and sccache's keys
# change whenever the std does.
if [ "$#" -eq 1 ] && [ "$1" = "-vV" ]; then
  {rustc_q} -vV && echo "worker-build-std: {key}"
  exit
fi
exec {rustc_q} --sysroot "${{0%/bin/rustc}}/sysroot" "$@"
"""


class StdCacheError(NotWritableError):
    """The std cache could not be written (a full disk, no permission): exit 9."""


def root() -> Path:
    return cache_root() / "std"


class StdMode(Enum):
    """Where the build's wasm32 std comes from."""

    PRECOMPILED = "precompiled"  # the toolchain's own (rustup's wasm32 target)
    CACHE = "cache"  # an entry of this cache, through its rustc wrapper
    BUILD_STD = "build-std"  # compiled in the crate's target directory (-Zbuild-std)


@dataclass(frozen=True)
class Entry:
    key: str
    path: Path

    @property
    def sysroot(self) -> Path:
        return self.path / "sysroot"

    @property
    def rustc(self) -> Path:
        return self.path / "bin" / "rustc"

    @property
    def libdir(self) -> Path:
        return self.sysroot / "lib" / "rustlib" / WASM_TARGET / "lib"


@dataclass(frozen=True)
class StdUse:
    mode: StdMode
    entry: Entry | None = None  # for StdMode.CACHE


def entry(key: str) -> Entry:
    return Entry(key, root() / key)


def host_of(toolchain: Toolchain) -> str:
    for line in toolchain.verbose_version.splitlines():
        if line.startswith("host:"):
            return line.split(":", 1)[1].strip()
    raise WorkerBuildError(f"`{toolchain.rustc} -vV` names no host")


# --- checking an entry -------------------------------------------------------------------------


def problem(found: Entry, toolchain: Toolchain | None = None) -> str | None:
    """Why `found` cannot be used as it is, or None when it is complete."""
    try:
        data = json.loads((found.path / ENTRY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "incomplete (no entry.json)"
    except (OSError, ValueError) as exc:
        return f"unreadable entry.json ({exc})"
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("key") != found.key:
        return "entry.json is for another key or format"
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return "entry.json lists no files"
    for rel, size in files.items():
        path = found.path / rel
        try:
            if path.stat().st_size != size:
                return f"{rel} has {path.stat().st_size} bytes, not {size}"
            if rel.endswith(".rlib"):
                with path.open("rb") as fh:
                    if fh.read(len(RLIB_MAGIC)) != RLIB_MAGIC:
                        return f"{rel} is not an rlib"
        except OSError:
            return f"{rel} is missing"
    if toolchain is not None:
        link = found.sysroot / "lib" / "rustlib" / host_of(toolchain)
        want = toolchain.sysroot / "lib" / "rustlib" / host_of(toolchain)
        if not link.is_symlink() or os.readlink(link) != str(want):
            return f"its host libraries link does not point at {want}"
    return None


# --- getting an entry --------------------------------------------------------------------------


def ensure(
    spec: StdSpec,
    build: Callable[[Path], dict[str, Any]],
    *,
    timeout: float,
    on_wait: Callable[[], None] | None = None,
    toolchain: Toolchain | None = None,
) -> tuple[Entry, bool]:
    """The entry for `spec`, built with `build(staging_dir)` when missing or broken.
    Returns (entry, whether this call built it). `build` fills the staging directory
    and returns extra facts for entry.json; the directory becomes the entry in one
    rename, with entry.json written last."""
    found = entry(spec.key)
    if problem(found, toolchain) is None:
        _touch(found)
        return found, False
    with locking.exclusive(
        root() / "locks" / f"{spec.key}.lock",
        timeout,
        held_by=f"another worker-build is still building the std cache entry {spec.key}",
        fix="wait for it to finish, or raise --lock-timeout",
        on_wait=on_wait,
        what="the lock of the std cache entry",
    ):
        why = problem(found, toolchain)
        if why is None:  # built by the build we waited for
            _touch(found)
            return found, False
        _remove_leftovers(spec.key)
        staging = _new_staging(spec.key)
        try:
            start = time.monotonic()
            facts = build(staging)
            _write_entry(staging, spec, facts, time.monotonic() - start)
            if found.path.exists() or found.path.is_symlink():
                aside = root() / f"{TRASH_PREFIX}{spec.key}-{os.getpid()}"
                os.replace(found.path, aside)
                shutil.rmtree(aside, ignore_errors=True)
            os.replace(staging, found.path)
        except OSError as exc:
            raise _disk_error(exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _touch(found)
        return found, True


def _new_staging(key: str) -> Path:
    try:
        root().mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{key}-", dir=root()))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # as any other directory of the cache, not mkdtemp's 0700
        return staging
    except OSError as exc:
        raise _disk_error(exc) from exc


def _remove_leftovers(key: str) -> None:
    """Staging directories of builds of `key` that were killed (we hold its lock, so
    none of them is live) and entries moved aside."""
    for stale in [*root().glob(f"{TMP_PREFIX}{key}-*"), *root().glob(f"{TRASH_PREFIX}{key}-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _disk_error(exc: OSError) -> WorkerBuildError:
    where = root()
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StdCacheError(
            f"no space left on the device holding the std cache ({where})",
            "free some space or run `worker-build cache prune`; --no-std-cache builds std "
            "in the target directory instead",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StdCacheError(
            f"cannot write the std cache in {where} ({exc.strerror})",
            "set WORKER_BUILD_CACHE to a writable directory, or build with --no-std-cache",
        )
    return StdCacheError(
        f"cannot write the std cache in {where}: {exc.strerror or exc}",
        "check the directory, or build with --no-std-cache",
    )


def _touch(found: Entry) -> None:
    # a read-only cache still serves builds; only pruning by age loses track
    with contextlib.suppress(OSError):
        (found.path / USED_FILE).touch()


def _write_entry(staging: Path, spec: StdSpec, facts: Mapping[str, Any], seconds: float) -> None:
    files = {p.relative_to(staging).as_posix(): p.stat().st_size for p in regular_files(staging)}
    doc = {
        "schema": SCHEMA,
        "key": spec.key,
        "spec": spec.describe(),
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(seconds, 1),
        "worker_build_version": __version__,
        **facts,
    }
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    tmp = staging / f"{ENTRY_FILE}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, staging / ENTRY_FILE)


# --- building an entry -------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.isdigit():
        return text
    if text in ("true", "false"):
        return text
    return json.dumps(text)


def profile_config(spec: StdSpec) -> list[str]:
    """`--config` arguments that give the seed crate's release profile exactly the
    settings of the spec (they win over the user's configuration files)."""
    names = {
        "opt_level": "opt-level",
        "codegen_units": "codegen-units",
        "debuginfo": "debug",
        "debug_assertions": "debug-assertions",
        "overflow_checks": "overflow-checks",
        "lto": "lto",
        "panic": "panic",
        "split_debuginfo": "split-debuginfo",
    }
    args = ["--config", "profile.release.incremental=false"]
    for key, name in names.items():
        value = spec.profile.get(key)
        if value is not None:
            args += ["--config", f"profile.release.{name}={_toml(value)}"]
    return args


def passed_cargo_args(cargo_argv: Sequence[str]) -> list[str]:
    """The arguments of the crate's cargo command that matter to std built on its own:
    offline mode, quiet, `--config` and `-Z` (e.g. `-Zbuild-std-features`) but not the
    `-Zbuild-std` the seed sets itself. Only what comes after `build`."""
    out: list[str] = []
    args = iter(cargo_argv[cargo_argv.index("build") + 1 :] if "build" in cargo_argv else ())
    for arg in args:
        if arg in PASSED_FLAGS:
            if PASSED_FLAGS[arg] not in out:
                out.append(PASSED_FLAGS[arg])
        elif arg in PASSED_WITH_VALUE:
            value = next(args, "")
            if not (arg == "-Z" and value.startswith("build-std=")):
                out += [arg, value]
        elif arg.startswith("--config=") or (
            arg.startswith("-Z") and not arg.startswith("-Zbuild-std=")
        ):
            out.append(arg)
    return out


def seed_manifest(spec: StdSpec) -> str:
    crate_types = list(spec.crate_types) if lto_on(spec.profile) else ["rlib"]
    return (
        f'[package]\nname = "{SEED_NAME}"\nversion = "0.0.0"\nedition = "2021"\n'
        f'publish = false\n\n[lib]\npath = "lib.rs"\ncrate-type = {json.dumps(crate_types)}\n\n'
        "[workspace]\n"
    )


def seed_command(
    toolchain: Toolchain, spec: StdSpec, staging: Path, cargo_argv: Sequence[str]
) -> list[str]:
    return [
        str(toolchain.cargo),
        "build",
        "--manifest-path",
        str(staging / "seed" / "Cargo.toml"),
        "--lib",
        "--release",
        "--target",
        WASM_TARGET,
        f"-Zbuild-std={spec.crates}",
        "--message-format=json-render-diagnostics",
        "--target-dir",
        str(staging / "target"),
        *passed_cargo_args(cargo_argv),
        *profile_config(spec),
    ]


def std_rlibs(json_lines: str) -> list[Path]:
    """The rlibs of every crate but the seed, from cargo's `compiler-artifact` messages."""
    found: list[Path] = []
    for line in json_lines.splitlines():
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") != "compiler-artifact":
            continue
        if f"#{SEED_NAME}@" in str(message.get("package_id", "")):
            continue
        found += [Path(f) for f in message.get("filenames", []) if str(f).endswith(".rlib")]
    return found


def wrapper_script(key: str, rustc: Path) -> str:
    return WRAPPER.format(key=key, rustc=rustc, rustc_q=shlex.quote(str(rustc)))


def prepare_entry(staging: Path, spec: StdSpec, toolchain: Toolchain) -> Path:
    """The parts of an entry that need no std: the host libraries link and the rustc
    wrapper, whose path it returns. Host-only compilations (proc-macros) can run
    through that wrapper while std is built: they get what they would get later."""
    wrapper = staging / "bin" / "rustc"
    if wrapper.is_file():
        return wrapper
    host = host_of(toolchain)
    rustlib = staging / "sysroot" / "lib" / "rustlib"
    rustlib.mkdir(parents=True, exist_ok=True)
    (rustlib / host).symlink_to(toolchain.sysroot / "lib" / "rustlib" / host)
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(wrapper_script(spec.key, toolchain.rustc))
    wrapper.chmod(0o755)
    return wrapper


def build_entry(
    staging: Path,
    spec: StdSpec,
    toolchain: Toolchain,
    *,
    cwd: Path,
    env: Mapping[str, str],
    cargo_argv: Sequence[str],
) -> dict[str, Any]:
    """Compile std for `spec` into `staging` (the layout of the module docstring).
    `cwd` is the crate's directory, `env` and `cargo_argv` its cargo environment
    (RUSTFLAGS etc.) and command, so cargo's configuration applies to std as it would
    in the crate's own build."""
    prepare_entry(staging, spec, toolchain)
    seed = staging / "seed"
    seed.mkdir()
    (seed / "Cargo.toml").write_text(seed_manifest(spec))
    (seed / "lib.rs").write_text("")
    run_env = {**env, "RUSTC": str(toolchain.rustc), "RUSTC_BOOTSTRAP": "1"}
    run_env.pop("CARGO_TARGET_DIR", None)
    result = proc.run(
        seed_command(toolchain, spec, staging, cargo_argv),
        cwd=cwd,
        env=run_env,
        output=proc.Output.STDOUT,
        fix=f"cargo could not build std for {WASM_TARGET}; --no-std-cache builds it the "
        "way the real worker-build does (-Zbuild-std)",
    )
    rlibs = std_rlibs(result.stdout)
    names = {p.name.split("-", 1)[0] for p in rlibs}
    want = {"libstd", "libcore", "liballoc", f"lib{spec.crates.split(',')[-1]}"}
    if not want <= names:
        raise WorkerBuildError(
            f"cargo built no {', '.join(sorted(want - names))} for the std cache",
            "build with --no-std-cache and report this",
        )
    libdir = Entry(spec.key, staging).libdir
    libdir.mkdir(parents=True)
    for rlib in rlibs:
        os.replace(rlib, libdir / rlib.name)
    shutil.rmtree(staging / "target", ignore_errors=True)
    shutil.rmtree(seed, ignore_errors=True)
    return {"rustc_path": str(toolchain.rustc), "seed_command": result.argv}


# --- listing and pruning -----------------------------------------------------------------------


@dataclass(frozen=True)
class Listed:
    key: str
    path: Path
    bytes: int
    problem: str | None
    spec: dict[str, Any]
    created: str
    last_used: float | None  # seconds since the epoch


def listing() -> list[Listed]:
    out: list[Listed] = []
    if not root().is_dir():
        return out
    for path in sorted(root().iterdir()):
        if not path.is_dir() or path.name.startswith(".") or path.name == "locks":
            continue
        found = Entry(path.name, path)
        try:
            data = json.loads((path / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        try:
            used: float | None = (path / USED_FILE).stat().st_mtime
        except OSError:
            used = None
        out.append(
            Listed(
                key=path.name,
                path=path,
                bytes=tree_size(path),
                problem=problem(found),
                spec=data.get("spec", {}) if isinstance(data, dict) else {},
                created=str(data.get("created", "")) if isinstance(data, dict) else "",
                last_used=used,
            )
        )
    return out


def remove(found: Listed) -> bool:
    """Delete one entry unless a build holds its lock right now; True when deleted."""
    try:
        with locking.exclusive(root() / "locks" / f"{found.key}.lock", 0, held_by="in use", fix=""):
            aside = root() / f"{TRASH_PREFIX}{found.key}-{os.getpid()}"
            os.replace(found.path, aside)
            shutil.rmtree(aside, ignore_errors=True)
            return True
    except WorkerBuildError:
        return False


def leftovers() -> list[Path]:
    """Staging and trash directories no build holds (removed by `cache prune`)."""
    if not root().is_dir():
        return []
    return sorted(p for p in root().iterdir() if p.name.startswith((TMP_PREFIX, TRASH_PREFIX)))
