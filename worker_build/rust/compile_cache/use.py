"""What one build uses of the compile cache, decided once before std and cargo run.

- The rustc wrapper: a wrapper the user configured (RUSTC_WRAPPER, even empty, which is
  cargo's "none"; CARGO_BUILD_RUSTC_WRAPPER; `build.rustc-wrapper` in a `--config` or a
  configuration file) is theirs and stays as it is. Otherwise, when there is a storage
  to share with (`sccache_asked`), sccache (tools/sccache.py) through this cache
  directory's own server (server.py), or the user's server when SCCACHE_SERVER_UDS/PORT
  name one. No sccache, or a server that does not start, is a note: the build goes on
  without it.
- The shared build directory (builddir.py), unless the user set one or another build is
  compiling there right now.

cargo.py puts `cargo_args` on cargo's command line and `env` in its environment (and so
does the std step, for the std cache entry's seed build and the host prebuild); `facts`
gives the report its counts after cargo finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker_build.errors import LockedError
from worker_build.rust.compile_cache import builddir
from worker_build.rust.compile_cache import server as server_mod
from worker_build.rust.compile_cache.server import Server, Stats, compile_root
from worker_build.rust.stdcache.query import config_files
from worker_build.tools import sccache as sccache_tool
from worker_build.tools.tool import Tool
from worker_build.util import locking

SCCACHE_LOCK = "sccache.lock"  # held shared by builds using our server's storage
SERVER_LOCK = "server.lock"  # held while a server is started
SCCACHE_ADVICE = "dependencies are shared through the build directory only"
# Why sccache is off unless asked for: with only a local storage, it shares nothing the
# build directory does not already share on this machine (but with a build that found the
# build directory busy), and it made the very first build about 18% slower (wrapping
# every rustc, hashing every input, compressing every output; benchmarks/compile_cache.py).
NOT_ASKED = (
    "no sccache storage to share with is configured (SCCACHE_REDIS_ENDPOINT, SCCACHE_BUCKET, "
    "SCCACHE_GHA_ENABLED, SCCACHE_DIR, ...; or WORKER_BUILD_SCCACHE)"
)


def sccache_asked(environ: Mapping[str, str]) -> bool:
    """sccache runs when there is somewhere to share with: a storage of the user's
    choosing, the user's own server, or an sccache named by WORKER_BUILD_SCCACHE."""
    return bool(
        server_mod.storage_setting(environ)
        or server_mod.user_server(environ)
        or environ.get(sccache_tool.ENV_VAR)
    )


@dataclass
class CompileCache:
    build_dir: Path | None
    # "shared"; else compiled in the target directory: "busy" (another build was using
    # it), "yours" (the user set a build directory), "old-cargo" (no build.build-dir)
    build_dir_state: str
    cargo_args: tuple[str, ...]
    env: dict[str, str]  # RUSTC_WRAPPER and the server's address, for cargo
    sccache: Tool | None
    server: Server | None  # also set for a user's own sccache wrapper (for its counts)
    user_wrapper: str | None  # where the user's wrapper is configured
    reason: str | None  # why sccache is not used
    rebuilt: tuple[str, ...] = ()  # workspace packages compiled again (builddir.py)
    before: Stats | None = None
    notes: list[str] = field(default_factory=list)
    held: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def release_build_dir(self) -> None:
        """Let the next build compile in the build directory (after cargo finished)."""
        self.held.close()

    def facts(self, compiled: bool = True) -> dict[str, Any]:
        """For the report: where things were compiled and sccache's counts since
        `prepare` (the whole server's: builds sharing it at the same time count in
        each other's). `compiled=False`: this build compiled nothing (a no-op), so its
        counts are nought and sccache is not asked (a process a no-op build saves)."""
        doc: dict[str, Any] = {
            "build_dir": str(self.build_dir) if self.build_dir else None,
            "build_dir_state": self.build_dir_state,
        }
        if self.rebuilt:
            doc["rebuilt_workspace_packages"] = list(self.rebuilt)
        if self.user_wrapper is not None:
            doc["wrapper"] = self.user_wrapper
        sccache: dict[str, Any] | None = None
        if self.server is not None:
            after = server_mod.stats(self.server) if compiled else None
            sccache = {
                "path": str(self.server.exe),
                "server": "own" if self.server.own else "yours",
            }
            if self.sccache is not None:
                sccache |= {"version": self.sccache.version, "source": self.sccache.source.value}
            if after is not None:
                sccache |= after.since(self.before).facts()
            elif not compiled and self.before is not None:
                sccache |= Stats(0, 0, 0, 0, 0, self.before.location).facts()
        doc["sccache"] = sccache
        if self.reason is not None:
            doc["sccache_reason"] = self.reason
        return doc


def user_wrapper(
    cargo_args: Sequence[str], environ: Mapping[str, str], files: Sequence[Path]
) -> str | None:
    """Where the user configured cargo's rustc wrapper, in cargo's order of precedence."""
    if "RUSTC_WRAPPER" in environ:
        return f"RUSTC_WRAPPER={environ['RUSTC_WRAPPER']}"
    return builddir.cargo_setting(
        "build.rustc-wrapper", "CARGO_BUILD_RUSTC_WRAPPER", cargo_args, environ, files
    )


def _users_sccache(environ: Mapping[str, str]) -> Server | None:
    """A RUSTC_WRAPPER that is sccache: asked for its counts, with the user's settings."""
    value = environ.get("RUSTC_WRAPPER", "")
    if not Path(value).name.startswith("sccache"):
        return None
    exe = value if os.sep in value else shutil.which(value)
    return Server(Path(exe), {}, own=False, socket=None) if exe else None


