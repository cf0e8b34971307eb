"""rust/compile_cache/server.py: which server a build uses and reading its counts.
A real server runs in tests/integration/test_sccache.py; here only names, variables
and sccache's JSON."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker_build.rust.compile_cache import server
from worker_build.rust.compile_cache.server import Stats

EXE = Path("/opt/sccache")


@pytest.fixture
def short(tmp_path: Path) -> Iterator[Path]:
    """A directory with a short path (pytest's are long enough to need the private one)."""
    path = Path(tempfile.mkdtemp(prefix="wb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_each_cache_directory_and_configuration_gets_its_own_socket(short: Path) -> None:
    tmp_path = short
    a = server.own_server(EXE, tmp_path / "a", {})
    assert a.own and a.socket is not None
    assert a.socket.parent == tmp_path / "a" / "compile"
    assert a.client_env == {
        "SCCACHE_SERVER_UDS": str(a.socket),
        "SCCACHE_DIR": str(tmp_path / "a" / "compile" / "sccache"),
    }
    assert server.own_server(EXE, tmp_path / "a", {}) == a  # the same name every build
    b = server.own_server(EXE, tmp_path / "b", {})
    assert b.socket != a.socket  # two cache directories: two machines
    redis = server.own_server(EXE, tmp_path / "a", {"SCCACHE_REDIS_ENDPOINT": "redis://h"})
    assert redis.socket != a.socket  # another backend: another server, never a reconfigured one
    # what only locates a server or says what it logs is not its configuration
    logged = server.own_server(EXE, tmp_path / "a", {"SCCACHE_LOG": "debug"})
    assert logged.socket == a.socket
    assert server.sockets(tmp_path / "a") == []  # nothing listens yet


def test_the_users_sccache_dir_passes_through(tmp_path: Path) -> None:
    own = server.own_server(EXE, tmp_path, {"SCCACHE_DIR": "/shared/sccache"})
    assert "SCCACHE_DIR" not in own.client_env  # theirs, untouched
    assert own.socket != server.own_server(EXE, tmp_path, {}).socket


def test_a_long_cache_path_puts_the_socket_in_a_private_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("ä" * 60) / "cache"  # non-ASCII: 120 bytes for 60 characters
    own = server.own_server(EXE, deep, {})
    assert own.socket is not None and len(bytes(own.socket)) <= 108
    assert own.socket.parent.name.startswith("worker-build-")
    assert own.socket.parent.stat().st_mode & 0o077 == 0
    own.socket.parent.joinpath(own.socket.name).touch()
    try:
        assert server.sockets(deep) == [own.socket]  # found again by its cache's tag
        assert server.sockets(tmp_path / "other") == []
    finally:
        own.socket.unlink()


def test_alive_means_something_listens(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    assert not server.alive(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(1)
        assert server.alive(path)
    assert not server.alive(path)  # a socket file nobody listens on


def test_the_users_own_server_and_the_backend_in_use() -> None:
    assert server.user_server({}) is None
    assert server.user_server({"SCCACHE_SERVER_PORT": "4300"}) == "SCCACHE_SERVER_PORT=4300"
    cache = Path("/c")
    assert server.backend({}, cache) == "local disk /c/compile/sccache"
    assert server.backend({"SCCACHE_DIR": "/d"}, cache) == "local disk /d"
    assert server.backend({"SCCACHE_REDIS_ENDPOINT": "redis://x"}, cache).startswith("Redis")
    assert server.backend({"SCCACHE_GHA_ENABLED": "true"}, cache).startswith("GitHub Actions")
    assert server.backend({"SCCACHE_GHA_ENABLED": "false"}, cache).startswith("local disk")


def stats_json(**counters: object) -> str:
    return json.dumps({"stats": counters, "cache_location": "Redis: redis://127.0.0.1:1"})


def test_counts_are_read_from_sccaches_json() -> None:
    got = server.parse_stats(
        stats_json(
            compile_requests=10,
            cache_hits={"counts": {"Rust": 6, "C/C++": 1}, "adv_counts": {}},
            cache_misses={"counts": {"Rust": 2}},
            requests_not_cacheable=1,
            non_cacheable_compilations=0,
            cache_errors={"counts": {}},
            cache_read_errors=1,
        )
    )
    assert got == Stats(10, 7, 2, 1, 1, "Redis: redis://127.0.0.1:1")
    assert server.parse_stats("not json") is None
    assert server.parse_stats("{}") is None


@pytest.mark.parametrize(
    ("before", "want"),
    [
        (Stats(4, 1, 2, 1, 0, "x"), Stats(6, 5, 1, 0, 0, "x")),
        (None, Stats(10, 6, 3, 1, 0, "x")),
        # the server stopped (idle) and a new one started during the build: its counts
        (Stats(50, 40, 10, 0, 0, "x"), Stats(10, 6, 3, 1, 0, "x")),
    ],
)
def test_a_builds_counts_are_the_difference(before: Stats | None, want: Stats) -> None:
    assert Stats(10, 6, 3, 1, 0, "x").since(before) == want


def test_a_relative_cache_directory_becomes_absolute(
    short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sccache's server runs in a directory of its own: a relative socket or storage path
    would point elsewhere."""
    monkeypatch.chdir(short)
    own = server.own_server(EXE, Path("cache"), {})
    assert own.socket == short / "cache" / "compile" / own.socket.name
    assert own.client_env["SCCACHE_DIR"] == str(short / "cache" / "compile" / "sccache")
