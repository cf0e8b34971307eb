"""Resolve wasm-bindgen, wasm-opt, esbuild and workerd: one fixed order, one typed outcome.

Order for each tool:
1. the environment override (`WASM_BINDGEN_BIN`, `WASM_OPT_BIN`, `ESBUILD_BIN`, as the
   real worker-build reads them, and `WORKERD_BIN`): used as given, its version reported;
2. PATH, only if its version is acceptable (wasm-bindgen: exactly the locked one);
3. `node_modules/.bin` of the crate or any parent (npm tools);
4. our cache (`$WORKER_BUILD_CACHE`, default `$XDG_CACHE_HOME/worker-build`), one
   directory per version, so other versions are never deleted;
5. install into that cache (`cargo install` / `npm install`) unless `--offline`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from worker_build import probe_cache, proc
from worker_build.cachedir import cache_root as cache_root  # re-exported (tools.cache_root)
from worker_build.errors import CommandFailedError, ToolMissingError, WorkerBuildError

# The npm tool versions worker-build is tested with (also pinned in package.json).
BINARYEN_VERSION = "132.0.0"
ESBUILD_VERSION = "0.28.2"
WORKERD_VERSION = "1.20261117.1"  # npm `workerd`: 1.<release date>.<patch>
# Oldest binaryen whose wasm-opt handles both EH encodings and --translate-to-exnref.
MIN_WASM_OPT = 120
# Oldest workerd release (its `--version` date) that runs both EH encodings.
MIN_WORKERD_DATE = "2025-09-01"


class Source(Enum):
    ENV = "env"
    PATH = "PATH"
    NODE_MODULES = "node_modules"
    CACHE = "cache"
    INSTALLED = "installed"


@dataclass(frozen=True)
class Tool:
    name: str
    path: Path
    version: str
    source: Source

    @property
    def label(self) -> str:
        return f"{self.name} {self.version} ({self.source.value})"


class InstallPolicy(Enum):
    ALLOW = "allow"
    OFFLINE = "offline"  # never download; a missing tool is an error


def _version_of(path: Path, pattern: str) -> str | None:
    try:
        out = probe_cache.version_output(path)  # cached `path --version` (issue 7)
    except WorkerBuildError:
        return None
    match = re.search(pattern, out)
    return match.group(1) if match else None


def _bindgen_version(path: Path) -> str | None:
    return _version_of(path, r"wasm-bindgen (\d+\.\d+\.\d+)")


def _wasm_opt_version(path: Path) -> str | None:
    return _version_of(path, r"version (\d+)")


def _esbuild_version(path: Path) -> str | None:
    return _version_of(path, r"^(\d+\.\d+\.\d+)")


def _workerd_version(path: Path) -> str | None:
    return _version_of(path, r"workerd (\d{4}-\d{2}-\d{2})")


def _env_tool(var: str, name: str, version_of: Callable[[Path], str | None]) -> Tool | None:
    value = os.environ.get(var)
    if not value:
        return None
    path = Path(proc.resolve(value, f"set {var} to an executable {name}"))
    version = version_of(path)
    if version is None:
        raise ToolMissingError(
            f"{var}={value} does not report a {name} version",
            f"point {var} at a working {name} or unset it",
        )
    return Tool(name, path, version, Source.ENV)


def _node_modules_bins(start: Path, name: str) -> list[Path]:
    return [
        d / "node_modules" / ".bin" / name
        for d in (start, *start.parents)
        if (d / "node_modules" / ".bin" / name).is_file()
    ]


def _install(argv_for: Callable[[Path], list[str]], final: Path, what: str) -> None:
    """Install into a temp dir next to `final`, then rename: concurrent installs never
    see half a tool, and a failed install leaves nothing behind."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        proc.run(argv_for(staging), output=proc.Output.CAPTURE)
        if final.exists():  # another process won the race: keep theirs
            return
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def wasm_bindgen(version: str, policy: InstallPolicy) -> Tool:
    name = "wasm-bindgen"
    fix = f"run `cargo install wasm-bindgen-cli --version {version}` or set WASM_BINDGEN_BIN"
    env = _env_tool("WASM_BINDGEN_BIN", name, _bindgen_version)
    if env is not None:
        return env
    on_path = shutil.which(name)
    if on_path and _bindgen_version(Path(on_path)) == version:
        return Tool(name, Path(on_path), version, Source.PATH)
    root = cache_root() / "wasm-bindgen" / version
    binary = root / "bin" / name
    if binary.is_file():
        return Tool(name, binary, version, Source.CACHE)
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(
            f"wasm-bindgen {version} (locked in Cargo.lock) is not installed", fix
        )
    cargo = shutil.which("cargo")
    if cargo is None:
        raise ToolMissingError(f"cannot install wasm-bindgen {version}: cargo not on PATH", fix)

    def argv(dest: Path, locked: bool) -> list[str]:
        cmd = [cargo, "install", "wasm-bindgen-cli", "--version", version, "--root", str(dest)]
        return [*cmd, "--locked"] if locked else cmd

    try:
        _install(lambda d: argv(d, True), root, name)
    except CommandFailedError as exc:
        # Registries sometimes lack a crate version the CLI's own lockfile pins
        # (yanked or not mirrored); a fresh resolution then still builds.
        if "failed to select a version" not in exc.output:
            raise ToolMissingError(
                f"installing wasm-bindgen {version} failed:\n{exc.tail()}", fix
            ) from exc
        _install(lambda d: argv(d, False), root, name)
    return Tool(name, binary, version, Source.INSTALLED)


