"""The shared build directory: cargo's `build.build-dir`, one per cache directory.

cargo (1.91+) splits its target directory in two: the final artifacts (the crate's
.wasm) stay in the target directory, every intermediate one (dependencies, build
scripts, fingerprints) goes to the build directory. Pointed at one directory under
worker-build's cache (`--config build.build-dir=...` on the command line: an argument
changes no environment variable, so no sccache key), every crate's build finds the
dependencies an earlier build compiled with the same settings fresh: cargo's own
fingerprints decide, so another profile, feature set, rustflags, compiler or std entry
compiles apart, as in any target directory.

Two things need care:
- cargo locks the build directory while it builds. A build that finds it busy (another
  worker-build is compiling there) does not wait: it builds in its own target directory
  as cargo would without us (sccache still shares), so parallel builds stay parallel.
- cargo names a workspace's own packages by their path *relative to the workspace
  root*, so two copies of one workspace (a clone and a copy, two worktrees) map to the
  same files here, and a copy whose sources are older than the other's build would be
  taken for fresh. `forget_moved` drops those packages' fingerprints when the
  workspace they were last built from moved, so cargo compiles them again.

A user's own `build.build-dir` (in `--config`, CARGO_BUILD_BUILD_DIR or a cargo
configuration file) is theirs: we do not override it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from worker_build.rust.compile_cache.server import compile_root

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The first cargo with a stable `build.build-dir` (older ones ignore the setting).
MIN_CARGO = (1, 91)
BUILD_DIR = "build-dir"
LOCK_FILE = "build-dir.lock"  # held (exclusive) by the build compiling there
USED_FILE = "build-dir.used"  # touched by every build that uses it (for pruning)
ROOTS_FILE = "build-dir.roots.json"  # workspace package -> the root it was last built from


def supported(rust_version: str) -> bool:
    """Whether the cargo of a toolchain of this version (rustc's, e.g. "1.96.0") knows
    `build.build-dir`: a toolchain's cargo and rustc share their version."""
    parts = rust_version.split("-", 1)[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= MIN_CARGO
    except (IndexError, ValueError):
        return False


def location(cache: Path) -> Path:
    return compile_root(cache) / BUILD_DIR


def lock_file(cache: Path) -> Path:
    return compile_root(cache) / LOCK_FILE


def used_file(cache: Path) -> Path:
    return compile_root(cache) / USED_FILE


def config_arg(build_dir: Path) -> list[str]:
    """cargo's argument for it (a TOML string: JSON's escapes are TOML's)."""
    return ["--config", f"build.build-dir={json.dumps(str(build_dir), ensure_ascii=False)}"]


def _config_values(cargo_args: Sequence[str]) -> list[str]:
    """The `KEY=VALUE` texts of every `--config` among cargo's arguments."""
    found: list[str] = []
    args = iter(cargo_args)
    for arg in args:
        if arg == "--config":
            found.append(next(args, ""))
        elif arg.startswith("--config="):
            found.append(arg.removeprefix("--config="))
    return found


def _toml_get(data: Mapping[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def cargo_setting(
    key: str,
    env_var: str,
    cargo_args: Sequence[str],
    environ: Mapping[str, str],
    files: Sequence[Path],
) -> str | None:
    """Where the user sets cargo's `key` (e.g. `build.build-dir`) for this build: a
    `--config` argument, the environment variable, or a configuration file, named; None
    when nowhere. A `--config` that names a file (cargo allows that) is read as well."""
    for text in _config_values(cargo_args):
        name = text.split("=", 1)[0].strip().strip('"')
        if "=" in text and name == key:
            return f"--config {text}"
        if "=" not in text and Path(text).is_file():
            files = [Path(text), *files]
    if env_var in environ:
        return f"{env_var}={environ[env_var]}"
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # cargo reports a broken configuration file itself
        if _toml_get(data, key) is not None:
            return f"{key} in {path}"
    return None


_LOCK_NAME = re.compile(r'^name = "([^"]+)"$', re.M)


def local_packages(lockfile: Path) -> list[str]:
    """The packages Cargo.lock locks without a source: the workspace's own members and
    its path dependencies. Read from cargo's own generated layout (one `[[package]]`
    table per package, `name = "..."` and `source = ...` on lines of their own) rather
    than parsed as TOML: this runs in every build, no-op builds included, and parsing a
    Worker's lock file costs ~3 ms, scanning it ~0.1 ms."""
    try:
        text = lockfile.read_text(encoding="utf-8")
    except OSError:
        return []
    found = set()
    for table in text.split("\n[[package]]\n")[1:]:
        table = table.split("\n[", 1)[0]  # up to the next table ([[patch.unused]], ...)
        name = _LOCK_NAME.search(table)
        if name is not None and "\nsource = " not in f"\n{table}":
            found.add(name.group(1))
    return sorted(found)


def _fingerprints(build_dir: Path, package: str) -> list[Path]:
    """cargo's fingerprint directories of `package` (any profile and target):
    `<build-dir>[/<target>]/<profile>/.fingerprint/<package>-<16 hex>`."""
    pattern = re.compile(re.escape(package) + r"-[0-9a-f]{16}")
    found: list[Path] = []
    for fingerprints in [*build_dir.glob("*/.fingerprint"), *build_dir.glob("*/*/.fingerprint")]:
        with contextlib.suppress(OSError):
            found += [p for p in fingerprints.iterdir() if pattern.fullmatch(p.name)]
    return found


def forget_moved(cache: Path, workspace_root: Path, packages: Sequence[str]) -> list[str]:
    """Make cargo compile again the workspace packages that this build directory last
    built from another workspace root (see the module's docstring); return their names.
    The caller holds the build directory's lock."""
    record_file = compile_root(cache) / ROOTS_FILE
    build_dir = location(cache)
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        lost = not isinstance(record, dict)
    except (OSError, ValueError):
        record, lost = {}, True
    if lost:
        # without the record, any of them may come from elsewhere (unless nothing was built)
        record = {}
        lost = build_dir.is_dir() and any(build_dir.iterdir())
    root = os.path.abspath(workspace_root)
    # a package never built here has no fingerprints to trust (unless the record is lost)
    moved = [n for n in packages if (record[n] != root if n in record else lost)]
    for name in moved:
        for fingerprint in _fingerprints(build_dir, name):
            shutil.rmtree(fingerprint, ignore_errors=True)
    if any(record.get(name) != root for name in packages):
        record.update({name: root for name in packages})
        tmp = record_file.with_name(f".{ROOTS_FILE}.{os.getpid()}")
        with contextlib.suppress(OSError):  # unwritable: the next build forgets them again
            tmp.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
            os.replace(tmp, record_file)
    return moved


def touch_used(cache: Path) -> None:
    with contextlib.suppress(OSError):
        used_file(cache).touch()
