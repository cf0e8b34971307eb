"""What worker-build needs to know about the crate, read from Cargo.toml and Cargo.lock.

Reads the files directly (no `cargo metadata`): it is the pre-flight step and
must fail fast, with a fix-it message, before any slow tool starts. A crate with no
lock file yet, or one without wasm-bindgen in it, is `LockNeeded`: the build has cargo
write it once the toolchain is known (build/steps/lockfile.py), as the Rust tool's
first command, `cargo metadata`, does.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker_build.errors import CrateError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# wasm-bindgen 0.2.122 changed the schema the CLI and the crate must share
# and is the oldest version with reset-state + abort-handler support that the
# worker 0.8 line relies on.
MIN_WASM_BINDGEN = (0, 2, 122)


@dataclass(frozen=True)
class CrateManifest:
    """What Cargo.toml says: enough to resolve the options before the lock file is read."""

    root: Path  # directory holding Cargo.toml
    manifest: Path
    package_name: str
    lib_name: str  # the artifact stem cargo writes (dashes become underscores)
    metadata: dict[str, Any] = field(default_factory=dict)  # [package.metadata]


@dataclass(frozen=True)
class Crate:
    root: Path  # directory holding Cargo.toml
    manifest: Path
    package_name: str
    lib_name: str  # the artifact stem cargo writes (dashes become underscores)
    lockfile: Path
    wasm_bindgen_version: str
    worker_version: str | None  # None: a plain wasm-bindgen crate (no `worker` dependency)
    metadata: dict[str, Any] = field(default_factory=dict)  # [package.metadata]
    # sha256 of the lock file as read: cargo build may rewrite it (refresh())
    lock_digest: str = ""

    @property
    def from_manifest(self) -> CrateManifest:
        return CrateManifest(
            self.root, self.manifest, self.package_name, self.lib_name, self.metadata
        )


@dataclass(frozen=True)
class LockNeeded:
    """The lock file cargo must write (or complete) before the wasm-bindgen version,
    and so the CLI to run, is known."""

    crate: CrateManifest
    lockfile: Path | None  # the one found, which locks no wasm-bindgen; None: none found

    @property
    def problem(self) -> str:
        if self.lockfile is None:
            return f"no Cargo.lock for {self.crate.package_name}"
        return f"{self.lockfile} does not lock wasm-bindgen"

    def error(self) -> CrateError:
        """Where nothing may write it (doctor, a caller that needs the versions now)."""
        return CrateError(
            self.problem,
            "run worker-build, which has cargo write it as a build would, or "
            "`cargo update --workspace` (worker-build uses the locked wasm-bindgen version)",
        )


def parse_version(text: str) -> tuple[int, int, int]:
    core = text.split("+", 1)[0].split("-", 1)[0]
    parts = core.split(".")
    try:
        nums = [int(p) for p in parts]
    except ValueError as exc:
        raise CrateError(f"cannot read version {text!r} in Cargo.lock") from exc
    nums += [0] * (3 - len(nums))
    return nums[0], nums[1], nums[2]


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise CrateError(f"{path} is not valid TOML: {exc}", "fix the syntax error") from exc


def find_lockfile(crate_root: Path) -> Path | None:
    """Cargo.lock of the crate or of the workspace it belongs to (nearest ancestor)."""
    for directory in (crate_root, *crate_root.parents):
        candidate = directory / "Cargo.lock"
        if candidate.is_file():
            return candidate
    return None


def locked_versions(lockfile: Path) -> dict[str, list[str]]:
    data = _load_toml(lockfile)
    versions: dict[str, list[str]] = {}
    for pkg in data.get("package", []):
        if isinstance(pkg, dict) and "name" in pkg and "version" in pkg:
            versions.setdefault(str(pkg["name"]), []).append(str(pkg["version"]))
    return versions


def _single(versions: dict[str, list[str]], name: str, lockfile: Path) -> str | None:
    found = versions.get(name, [])
    if len(found) > 1:
        raise CrateError(
            f"{lockfile} locks several versions of {name} ({', '.join(found)})",
            f"unify them with `cargo update -p {name}` so one CLI version matches",
        )
    return found[0] if found else None


def find_crate_root(start: Path) -> Path | None:
    """The nearest directory from `start` upwards holding a Cargo.toml (what the Rust
    worker-build builds when it is given no path)."""
    for directory in (start, *start.parents):
        if (directory / "Cargo.toml").is_file():
            return directory
    return None


def read_manifest(path: Path | None) -> CrateManifest:
    """The crate at `path` (its directory or its Cargo.toml); None: the nearest one
    from the current directory upwards."""
    if path is None:
        cwd = Path.cwd()
        found = find_crate_root(cwd)
        if found is None:
            raise CrateError(
                f"no Cargo.toml in {cwd} or its parents",
                "run worker-build in the crate's directory or pass its path",
            )
        root = found
    else:
        root = path.resolve()
    if root.is_file() and root.name == "Cargo.toml":
        root = root.parent
    manifest = root / "Cargo.toml"
    if not manifest.is_file():
        raise CrateError(
            f"no Cargo.toml in {root}",
            "run worker-build in the crate's directory or pass its path",
        )
    data = _load_toml(manifest)
    package = data.get("package")
    if not isinstance(package, dict) or "name" not in package:
        raise CrateError(
            f"{manifest} has no [package] name (a workspace root?)",
            "pass the path of the Worker crate itself, not the workspace",
        )
    name = str(package["name"])
    lib = data.get("lib", {})
    crate_types = lib.get("crate-type", []) if isinstance(lib, dict) else []
    if "cdylib" not in crate_types:
        raise CrateError(
            f'{manifest}: [lib] crate-type does not include "cdylib"',
            'add `crate-type = ["cdylib"]` to the [lib] table of Cargo.toml',
        )
    pkg_meta = package.get("metadata", {})
    return CrateManifest(
        root=root,
        manifest=manifest,
        package_name=name,
        lib_name=str(lib.get("name", name)).replace("-", "_"),
        metadata=pkg_meta if isinstance(pkg_meta, dict) else {},
    )


def _digest(path: Path) -> str:
    # The bytes, not the mtime: a rewrite within one timestamp tick must show too.
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_lock(crate: CrateManifest, lockfile: Path | None = None) -> Crate | LockNeeded:
    """The crate with its locked versions, from `lockfile` (default: the crate's or its
    workspace's), or LockNeeded when there is none or it locks no wasm-bindgen."""
    lockfile = lockfile if lockfile is not None else find_lockfile(crate.root)
    if lockfile is None:
        return LockNeeded(crate, None)
    digest = _digest(lockfile)
    versions = locked_versions(lockfile)
    bindgen = _single(versions, "wasm-bindgen", lockfile)
    if bindgen is None:
        return LockNeeded(crate, lockfile)
    if parse_version(bindgen) < MIN_WASM_BINDGEN:
        raise CrateError(
            f"wasm-bindgen {bindgen} is too old (need >= 0.2.122)",
            "run `cargo update -p wasm-bindgen`",
        )
    worker = _single(versions, "worker", lockfile)
    if worker is not None and parse_version(worker)[:2] != (0, 8):
        raise CrateError(
            f"worker {worker} is not supported (need 0.8.x)",
            'set `worker = "0.8"` in Cargo.toml and run `cargo update -p worker`',
        )
    return Crate(
        root=crate.root,
        manifest=crate.manifest,
        package_name=crate.package_name,
        lib_name=crate.lib_name,
        lockfile=lockfile,
        wasm_bindgen_version=bindgen,
        worker_version=worker,
        metadata=crate.metadata,
        lock_digest=digest,
    )


def load_crate(path: Path | None) -> Crate:
    """The crate at `path` with its locked versions; its lock file must be complete."""
    found = read_lock(read_manifest(path))
    if isinstance(found, LockNeeded):
        raise found.error()
    return found


def refresh(crate: Crate) -> Crate:
    """The crate as its lock file now says, after cargo build: cargo brings the lock file
    up to date with Cargo.toml (a dependency bumped there), and the wasm-bindgen CLI must
    match what it compiled: the Rust tool's `cargo metadata` brings the lock file up to
    date before it reads the version."""
    try:
        if _digest(crate.lockfile) == crate.lock_digest:
            return crate
    except OSError:
        return crate  # gone (cargo --lockfile-path elsewhere?): keep what was read
    found = read_lock(crate.from_manifest, crate.lockfile)
    if isinstance(found, LockNeeded):
        raise found.error()
    return found
