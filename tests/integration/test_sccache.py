"""A user's RUSTC_WRAPPER (sccache) keeps working with worker-build's RUSTC pinning and
the std cache's rustc wrapper (issue 11 part 3).

Debian's `sccache` (setup.sh installs it) on its local disk backend, in a directory of
this test, with a server of its own on a free port, started and stopped here. Two cold
builds of pure-exports in fresh target directories: the second is served from sccache.
The target directory is given with `--target-dir`: sccache keys include every CARGO_*
environment variable, so a CARGO_TARGET_DIR that changes would defeat it.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.paths import SAMPLES
from tests.support.builds import require_tool, tool_env, worker_build

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sccache(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    exe = require_tool("sccache")
    env = tool_env()
    env.pop("CARGO_TARGET_DIR", None)
    env.update(
        RUSTC_WRAPPER=exe,
        SCCACHE_DIR=str(tmp_path / "sccache"),
        SCCACHE_SERVER_PORT=str(free_port()),
        SCCACHE_CACHE_SIZE="2G",
        SCCACHE_IDLE_TIMEOUT="0",
    )
    for var in ("SCCACHE_BUCKET", "SCCACHE_REDIS", "SCCACHE_GCS_BUCKET", "SCCACHE_ENDPOINT"):
        env.pop(var, None)
    subprocess.run([exe, "--start-server"], env=env, check=True, capture_output=True, text=True)
    try:
        yield exe, env
    finally:
        subprocess.run([exe, "--stop-server"], env=env, capture_output=True, check=False)


def stats(exe: str, env: dict[str, str]) -> dict[str, int]:
    out = subprocess.run(
        [exe, "--show-stats", "--stats-format", "json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    doc = json.loads(out)["stats"]

    def total(value: object) -> int:
        if isinstance(value, dict):  # per language, e.g. {"counts": {"rust": 3}}
            inner = value.get("counts", value)
            return sum(total(v) for v in inner.values()) if isinstance(inner, dict) else 0
        return int(value) if isinstance(value, int) else 0

    return {
        "requests": total(doc["compile_requests"]),
        "hits": total(doc["cache_hits"]),
        "misses": total(doc["cache_misses"]),
        "errors": total(doc.get("cache_errors", 0)),
    }


def test_second_cold_build_is_served_from_sccache(
    sccache: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    exe, env = sccache

    def build(n: int) -> dict:
        proc = worker_build(
            SAMPLES / "pure-exports",
            "--panic-unwind",
            "--no-loader",
            "--json",
            "--out-dir",
            tmp_path / f"out{n}",
            "--",
            "--target-dir",
            tmp_path / f"target{n}",
            env=env,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout)

    first = build(1)
    assert first["std"]["source"] == "cache"  # through the std cache's rustc wrapper
    after_first = stats(exe, env)
    assert after_first["misses"] > 0, after_first  # sccache really saw the compilations
    subprocess.run([exe, "--zero-stats"], env=env, check=True, capture_output=True)
    second = build(2)
    got = stats(exe, env)
    # every cacheable compilation (rlibs: host and wasm32) is a hit; the cdylib and
    # the proc-macros are not cacheable (sccache counts them apart)
    assert got["hits"] >= 8 and got["misses"] == 0 and got["errors"] == 0, got
    assert second["std"]["built"] is False  # the entry the first build used or built
    assert (second["std"]["key"], second["std"]["path"]) == (
        first["std"]["key"],
        first["std"]["path"],
    )
    for n in (1, 2):  # std came from the std cache: no std crate in either target dir
        deps = tmp_path / f"target{n}" / "wasm32-unknown-unknown" / "release" / "deps"
        assert list(deps.glob("libwasm_bindgen-*.rlib"))
        assert not list(deps.glob("libcore-*")) and not list(deps.glob("libstd-*"))
    a = (tmp_path / "out1" / "index_bg.wasm").read_bytes()
    assert a == (tmp_path / "out2" / "index_bg.wasm").read_bytes()
