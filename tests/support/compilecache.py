"""Machines for the compile cache's integration tests: a cache directory of the test's
own (its shared build directory, its sccache server and local storage), crates copied
from the samples, and what a build reports and its module holds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.paths import SAMPLES
from tests.support.builds import VENV_BIN, tool_env, wasm_bindgen_for, worker_build
from worker_build.rust.compile_cache import server as server_mod
from worker_build.tools import sccache
from worker_build.util.cachedir import cache_root

# What a caller's environment must not bring into these builds: each would select a
# wrapper, a server, a build or target directory of its own.
DROPPED = ("CARGO_TARGET_DIR", "RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER",
           "CARGO_BUILD_BUILD_DIR", "WORKER_BUILD_SCCACHE")  # fmt: skip


def copy_crate(sample: str, dest: Path, package: str | None = None) -> Path:
    """sample-crates/<sample> copied to `dest` (mtimes kept, as `cp -a` or a restored
    archive), renamed to `package` if given."""
    shutil.copytree(SAMPLES / sample, dest, ignore=shutil.ignore_patterns("target", "build"))
    if package is not None:
        for name in ("Cargo.toml", "Cargo.lock"):
            path = dest / name
            path.write_text(path.read_text().replace(f'name = "{sample}"', f'name = "{package}"'))
    return dest


@dataclass
class Machine:
    """One machine: a cache directory and the environment of its builds."""

    cache: Path
    env: dict[str, str] = field(default_factory=dict)

    def build(self, crate: Path, *flags: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        """A successful `--release --no-loader --json` build of `crate`; its report."""
        proc = worker_build(crate, "--no-loader", "--json", *flags, env={**self.env, **(env or {})})
        assert proc.returncode == 0, proc.stderr[-6000:]
        report: dict[str, Any] = json.loads(proc.stdout)
        return report

    def stop_servers(self) -> None:
        """Stop this cache directory's sccache servers (they would idle for minutes)."""
        found = sccache.find()
        assert not isinstance(found, str), found
        for socket in server_mod.sockets(self.cache):
            server_mod.stop(found.path, socket)


def machine(
    cache: Path, crate: Path, *, shared_std: bool = True, sccache_storage: bool = True
) -> Machine:
    """A machine whose cache is `cache`. `shared_std`: its std cache is the user's (a
    symlink), so std entries the session built are used as any build here would use
    them; the compile cache is the test's own either way. `sccache_storage`: SCCACHE_DIR
    names sccache's usual place in it, as a user who wants sccache on one machine does
    (without a storage configured, builds run no sccache)."""
    env = tool_env()
    for var in DROPPED:
        env.pop(var, None)
    for var in [v for v in env if v.startswith("SCCACHE_")]:
        env.pop(var)
    env["WASM_BINDGEN_BIN"] = str(wasm_bindgen_for(crate))  # the tools' cache is the user's
    if shared_std:
        users = cache_root() / "std"
        users.mkdir(parents=True, exist_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "std").symlink_to(users)
    env["WORKER_BUILD_CACHE"] = str(cache)
    if sccache_storage:
        env["SCCACHE_DIR"] = str(cache / "compile" / "sccache")
    return Machine(cache, env)


def verify(wasm: Path) -> dict[str, Any]:
    """`worker-build verify --json`: the EH encodings the module holds."""
    proc = subprocess.run(
        [str(VENV_BIN / "worker-build"), "verify", str(wasm), "--json"],
        capture_output=True, text=True, check=False, env=tool_env(),
    )  # fmt: skip
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


def exports(wasm: Path) -> list[str]:
    from worker_build.wasm.module import parse_module

    return sorted(e.name for e in parse_module(wasm.read_bytes()).exports)


def sccache_counts(report: dict[str, Any]) -> dict[str, int]:
    sccache = report["compile_cache"]["sccache"]
    assert sccache is not None, report["compile_cache"]
    return {k: sccache[k] for k in ("requests", "hits", "misses")}


@pytest.fixture
def own_machine(tmp_path: Path) -> Any:
    """Yields a factory of machines under tmp_path, stopping their servers afterwards."""
    made: list[Machine] = []

    def make(
        name: str, crate: Path, *, shared_std: bool = True, sccache_storage: bool = True
    ) -> Machine:
        m = machine(tmp_path / name, crate, shared_std=shared_std, sccache_storage=sccache_storage)
        made.append(m)
        return m

    yield make
    for m in made:
        m.stop_servers()


def touch_old(path: Path, like: Path) -> None:
    """Give `path` the mtime of `like` (an edit that does not look newer)."""
    st = like.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
