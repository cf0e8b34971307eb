"""The pure parts of doctor's checks (cli/doctor_checks.py); the checks on a fake
machine run through the command in test_doctor.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker_build.cli import doctor_checks


@pytest.mark.parametrize(
    ("version", "runs"),
    [
        ((20, 20, 2), False),
        ((22, 22, 2), False),
        ((22, 22, 3), True),
        ((23, 11, 0), False),
        ((24, 14, 0), False),
        ((24, 15, 0), True),
        ((25, 0, 0), True),
        ((26, 1, 0), True),
        ((), False),
    ],
)
def test_node_exnref_floor(version: tuple[int, ...], runs: bool) -> None:
    assert doctor_checks.node_runs_exnref(version) is runs


def test_compile_cache_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from worker_build.build.options import RawArgs, resolve
    from worker_build.rust.compile_cache import use
    from worker_build.tools.sccache import FIX as SCCACHE_FIX

    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    for var in ("RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "CARGO_BUILD_BUILD_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(use.sccache_tool, "find", lambda: "sccache is not installed")
    monkeypatch.delenv("SCCACHE_REDIS_ENDPOINT", raising=False)
    monkeypatch.delenv("SCCACHE_DIR", raising=False)
    opts = resolve(RawArgs(), tmp_path, {})
    check = doctor_checks.check_compile_cache(opts, tmp_path, "1.96.0")
    assert check.status is doctor_checks.Status.OK  # no storage to share with: none needed
    assert check.detail.startswith(f"no sccache: {use.NOT_ASKED}; ")
    monkeypatch.setenv("SCCACHE_REDIS_ENDPOINT", "redis://127.0.0.1")
    check = doctor_checks.check_compile_cache(opts, tmp_path, "1.96.0")
    assert check.status is doctor_checks.Status.WARN and check.fix == SCCACHE_FIX
    assert check.detail == (
        "no sccache: sccache is not installed; dependencies compile in the shared build "
        f"directory {tmp_path / 'cache' / 'compile' / 'build-dir'}"
    )
    monkeypatch.setenv("RUSTC_WRAPPER", "/usr/bin/my-wrapper")
    check = doctor_checks.check_compile_cache(opts, tmp_path, "1.90.0")
    assert check.status is doctor_checks.Status.OK
    assert check.detail == (
        "your rustc wrapper (RUSTC_WRAPPER=/usr/bin/my-wrapper), not worker-build's sccache; "
        "dependencies compile in the target directory (cargo 1.90.0 has no build.build-dir)"
    )
    off = resolve(RawArgs(no_compile_cache=True), tmp_path, {})
    assert doctor_checks.check_compile_cache(off, tmp_path, "1.96.0").detail.startswith("off")
