"""`worker-build cache [list|prune]` (cli/cache.py) on fake std cache entries."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.support.stdcache import fake_build, settings, spec, toolchain
from worker_build.cli import main
from worker_build.cli.units import format_bytes
from worker_build.errors import EXIT_OK, EXIT_USAGE
from worker_build.rust import stdcache
from worker_build.rust.stdcache import store
from worker_build.util import locking


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def make_entry(tmp_path: Path, opt_level: str, used_days_ago: float) -> stdcache.Entry:
    profile = dict(settings().profile, opt_level=opt_level)
    s = spec(toolchain(tmp_path), settings(profile=profile))
    found, _ = stdcache.ensure(s, fake_build([]), timeout=5)  # type: ignore[arg-type]
    stamp = time.time() - used_days_ago * 86400
    os.utime(found.path / "last-used", (stamp, stamp))
    return found


def run_cache(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main.main(["cache", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_list_empty(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cache(capsys)
    assert code == EXIT_OK
    assert "(no entries)" in out and "0 entries, 0 B" in out


def test_list_shows_entries_sizes_and_state(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = make_entry(tmp_path, "s", 2)
    broken = make_entry(tmp_path, "z", 0)
    (broken.libdir / "libstd-1.rlib").unlink()
    tools = tmp_path / "cache" / "wasm-bindgen" / "0.2.130"
    tools.mkdir(parents=True)
    (tools / "wasm-bindgen").write_bytes(b"x" * 2048)
    code, out, _ = run_cache(capsys, "list")
    assert code == EXIT_OK
    size = sum(p.stat().st_size for p in good.path.rglob("*") if p.is_file())
    assert f"{good.key}  {format_bytes(size):>9}  used 2 days ago  ok" in out
    assert "rustc 1.96.0 (ac68faa20), panic=unwind, opt-level=s" in out
    assert f"{broken.key}" in out and "broken: sysroot/lib/rustlib/" in out
    assert "2 entries" in out and "  wasm-bindgen     2.0 KiB" in out
    code, out, _ = run_cache(capsys, "--json")
    doc = json.loads(out)
    by_key = {e["key"]: e for e in doc["entries"]}
    assert by_key[good.key]["ok"] and by_key[good.key]["bytes"] == size
    assert by_key[good.key]["spec"]["profile"]["opt_level"] == "s"
    assert not by_key[broken.key]["ok"] and doc["other_bytes"] == {"wasm-bindgen": 2048}


def test_the_compile_cache_is_listed_and_pruned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from worker_build.rust.compile_cache import builddir

    cache = tmp_path / "cache"
    dep = builddir.location(cache) / "release" / "deps" / "libx.rlib"
    dep.parent.mkdir(parents=True)
    dep.write_bytes(b"x" * 3072)
    builddir.used_file(cache).touch()
    code, out, _ = run_cache(capsys)
    assert code == EXIT_OK
    assert f"compile cache: {cache / 'compile'}" in out
    assert "  build directory    3.0 KiB  used 0 min ago" in out
    assert "  sccache storage        0 B  0 files; 0 servers running" in out
    doc = json.loads(run_cache(capsys, "--json")[1])["compile_cache"]
    assert doc["build_dir_bytes"] == 3072 and doc["servers"] == []
    assert "compile" not in json.loads(run_cache(capsys, "--json")[1])["other_bytes"]
    code, out, _ = run_cache(capsys, "prune")  # used just now: kept
    assert out == "nothing to remove\n"
    code, out, _ = run_cache(capsys, "prune", "--all")
    assert f"{builddir.location(cache)}    3.0 KiB  (all)" in out
    assert not builddir.location(cache).exists()


def test_prune_removes_broken_stale_and_leftovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = make_entry(tmp_path, "s", 1)
    old = make_entry(tmp_path, "z", 45)
    broken = make_entry(tmp_path, "3", 0)
    (broken.path / "entry.json").unlink()
    leftover = stdcache.root() / f".tmp-{'a' * 20}-killed"
    leftover.mkdir()
    code, out, _ = run_cache(capsys, "prune", "--dry-run")
    assert code == EXIT_OK and out.startswith("would remove 3 item(s)")
    assert old.path.exists() and leftover.exists()
    code, out, _ = run_cache(capsys, "prune")
    assert code == EXIT_OK and out.startswith("removed 3 item(s)")
    assert "(incomplete (no entry.json))" in out and "(unused for 45 days)" in out
    assert "(left by a killed build)" in out
    assert fresh.path.exists() and not old.path.exists() and not broken.path.exists()
    assert not leftover.exists()
    code, out, _ = run_cache(capsys, "prune", "--older-than", "0.5")
    assert not fresh.path.exists() and "removed 1 item(s)" in out


def test_prune_keeps_an_entry_a_build_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = make_entry(tmp_path, "s", 1)
    with locking.exclusive(store.lock_file(busy.key), 0, held_by="t", fix=""):
        code, out, _ = run_cache(capsys, "prune", "--all")
    assert code == EXIT_OK and busy.path.exists()
    assert f"kept (a build is using them): {busy.key}" in out
    code, out, _ = run_cache(capsys, "prune", "--all")
    assert not busy.path.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["frob"],
        ["list", "--all"],
        ["prune", "--json"],
        ["prune", "--all", "--older-than", "3"],
        ["prune", "--older-than", "-1"],
        ["prune", "--older-than", "soon"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = run_cache(capsys, *args)
    assert code == EXIT_USAGE and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cache(capsys, "--help")
    assert code == EXIT_OK and out.startswith("Usage: worker-build cache")
    assert "prune" in out and "list" in out
    code, out, _ = run_cache(capsys, "prune", "-h")
    assert code == EXIT_OK and "--older-than DAYS" in out and "--dry-run" in out
