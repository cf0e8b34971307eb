"""Resolve wasm-bindgen, wasm-opt, esbuild and workerd: one fixed order, one typed outcome.

Each tool is pinned: wasm-bindgen to the version Cargo.lock locks, the others to the
release worker-build is tested with (binaryen 132, esbuild 0.28.2, workerd 1.20261117.1,
as package.json pins them). Order for each tool:
1. the environment override (`WASM_BINDGEN_BIN`, `WASM_OPT_BIN`, `ESBUILD_BIN`, as the
   real worker-build reads them, and `WORKERD_BIN`): used as given, its version reported.
   This is how a user asks for another version;
2. PATH, then `node_modules/.bin` of the crate or any parent (npm tools), each only at
   the pinned version: another version (a project's `npm install wrangler` brings its
   own esbuild) or one that does not run is passed over, and the Tool says which and why;
3. our cache (`$WORKER_BUILD_CACHE`, default `$XDG_CACHE_HOME/worker-build`), one
   directory per version, so other versions are never deleted: a prebuilt download
   first, then an installed one. An entry whose tool no longer runs (its probe is keyed
   on every file of the entry, probes.py) is broken: removed and fetched again;
4. unless `--offline`: download the prebuilt tool into that cache, verified against its
   published checksum (prebuilt.py; wasm-bindgen, wasm-opt, esbuild);
5. when no prebuilt could be fetched: install into that cache (`cargo install` /
   `npm install`, install.py, shown as it runs). A download that arrives but fails
   verification is an error, never a reason to fall back.

`survey` does steps 1-3 without changing anything (doctor uses it, with `fresh=True`
so that every tool it calls ok has just run).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

from worker_build.errors import (
    CommandFailedError,
    DownloadError,
    ToolMissingError,
    VerificationError,
    WorkerBuildError,
)
from worker_build.tools import download, install, nodejs, prebuilt, probes
from worker_build.tools.tool import InstallPolicy, PassedOver, Source, Tool
from worker_build.util import proc
from worker_build.util.cachedir import cache_root

# The npm tool versions worker-build is tested with (also pinned in package.json).
BINARYEN_VERSION = "132.0.0"
BINARYEN_MAJOR = BINARYEN_VERSION.split(".")[0]  # its native release is `version_132`
ESBUILD_VERSION = "0.28.2"
WORKERD_VERSION = "1.20261117.1"  # npm `workerd`: 1.<release date>.<patch>
_DATE = WORKERD_VERSION.split(".")[1]
WORKERD_DATE = f"{_DATE[:4]}-{_DATE[4:6]}-{_DATE[6:]}"  # what `workerd --version` prints

BINDGEN_PATTERN = r"wasm-bindgen (\d+\.\d+\.\d+)"
WASM_OPT_PATTERN = r"version (\d+)"
ESBUILD_PATTERN = r"^(\d+\.\d+\.\d+)"
WORKERD_PATTERN = r"workerd (\d{4}-\d{2}-\d{2})"


@dataclass(frozen=True)
class Installer:
    """How a tool is installed when no prebuilt one can be fetched."""

    command: str  # "cargo" or "npm"
    package: str  # wasm-bindgen-cli, binaryen, esbuild, workerd
    version: str


@dataclass(frozen=True)
class Spec:
    """One tool, pinned: where it may be found and how it is obtained."""

    name: str
    env_var: str
    version: str  # what `--version` reports for the pinned (or locked) release
    pinned: str  # the pin as the user reads it: "the pinned 0.28.2"
    pattern: str  # finds the version in `--version` output
    node_modules: bool  # also looked for in node_modules/.bin (npm tools)
    asset: prebuilt.Asset | None  # the prebuilt release for this platform
    prebuilt: bool  # published prebuilt at all (workerd: npm is its only channel)
    installer: Installer
    installed: Path  # the cache entry the installer writes
    binary: Path  # the executable in it
    fix: str

    def cache_entries(self) -> list[tuple[Path, Path]]:
        """(entry directory, executable) of each cache entry, in the order tried."""
        entries = [(self.asset.directory, self.asset.path)] if self.asset else []
        return [*entries, (self.installed, self.binary)]


def wasm_bindgen_spec(version: str) -> Spec:
    root = cache_root() / "wasm-bindgen" / version
    return Spec(
        name="wasm-bindgen",
        env_var="WASM_BINDGEN_BIN",
        version=version,
        pinned=f"the {version} Cargo.lock locks",
        pattern=BINDGEN_PATTERN,
        node_modules=False,
        asset=prebuilt.wasm_bindgen(version),
        prebuilt=True,
        installer=Installer("cargo", "wasm-bindgen-cli", version),
        installed=root,
        binary=root / "bin" / "wasm-bindgen",
        fix=f"run `cargo install wasm-bindgen-cli --version {version}` or set WASM_BINDGEN_BIN",
    )


def _npm_spec(
    name: str, package: str, npm_version: str, version: str, env_var: str, pattern: str
) -> Spec:
    root = cache_root() / package / npm_version
    assets = {
        "wasm-opt": lambda: prebuilt.binaryen(BINARYEN_MAJOR),
        "esbuild": lambda: prebuilt.esbuild(ESBUILD_VERSION),
    }
    return Spec(
        name=name,
        env_var=env_var,
        version=version,
        pinned=f"the pinned {version}",
        pattern=pattern,
        node_modules=True,
        asset=assets[name]() if name in assets else None,
        prebuilt=name in assets,
        installer=Installer("npm", package, npm_version),
        installed=root,
        binary=root / "node_modules" / ".bin" / name,
        fix=f"run `npm install {package}@{npm_version}` or set {env_var}",
    )


def wasm_opt_spec() -> Spec:
    """The download is binaryen's native release; the npm fallback its JavaScript/Wasm
    build of the same version (runs on Node, slower)."""
    return _npm_spec(
        "wasm-opt", "binaryen", BINARYEN_VERSION, BINARYEN_MAJOR, "WASM_OPT_BIN", WASM_OPT_PATTERN
    )


def esbuild_spec() -> Spec:
    return _npm_spec(
        "esbuild", "esbuild", ESBUILD_VERSION, ESBUILD_VERSION, "ESBUILD_BIN", ESBUILD_PATTERN
    )


def workerd_spec() -> Spec:
    """The Workers runtime, for serving a build locally (`loader.serve()`). Its version is
    the release date `workerd --version` prints (the npm version is 1.<date>.<patch>)."""
    return _npm_spec(
        "workerd", "workerd", WORKERD_VERSION, WORKERD_DATE, "WORKERD_BIN", WORKERD_PATTERN
    )


# --- looking -------------------------------------------------------------------------------


def reported(
    spec: Spec, path: Path, *, tree: Path | None = None, fresh: bool = False
) -> tuple[str | None, str]:
    """(the version `path --version` reports, "") or (None, why there is none)."""
    try:
        out = probes.version_output(path, tree=tree, fresh=fresh)
    except CommandFailedError as exc:
        last = exc.tail(1)
        return None, f"`{path.name} --version` exits with code {exc.returncode}" + (
            f": {last}" if last else ""
        )
    except WorkerBuildError as exc:
        return None, exc.message
    match = re.search(spec.pattern, out, re.MULTILINE)
    if match is None:
        return None, f"`{path.name} --version` printed no {spec.name} version"
    return match.group(1), ""


def _env_tool(spec: Spec, fresh: bool) -> Tool | None:
    value = os.environ.get(spec.env_var)
    if not value:
        return None
    path = Path(proc.resolve(value, f"set {spec.env_var} to an executable {spec.name}"))
    version, why = reported(spec, path, fresh=fresh)
    if version is None:
        raise ToolMissingError(
            f"{spec.env_var}={value} does not report a {spec.name} version ({why})",
            f"point {spec.env_var} at a working {spec.name} or unset it",
        )
    return Tool(spec.name, path, version, Source.ENV)


def _node_modules_bins(start: Path, name: str) -> list[Path]:
    return [
        d / "node_modules" / ".bin" / name
        for d in (start, *start.parents)
        if (d / "node_modules" / ".bin" / name).is_file()
    ]


@dataclass
class Survey:
    """What steps 1-3 found: the tool to use, if any, and everything passed over."""

    spec: Spec
    tool: Tool | None = None
    passed: list[PassedOver] = field(default_factory=list)
    broken: list[tuple[Path, PassedOver]] = field(default_factory=list)  # cache entries


def survey(spec: Spec, crate_root: Path | None, *, fresh: bool = False) -> Survey:
    """Steps 1-3, changing nothing (a broken cache entry is only reported)."""
    found = Survey(spec)
    found.tool = _env_tool(spec, fresh)
    if found.tool is not None:
        return found
    on_path = shutil.which(spec.name)
    candidates = [(Path(on_path), Source.PATH)] if on_path else []
    if spec.node_modules and crate_root is not None:
        candidates += [(p, Source.NODE_MODULES) for p in _node_modules_bins(crate_root, spec.name)]
    seen: set[str] = set()
    for path, source in candidates:
        if os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        version, why = reported(spec, path, fresh=fresh)
        if version == spec.version:
            found.tool = Tool(spec.name, path, version, source, tuple(found.passed))
            return found
        if version is not None:
            why = (
                f"{spec.name} {version}, not {spec.pinned}; "
                f"set {spec.env_var}={path} to use it anyway"
            )
        found.passed.append(PassedOver(source.value, path, version, why))
    for directory, binary in spec.cache_entries():
        if not directory.is_dir():
            continue
        if binary.is_file():
            version, why = reported(spec, binary, tree=directory, fresh=fresh)
        else:
            version, why = None, f"{binary.relative_to(directory)} is missing"
        if version == spec.version:
            found.tool = Tool(spec.name, binary, version, Source.CACHE, tuple(found.passed))
            return found
        why = why or f"its {spec.name} reports {version}, not {spec.version}"
        found.broken.append((directory, PassedOver("cache", binary, version, f"broken: {why}")))
    return found


def missing_message(found: Survey) -> str:
    """Why there is no usable tool, naming what was passed over."""
    spec = found.spec
    text = f"{spec.name} {spec.version} is not installed"
    if spec.name == "wasm-bindgen":
        text = f"wasm-bindgen {spec.version} (locked in Cargo.lock) is not installed"
    others = [p.label for p in found.passed] + [p.label for _, p in found.broken]
    return text + (f" (passed over: {'; '.join(others)})" if others else "")


# --- obtaining ----------------------------------------------------------------------------------


def _shown(fetcher: download.Fetcher | None) -> download.Progress:
    return fetcher.shown if fetcher is not None else download.current_progress()


def _download(spec: Spec, fetcher: download.Fetcher | None) -> Tool | str:
    """The verified prebuilt tool, or why there is none (then the caller falls back)."""
    asset = spec.asset
    if not spec.prebuilt:
        return ""
    if asset is None:
        system, machine = prebuilt.host()
        return f"no prebuilt {spec.name} is published for {system}/{machine}"

    def check(binary: Path) -> None:
        try:
            out = proc.run([binary, "--version"]).stdout  # in staging: never cached
        except WorkerBuildError:
            out = ""
        match = re.search(spec.pattern, out, re.MULTILINE)
        found = match.group(1) if match else None
        if found != spec.version:
            raise VerificationError(
                f"the {asset.tool} downloaded from {asset.url} reports version "
                f"{found or 'nothing'}; nothing was cached",
                "check the mirror setting: it must serve the published release",
            )

    try:
        path = prebuilt.obtain(asset, fetcher or download.Fetcher(), check)
    except DownloadError as exc:
        return f"no prebuilt {asset.tool} reachable ({exc.message})"
    return Tool(spec.name, path, spec.version, Source.DOWNLOADED)


def _install(spec: Spec, why: str, progress: download.Progress) -> Tool:
    inst = spec.installer
    program = shutil.which(inst.command)
    if program is None:
        lead = f"{why}; " if why else ""
        raise ToolMissingError(
            f"{lead}{spec.name} not found, and {inst.command} is not on PATH to install it"
            if inst.command == "cargo"
            else f"{lead}{spec.name} not found and npm is not available to install it",
            spec.fix,
        )
    if inst.command == "cargo":
        install.cargo_install(
            program, inst.package, inst.version, spec.installed, progress, why, spec.fix
        )
    else:
        install.npm_install(
            program, inst.package, inst.version, spec.installed, progress, why, spec.fix
        )
    version, problem = reported(spec, spec.binary, tree=spec.installed)
    if version != spec.version:
        raise ToolMissingError(
            f"the {spec.name} just installed into {spec.installed} "
            + (f"reports {version}, not {spec.version}" if version else f"does not run: {problem}"),
            spec.fix,
        )
    return Tool(spec.name, spec.binary, spec.version, Source.INSTALLED)


def obtain(
    spec: Spec,
    crate_root: Path | None,
    policy: InstallPolicy,
    fetcher: download.Fetcher | None = None,
) -> Tool:
    found = survey(spec, crate_root)
    if found.tool is not None:
        return found.tool
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(missing_message(found), spec.fix)
    progress = _shown(fetcher)
    passed = list(found.passed)
    for directory, broken in found.broken:
        progress.note(
            f"the cached {spec.name} in {directory} is {broken.reason}; "
            "removed, to be fetched again"
        )
        prebuilt.discard_directory(directory)
        passed.append(replace(broken, reason=f"{broken.reason}; removed and fetched again"))
    got = _download(spec, fetcher)
    if isinstance(got, str):
        got = _install(spec, got, progress)
    return replace(got, passed_over=tuple(passed))


# --- the tools, as the build steps and serve() ask for them ----------------------------------


def wasm_bindgen(
    version: str, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    return obtain(wasm_bindgen_spec(version), None, policy, fetcher)


def wasm_opt(
    crate_root: Path, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    return obtain(wasm_opt_spec(), crate_root, policy, fetcher)


def esbuild(
    crate_root: Path, policy: InstallPolicy, *, fetcher: download.Fetcher | None = None
) -> Tool:
    return obtain(esbuild_spec(), crate_root, policy, fetcher)


def workerd(crate_root: Path, policy: InstallPolicy) -> Tool:
    return obtain(workerd_spec(), crate_root, policy)


def node(policy: InstallPolicy) -> Tool:
    """Node >= 22.12 for miniflare (`loader.serve()` of bindings plain workerd lacks);
    the order is in tools/nodejs.py."""
    return nodejs.node(policy)


def miniflare(crate_root: Path, policy: InstallPolicy) -> Tool:
    """The miniflare package `wrangler dev` runs (its directory); see tools/nodejs.py."""
    return nodejs.miniflare(crate_root, policy)
