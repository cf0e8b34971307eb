"""The sccache server a build talks to: one of its own per cache directory, or the user's.

sccache runs as a client (cargo's RUSTC_WRAPPER) and a server that holds the storage
connection and the statistics. Its default server listens on one TCP port per host, so
every build on the host would share one server and the configuration it started
with. worker-build gives each cache directory its own server on a Unix socket instead
(`SCCACHE_SERVER_UDS`, sccache 0.9+), named after everything that configures it: the
cache directory, the sccache binary and every `SCCACHE_*` variable (passed through to
it untouched). Two cache directories on one host are then two machines, and a build
with another backend gets another server rather than a running one configured
otherwise. The local disk storage defaults to `<cache>/compile/sccache` (SCCACHE_DIR
wins). A server stops by itself when idle (SCCACHE_IDLE_TIMEOUT, sccache's 600 s).

With SCCACHE_SERVER_UDS or SCCACHE_SERVER_PORT already set, the user runs a server of
their own: the build uses it as configured and starts nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker_build.errors import WorkerBuildError
from worker_build.util import locking, proc

# Variables that say where the client finds a server, or only what it logs: not part of
# what a server is configured with.
_NOT_CONFIG = frozenset(
    {"SCCACHE_SERVER_UDS", "SCCACHE_SERVER_PORT", "SCCACHE_LOG", "SCCACHE_ERROR_LOG"}
)
# Longest socket path we use as it is (sun_path holds 108 bytes on Linux, 104 on macOS,
# with the final NUL).
_MAX_SOCKET_PATH = 103
# sccache's storage backends and a variable that selects each (sccache's own names), to
# say in `doctor` where a server that is not running yet would keep its cache.
BACKEND_VARS = (
    ("SCCACHE_REDIS_ENDPOINT", "Redis"),
    ("SCCACHE_REDIS_CLUSTER_ENDPOINTS", "Redis cluster"),
    ("SCCACHE_REDIS", "Redis"),
    ("SCCACHE_BUCKET", "S3"),
    ("SCCACHE_GCS_BUCKET", "GCS"),
    ("SCCACHE_AZURE_CONNECTION_STRING", "Azure"),
    ("SCCACHE_WEBDAV_ENDPOINT", "WebDAV"),
    ("SCCACHE_GHA_ENABLED", "GitHub Actions cache"),
    ("SCCACHE_MEMCACHED_ENDPOINT", "Memcached"),
    ("SCCACHE_OSS_BUCKET", "Alibaba OSS"),
    ("SCCACHE_COS_BUCKET", "Tencent COS"),
)


def compile_root(cache: Path) -> Path:
    """`<cache>/compile/`: the shared build directory, sccache's disk storage, the locks
    and the server sockets."""
    return cache / "compile"


def user_server(environ: Mapping[str, str]) -> str | None:
    """The address of the user's own server, when they configured one."""
    for var in ("SCCACHE_SERVER_UDS", "SCCACHE_SERVER_PORT"):
        if environ.get(var):
            return f"{var}={environ[var]}"
    return None


def _selects(environ: Mapping[str, str], var: str) -> bool:
    return bool(environ.get(var)) and (
        var != "SCCACHE_GHA_ENABLED" or environ[var] in ("on", "true")
    )


def storage_setting(environ: Mapping[str, str]) -> str | None:
    """The variable that gives sccache a storage of the user's choosing (a backend, or
    SCCACHE_DIR), or None when there is none."""
    for var, _ in BACKEND_VARS:
        if _selects(environ, var):
            return var
    return "SCCACHE_DIR" if environ.get("SCCACHE_DIR") else None


def backend(environ: Mapping[str, str], cache: Path) -> str:
    """Where a server started with `environ` keeps its cache (from the variables only;
    a running server's own answer is `Stats.location`)."""
    for var, name in BACKEND_VARS:
        if _selects(environ, var):
            return f"{name} ({var})"
    return f"local disk {environ.get('SCCACHE_DIR') or compile_root(cache) / 'sccache'}"


@dataclass(frozen=True)
class Server:
    """The server of one build: how its clients reach it (`client_env`, which cargo's
    rustc wrapper gets) and whether worker-build owns it."""

    exe: Path
    client_env: dict[str, str]
    own: bool
    socket: Path | None  # our own server's socket


def _socket_dir(root: Path, name: str) -> Path:
    """Where our socket goes: in the cache directory when the path fits a socket address,
    else in a private directory of this user under the temporary directory."""
    if len(os.fsencode(root / name)) <= _MAX_SOCKET_PATH:
        return root
    private = Path(tempfile.gettempdir()) / f"worker-build-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    st = private.lstat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise WorkerBuildError(
            f"{private} (for sccache's socket) is not a private directory of this user",
            f"remove {private}, or use a shorter WORKER_BUILD_CACHE path",
        )
    return private


def _cache_tag(cache: Path) -> str:
    """A short digest of the cache directory, first in its sockets' names: a socket in the
    shared private directory (long cache paths) still says whose it is."""
    return hashlib.sha256(os.fsencode(os.path.abspath(cache))).hexdigest()[:8]