def _npm_tool(
    *,
    name: str,
    package: str,
    version: str,
    env_var: str,
    version_of: Callable[[Path], str | None],
    acceptable: Callable[[str], bool],
    crate_root: Path,
    policy: InstallPolicy,
) -> Tool:
    fix = f"run `npm install {package}@{version}` or set {env_var}"
    env = _env_tool(env_var, name, version_of)
    if env is not None:
        return env
    on_path = shutil.which(name)
    candidates = [(Path(on_path), Source.PATH)] if on_path else []
    candidates += [(p, Source.NODE_MODULES) for p in _node_modules_bins(crate_root, name)]
    for path, source in candidates:
        found = version_of(path)
        if found is not None and acceptable(found):
            return Tool(name, path, found, source)
    root = cache_root() / package / version
    binary = root / "node_modules" / ".bin" / name
    if binary.is_file():
        return Tool(name, binary, version, Source.CACHE)
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(f"{name} not found ({package}@{version} is not installed)", fix)
    npm = shutil.which("npm")
    if npm is None:
        raise ToolMissingError(f"{name} not found and npm is not available to install it", fix)
    try:
        _install(
            lambda d: [
                npm,
                "install",
                "--prefix",
                str(d),
                "--no-save",
                "--no-audit",
                "--no-fund",
                f"{package}@{version}",
            ],
            root,
            name,
        )
    except CommandFailedError as exc:
        raise ToolMissingError(
            f"installing {package}@{version} failed:\n{exc.tail()}", fix
        ) from exc
    return Tool(name, binary, version, Source.INSTALLED)


def wasm_opt(crate_root: Path, policy: InstallPolicy) -> Tool:
    return _npm_tool(
        name="wasm-opt",
        package="binaryen",
        version=BINARYEN_VERSION,
        env_var="WASM_OPT_BIN",
        version_of=_wasm_opt_version,
        acceptable=lambda v: int(v) >= MIN_WASM_OPT,
        crate_root=crate_root,
        policy=policy,
    )


def esbuild(crate_root: Path, policy: InstallPolicy) -> Tool:
    return _npm_tool(
        name="esbuild",
        package="esbuild",
        version=ESBUILD_VERSION,
        env_var="ESBUILD_BIN",
        version_of=_esbuild_version,
        acceptable=lambda v: tuple(int(x) for x in v.split(".")) >= (0, 19, 0),
        crate_root=crate_root,
        policy=policy,
    )


def workerd(crate_root: Path, policy: InstallPolicy) -> Tool:
    """The Workers runtime, for serving a build locally (`loader.serve()`). Its version is
    the release date `workerd --version` prints (the npm version is 1.<date>.<patch>)."""
    return _npm_tool(
        name="workerd",
        package="workerd",
        version=WORKERD_VERSION,
        env_var="WORKERD_BIN",
        version_of=_workerd_version,
        acceptable=lambda v: v >= MIN_WORKERD_DATE,
        crate_root=crate_root,
        policy=policy,
    )