def _sccache(
    cache: CompileCache,
    root: Path,
    environ: Mapping[str, str],
    timeout: float,
    stack: contextlib.ExitStack,
) -> None:
    if not sccache_asked(environ):
        cache.reason = NOT_ASKED  # the default: no note
        return
    found = sccache_tool.find()
    if isinstance(found, str):
        cache.reason = found
        cache.notes.append(f"sccache not used: {found}; {SCCACHE_ADVICE}")
        return
    if server_mod.user_server(environ) is not None:
        server = Server(found.path, {}, own=False, socket=None)
    else:
        server = server_mod.own_server(found.path, root, environ)
        # pruning deletes none of the storage while a build uses it
        stack.enter_context(
            locking.shared(compile_root(root) / SCCACHE_LOCK, what="the sccache lock")
        )
        why = server_mod.ensure_running(server, compile_root(root) / SERVER_LOCK, timeout)
        if why is not None:
            cache.reason = f"its server did not start: {why}"
            cache.notes.append(f"sccache not used: {cache.reason}")
            return
    cache.sccache, cache.server = found, server
    cache.env = {"RUSTC_WRAPPER": str(found.path), **server.client_env}
    cache.before = server_mod.stats(server)


def prepare(
    root: Path,
    *,
    crate_root: Path,
    lockfile: Path,
    rust_version: str,
    cargo_args: Sequence[str],
    environ: Mapping[str, str],
    timeout: float,
    stack: contextlib.ExitStack,
) -> CompileCache:
    """Decide and set up the compile cache of one build in cache directory `root`.
    What must last until the build ends (locks) is entered on `stack`; the build
    directory's lock can be released earlier (`release_build_dir`)."""
    # absolute: cargo reads the build dir relative to the crate, sccache's server runs
    # in its own directory (a relative WORKER_BUILD_CACHE is the caller's)
    root = root.absolute()
    files = config_files(crate_root)
    cache = CompileCache(None, "shared", (), {}, None, None, None, None)
    stack.callback(cache.release_build_dir)
    cache.user_wrapper = user_wrapper(cargo_args, environ, files)
    if cache.user_wrapper is None:
        _sccache(cache, root, environ, timeout, stack)
    else:
        cache.server = _users_sccache(environ)
        if cache.server is not None:
            cache.before = server_mod.stats(cache.server)
    yours = builddir.cargo_setting(
        "build.build-dir", "CARGO_BUILD_BUILD_DIR", cargo_args, environ, files
    )
    if yours is not None:
        cache.build_dir_state = "yours"
        return cache
    if not builddir.supported(rust_version):
        cache.build_dir_state = "old-cargo"
        cache.notes.append(
            f"no shared build directory: cargo {rust_version} has no build.build-dir "
            "(1.91 or later)"
        )
        return cache
    try:
        cache.held.enter_context(
            locking.exclusive(
                builddir.lock_file(root),
                0,
                held_by="another build is compiling in the shared build directory",
                fix="",
                what="the build directory lock",
            )
        )
    except LockedError:
        cache.build_dir_state = "busy"
        cache.notes.append(
            "the shared build directory is busy (another build is compiling there): "
            "compiled in the target directory"
            + (" through sccache" if cache.sccache or cache.server else "")
        )
        return cache
    cache.rebuilt = tuple(
        builddir.forget_moved(root, lockfile.parent, builddir.local_packages(lockfile))
    )
    if cache.rebuilt:
        cache.notes.append(
            f"{', '.join(cache.rebuilt)} compiled again: the shared build directory last "
            "built it from another directory"
        )
    builddir.touch_used(root)
    cache.build_dir = builddir.location(root)
    cache.cargo_args = tuple(builddir.config_arg(cache.build_dir))
    return cache


@dataclass(frozen=True)
class Outlook:
    """What a build would use, found without starting or locking anything (`doctor`)."""

    wrapper: str  # what compiles: "sccache ...", "your RUSTC_WRAPPER=...", "no sccache: ..."
    sccache_missing: str | None  # why there is no sccache (a warning), None when fine
    build_dir: str  # where dependencies are compiled


def outlook(
    root: Path,
    *,
    crate_root: Path,
    rust_version: str,
    cargo_args: Sequence[str],
    environ: Mapping[str, str],
) -> Outlook:
    """`prepare`'s decisions, described. Raises as `prepare` does for an unusable
    WORKER_BUILD_SCCACHE."""
    root = root.absolute()
    files = config_files(crate_root)
    missing = None
    wrapper_at = user_wrapper(cargo_args, environ, files)
    if wrapper_at is not None:
        wrapper = f"your rustc wrapper ({wrapper_at}), not worker-build's sccache"
    elif not sccache_asked(environ):
        wrapper = f"no sccache: {NOT_ASKED}"
    else:
        found = sccache_tool.find()
        if isinstance(found, str):
            missing = found
            wrapper = f"no sccache: {found}"
        elif server_mod.user_server(environ) is not None:
            wrapper = f"{found.label} with your server ({server_mod.user_server(environ)})"
        else:
            own = server_mod.own_server(found.path, root, environ)
            state = "running" if own.socket and server_mod.alive(own.socket) else "not running"
            wrapper = (
                f"{found.label} through its own server for this cache directory ({state}), "
                f"storage: {server_mod.backend(environ, root)}"
            )
    yours = builddir.cargo_setting(
        "build.build-dir", "CARGO_BUILD_BUILD_DIR", cargo_args, environ, files
    )
    if yours is not None:
        where = f"your build directory ({yours})"
    elif not builddir.supported(rust_version):
        where = f"the target directory (cargo {rust_version} has no build.build-dir)"
    else:
        where = f"the shared build directory {builddir.location(root)}"
    return Outlook(wrapper, missing, where)
