"""rust/compile_cache/builddir.py: the shared build directory's argument, the user's
own settings, and forgetting the packages of a workspace that moved. A real cargo in
the shared build directory runs in tests/integration/test_compile_cache.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from worker_build.rust.compile_cache import builddir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize("path", ["/c/build-dir", '/c/"quoted" \\ dir', "/c/ünïcode/dir"])
def test_the_argument_is_a_toml_string_of_the_path(path: str) -> None:
    flag, value = builddir.config_arg(Path(path))
    assert flag == "--config"
    key, _, toml_value = value.partition("=")
    assert key == "build.build-dir"
    assert tomllib.loads(f"v = {toml_value}")["v"] == path


def test_cargo_1_91_is_the_first_with_a_build_dir() -> None:
    assert builddir.supported("1.96.0") and builddir.supported("1.91.0-nightly")
    assert not builddir.supported("1.90.0") and not builddir.supported("dev")


def test_a_setting_of_the_users_own_is_found_where_cargo_reads_it(tmp_path: Path) -> None:
    def found(args: list[str], env: dict[str, str], files: list[Path]) -> str | None:
        return builddir.cargo_setting("build.build-dir", "CARGO_BUILD_BUILD_DIR", args, env, files)

    assert found([], {}, []) is None
    assert found(["--config", 'build.build-dir="/x"'], {}, []) == '--config build.build-dir="/x"'
    assert found(['--config=build.build-dir="/x"'], {}, []) is not None
    assert found(["--config", "build.jobs=2"], {}, []) is None
    assert found([], {"CARGO_BUILD_BUILD_DIR": "/x"}, []) == "CARGO_BUILD_BUILD_DIR=/x"
    config = tmp_path / ".cargo" / "config.toml"
    config.parent.mkdir()
    config.write_text('[build]\nbuild-dir = "/x"\n')
    assert found([], {}, [config]) == f"build.build-dir in {config}"
    extra = tmp_path / "extra.toml"  # `--config FILE`, which cargo also accepts
    extra.write_text('build.build-dir = "/y"\n')
    assert found(["--config", str(extra)], {}, []) == f"build.build-dir in {extra}"
    broken = tmp_path / "broken.toml"
    broken.write_text("[build\n")
    assert found([], {}, [broken]) is None  # cargo itself reports a broken file


def test_local_packages_are_the_ones_locked_without_a_source(tmp_path: Path) -> None:
    lock = tmp_path / "Cargo.lock"
    lock.write_text(
        'version = 4\n\n[[package]]\nname = "my-worker"\nversion = "0.1.0"\n\n'
        '[[package]]\nname = "helper"\nversion = "0.1.0"\n\n'
        '[[package]]\nname = "serde"\nversion = "1.0.0"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n\n'
        '[[package]]\nname = "last"\nversion = "0.1.0"\n\n'
        '[[patch.unused]]\nname = "p"\nversion = "1.0.0"\nsource = "git+https://x"\n'
    )
    assert builddir.local_packages(lock) == ["helper", "last", "my-worker"]
    assert builddir.local_packages(tmp_path / "missing.lock") == []


def fingerprint(build_dir: Path, where: str, name: str) -> Path:
    path = build_dir / where / ".fingerprint" / name
    path.mkdir(parents=True)
    return path


def test_packages_built_from_another_workspace_root_are_compiled_again(tmp_path: Path) -> None:
    """cargo names a workspace's own packages by their path relative to its root: a copy
    of the workspace elsewhere maps to the same files, so a copy with older sources
    would be taken for fresh. Their fingerprints go when the root changed."""
    cache = tmp_path / "cache"
    build_dir = builddir.location(cache)
    build_dir.mkdir(parents=True)
    first, second = tmp_path / "one", tmp_path / "twö"
    assert builddir.forget_moved(cache, first, ["my-worker"]) == []  # never built here
    mine = fingerprint(build_dir, "wasm32-unknown-unknown/release", "my-worker-0123456789abcdef")
    host = fingerprint(build_dir, "release", "my-worker-fedcba9876543210")
    other = fingerprint(build_dir, "release", "my-worker-macros-0123456789abcdef")
    dep = fingerprint(build_dir, "wasm32-unknown-unknown/release", "serde-0123456789abcdef")
    assert builddir.forget_moved(cache, first, ["my-worker"]) == []  # same root: kept
    assert mine.is_dir()
    assert builddir.forget_moved(cache, second, ["my-worker"]) == ["my-worker"]
    assert not mine.exists() and not host.exists()
    assert other.is_dir() and dep.is_dir()  # another package, a dependency: kept
    record = json.loads((cache / "compile" / builddir.ROOTS_FILE).read_text())
    assert record == {"my-worker": str(second)}
    assert builddir.forget_moved(cache, second, ["my-worker"]) == []


def test_a_lost_record_forgets_every_workspace_package(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mine = fingerprint(builddir.location(cache), "release", "my-worker-0123456789abcdef")
    # a build directory with content but no record of where its packages came from
    assert builddir.forget_moved(cache, tmp_path / "x", ["my-worker"]) == ["my-worker"]
    assert not mine.exists()
    (cache / "compile" / builddir.ROOTS_FILE).write_text("[not a record")
    assert builddir.forget_moved(cache, tmp_path / "x", ["my-worker"]) == ["my-worker"]