def own_server(exe: Path, cache: Path, environ: Mapping[str, str]) -> Server:
    """The server of this cache directory for `environ`'s sccache configuration."""
    cache = cache.absolute()  # the server runs in a directory of its own
    config = {k: v for k, v in environ.items() if k.startswith("SCCACHE_") and k not in _NOT_CONFIG}
    root = compile_root(cache)
    if "SCCACHE_DIR" not in config:
        config["SCCACHE_DIR"] = str(root / "sccache")
    ident = json.dumps([os.path.realpath(exe), sorted(config.items())], ensure_ascii=False)
    digest = hashlib.sha256(ident.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = f"sccache-{_cache_tag(cache)}-{digest}.sock"
    path = _socket_dir(root, name) / name
    env = {"SCCACHE_SERVER_UDS": str(path)}
    if "SCCACHE_DIR" not in environ:
        env["SCCACHE_DIR"] = config["SCCACHE_DIR"]
    return Server(exe, env, own=True, socket=path)


def alive(path: Path) -> bool:
    """Whether a server answers on the socket `path` (a connection, nothing sent)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(os.fspath(path))
        except OSError:
            return False
    return True


def ensure_running(server: Server, lock: Path, timeout: float) -> str | None:
    """Start our own server unless it runs; None, or why it could not start (the build
    then compiles without sccache). Under `lock`: sccache replaces the socket of a
    running server when told to start again, which would orphan that one."""
    if not server.own or server.socket is None or alive(server.socket):
        return None
    with locking.exclusive(
        lock,
        timeout,
        held_by="another worker-build is still starting the sccache server",
        fix="wait for it, or raise --lock-timeout",
        what="the sccache server lock",
    ):
        if alive(server.socket):
            return None
        with contextlib.suppress(OSError):
            server.socket.parent.mkdir(parents=True, exist_ok=True)
        result = proc.run([server.exe, "--start-server"], env=server.client_env, check=False)
    if result.returncode == 0:
        return None
    text = (result.stderr or result.stdout).strip().splitlines()
    return text[0] if text else f"sccache --start-server exited with {result.returncode}"


def stop(exe: Path, socket_path: Path) -> bool:
    """Ask the server on `socket_path` to stop; True when one was running."""
    if not alive(socket_path):
        with contextlib.suppress(OSError):
            socket_path.unlink()  # a dead server's socket
        return False
    env = {"SCCACHE_SERVER_UDS": str(socket_path)}
    proc.run([exe, "--stop-server"], env=env, check=False)
    return True


@dataclass(frozen=True)
class Stats:
    """A server's counters (sccache's `--show-stats --stats-format json`)."""

    requests: int
    hits: int
    misses: int
    not_cacheable: int
    errors: int
    location: str

    def since(self, before: Stats | None) -> Stats:
        """The counts of this build: the difference from `before`, or these counts when
        the server started afresh in between (idle timeout)."""
        if before is None or self.requests < before.requests:
            return self
        return Stats(
            self.requests - before.requests,
            self.hits - before.hits,
            self.misses - before.misses,
            self.not_cacheable - before.not_cacheable,
            self.errors - before.errors,
            self.location,
        )

    def facts(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "hits": self.hits,
            "misses": self.misses,
            "not_cacheable": self.not_cacheable,
            "errors": self.errors,
            "location": self.location,
        }


def _total(value: Any) -> int:
    """A counter, or a per-language one (`{"counts": {"Rust": 3}, ...}`), summed."""
    if isinstance(value, dict):
        inner = value.get("counts", {})
        if not isinstance(inner, dict):
            return 0
        return sum(v for v in inner.values() if isinstance(v, int))
    return value if isinstance(value, int) else 0


def parse_stats(text: str) -> Stats | None:
    try:
        doc = json.loads(text)
        counters = doc["stats"]
    except (ValueError, KeyError, TypeError):
        return None
    return Stats(
        requests=_total(counters.get("compile_requests")),
        hits=_total(counters.get("cache_hits")),
        misses=_total(counters.get("cache_misses")),
        not_cacheable=_total(counters.get("requests_not_cacheable"))
        + _total(counters.get("non_cacheable_compilations")),
        errors=_total(counters.get("cache_errors"))
        + _total(counters.get("cache_read_errors"))
        + _total(counters.get("cache_write_errors")),
        location=str(doc.get("cache_location", "?")),
    )


def stats(server: Server) -> Stats | None:
    """The server's counters now; None when it cannot be asked (then the report has no
    counts, and the build goes on)."""
    try:
        argv: list[str | Path] = [server.exe, "--show-stats", "--stats-format", "json"]
        result = proc.run(argv, env=server.client_env, check=False)
    except WorkerBuildError:
        return None
    return parse_stats(result.stdout) if result.returncode == 0 else None


def sockets(cache: Path) -> list[Path]:
    """The sockets of this cache directory's servers, running or left by a dead one."""
    pattern = f"sccache-{_cache_tag(cache)}-*.sock"
    private = Path(tempfile.gettempdir()) / f"worker-build-{os.getuid()}"
    return sorted([*compile_root(cache).glob(pattern), *private.glob(pattern)])
