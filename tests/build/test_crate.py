from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cratefix import GOOD_MANIFEST, lock, write_crate
from worker_build.build.crate import (
    LockNeeded,
    load_crate,
    parse_version,
    read_lock,
    read_manifest,
    refresh,
)
from worker_build.errors import EXIT_CRATE, CrateError


def test_good_crate(tmp_path: Path) -> None:
    crate = load_crate(write_crate(tmp_path / "c"))
    assert crate.package_name == "my-worker"
    assert crate.lib_name == "my_worker"
    assert crate.wasm_bindgen_version == "0.2.130"
    assert crate.worker_version == "0.8.7"


def test_manifest_path_is_accepted(tmp_path: Path) -> None:
    root = write_crate(tmp_path / "c")
    assert load_crate(root / "Cargo.toml").root == root.resolve()


def test_lib_name_override(tmp_path: Path) -> None:
    manifest = GOOD_MANIFEST.replace(
        'crate-type = ["cdylib"]', 'name = "custom-lib"\ncrate-type = ["cdylib", "rlib"]'
    )
    assert load_crate(write_crate(tmp_path / "c", manifest)).lib_name == "custom_lib"


def test_workspace_lockfile_in_parent(tmp_path: Path) -> None:
    (tmp_path / "Cargo.lock").write_text(lock(worker="0.8.1", wasm_bindgen="0.2.125"))
    crate = load_crate(write_crate(tmp_path / "member", lockfile=""))
    assert crate.lockfile == tmp_path / "Cargo.lock"
    assert crate.wasm_bindgen_version == "0.2.125"


def test_plain_wasm_bindgen_crate_has_no_worker(tmp_path: Path) -> None:
    crate = load_crate(write_crate(tmp_path / "c", lockfile=lock(wasm_bindgen="0.2.130")))
    assert crate.worker_version is None


@pytest.mark.parametrize(
    ("manifest", "lockfile", "message", "fix"),
    [
        (None, None, "no Cargo.toml", "crate's directory"),
        ("[package\nname=", None, "is not valid TOML", "syntax"),
        ("[workspace]\nmembers = []\n", None, "has no [package] name", "not the workspace"),
        (
            GOOD_MANIFEST.replace('crate-type = ["cdylib"]', 'crate-type = ["rlib"]'),
            None,
            'does not include "cdylib"',
            'crate-type = ["cdylib"]',
        ),
        (GOOD_MANIFEST, "", "no Cargo.lock", "cargo update --workspace"),
        (
            GOOD_MANIFEST,
            lock(worker="0.8.7"),
            "does not lock wasm-bindgen",
            "cargo update --workspace",
        ),
        (
            GOOD_MANIFEST,
            lock(worker="0.8.7", wasm_bindgen="0.2.100"),
            "too old",
            "cargo update -p wasm-bindgen",
        ),
        (
            GOOD_MANIFEST,
            lock(worker="0.7.5", wasm_bindgen="0.2.130"),
            "worker 0.7.5 is not supported",
            "cargo update -p worker",
        ),
        (
            GOOD_MANIFEST,
            lock(wasm_bindgen="0.2.130") + lock(wasm_bindgen="0.2.125").replace("version = 4", ""),
            "several versions of wasm-bindgen",
            "cargo update -p wasm-bindgen",
        ),
    ],
)
def test_preflight_errors(
    tmp_path: Path, manifest: str | None, lockfile: str | None, message: str, fix: str
) -> None:
    root = tmp_path / "c"
    if manifest is None:
        root.mkdir()
    else:
        write_crate(root, manifest, lockfile)
    with pytest.raises(CrateError) as info:
        load_crate(root)
    assert message in info.value.message
    assert info.value.fix is not None and fix in info.value.fix
    assert info.value.exit_code == EXIT_CRATE
    assert "\n" not in info.value.message


def test_parse_version() -> None:
    assert parse_version("0.2.130") == (0, 2, 130)
    assert parse_version("1.0.0-beta.1") == (1, 0, 0)
    assert parse_version("2") == (2, 0, 0)
    with pytest.raises(CrateError):
        parse_version("x.y")


@pytest.mark.parametrize(
    ("lockfile", "found"),
    [("", None), (lock(worker="0.8.7"), "Cargo.lock")],
)
def test_a_missing_or_incomplete_lock_file_is_left_to_cargo(
    tmp_path: Path, lockfile: str, found: str | None
) -> None:
    """Not an error at pre-flight: the build has cargo write it (steps/lockfile.py)."""
    root = write_crate(tmp_path / "c", lockfile=lockfile)
    needed = read_lock(read_manifest(root))
    assert isinstance(needed, LockNeeded)
    assert needed.crate.package_name == "my-worker" and needed.crate.root == root.resolve()
    assert needed.lockfile == (root / found if found else None)


def test_refresh_reads_the_lock_file_cargo_rewrote(tmp_path: Path) -> None:
    root = write_crate(tmp_path / "c")
    crate = load_crate(root)
    assert refresh(crate) is crate  # unchanged: not read again
    (root / "Cargo.lock").write_text(lock(worker="0.8.7", wasm_bindgen="0.2.131"))
    assert refresh(crate).wasm_bindgen_version == "0.2.131"
