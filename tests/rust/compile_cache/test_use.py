"""rust/compile_cache/use.py: what a build uses, decided from the user's settings.
sccache and its server are replaced by recorders here (a real one runs in
tests/integration/test_sccache.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker_build.rust import compile_cache
from worker_build.rust.compile_cache import builddir, use
from worker_build.rust.compile_cache import server as server_mod
from worker_build.rust.compile_cache.server import Server, Stats
from worker_build.tools.tool import Source, Tool
from worker_build.util import locking

SCCACHE = Tool("sccache", Path("/venv/bin/sccache"), "0.16.0", Source.PACKAGE)
SHARED = {"SCCACHE_DIR": "/mnt/shared/sccache"}  # a storage of the user's: sccache runs


class Fake:
    """Records what would reach a real server."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.found: Tool | str = SCCACHE
        self.started: list[Server] = []
        self.start_error: str | None = None
        self.counts = [Stats(10, 4, 6, 0, 0, "Local disk"), Stats(25, 16, 9, 0, 0, "Local disk")]
        monkeypatch.setattr(use.sccache_tool, "find", lambda: self.found)
        monkeypatch.setattr(server_mod, "ensure_running", self.ensure_running)
        monkeypatch.setattr(server_mod, "stats", lambda server: self.counts.pop(0))

    def ensure_running(self, server: Server, lock: Path, timeout: float) -> str | None:
        self.started.append(server)
        return self.start_error


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Fake:
    for var in ("RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "CARGO_BUILD_BUILD_DIR"):
        monkeypatch.delenv(var, raising=False)
    return Fake(monkeypatch)


@pytest.fixture
def crate(tmp_path: Path) -> Path:
    root = tmp_path / "crate"
    root.mkdir()
    (root / "Cargo.lock").write_text('version = 4\n\n[[package]]\nname = "w"\nversion = "0.1.0"\n')
    return root


@contextlib.contextmanager
def prepared(
    tmp_path: Path, crate: Path, environ: dict[str, str], *, args: tuple[str, ...] = (),
    version: str = "1.96.0",
) -> Iterator[compile_cache.CompileCache]:  # fmt: skip
    with contextlib.ExitStack() as stack:
        yield compile_cache.prepare(
            tmp_path / "cache",
            crate_root=crate,
            lockfile=crate / "Cargo.lock",
            rust_version=version,
            cargo_args=args,
            environ=environ,
            timeout=5,
            stack=stack,
        )


def test_by_default_the_shared_build_dir_alone(fake: Fake, tmp_path: Path, crate: Path) -> None:
    """No storage to share with: sccache would only cost (the build dir shares on one
    machine), so none runs, and nothing is said of it but in the report."""
    with prepared(tmp_path, crate, {}) as cache:
        assert fake.started == [] and cache.env == {} and cache.notes == []
        assert cache.build_dir == tmp_path / "cache" / "compile" / "build-dir"
        facts = cache.facts()
    assert facts["sccache"] is None and facts["sccache_reason"] == use.NOT_ASKED


@pytest.mark.parametrize(
    "environ",
    [
        {"SCCACHE_REDIS_ENDPOINT": "redis://127.0.0.1"},
        {"SCCACHE_GHA_ENABLED": "true"},
        {"SCCACHE_DIR": "/mnt/shared/sccache"},
        {"WORKER_BUILD_SCCACHE": "/opt/sccache"},
    ],
)
def test_sccache_runs_when_there_is_a_storage_to_share_with(
    fake: Fake, tmp_path: Path, crate: Path, environ: dict[str, str]
) -> None:
    with prepared(tmp_path, crate, environ) as cache:
        assert cache.env["RUSTC_WRAPPER"] == "/venv/bin/sccache"
    assert not use.sccache_asked({"SCCACHE_GHA_ENABLED": "false"})


def test_with_a_storage_sccache_through_our_server_in_the_shared_build_dir(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    with prepared(tmp_path, crate, SHARED) as cache:
        assert [s.socket for s in fake.started] == [cache.server and cache.server.socket]
        assert cache.env["RUSTC_WRAPPER"] == "/venv/bin/sccache"
        assert cache.env["SCCACHE_SERVER_UDS"].endswith(".sock")
        assert cache.build_dir == tmp_path / "cache" / "compile" / "build-dir"
        assert cache.cargo_args == tuple(builddir.config_arg(cache.build_dir))
        assert cache.notes == []
        facts = cache.facts()
    assert facts["build_dir_state"] == "shared"
    assert facts["sccache"] == {
        "path": "/venv/bin/sccache", "server": "own", "version": "0.16.0",
        "source": "python package", "requests": 15, "hits": 12, "misses": 3,
        "not_cacheable": 0, "errors": 0, "location": "Local disk",
    }  # fmt: skip


def test_the_build_dir_is_let_go_when_cargo_is_done(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    lock = builddir.lock_file(tmp_path / "cache")
    with prepared(tmp_path, crate, {}) as cache:
        with pytest.raises(locking.LockedError), locking.exclusive(lock, 0, held_by="x", fix=""):
            pass
        cache.release_build_dir()
        with locking.exclusive(lock, 0, held_by="x", fix=""):
            pass


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"RUSTC_WRAPPER": "/usr/bin/my-wrapper"}, "RUSTC_WRAPPER=/usr/bin/my-wrapper"),
        ({"RUSTC_WRAPPER": ""}, "RUSTC_WRAPPER="),  # cargo's "no wrapper": also theirs
        ({"CARGO_BUILD_RUSTC_WRAPPER": "w"}, "CARGO_BUILD_RUSTC_WRAPPER=w"),
    ],
)
def test_a_wrapper_of_the_users_own_stays_theirs(
    fake: Fake, tmp_path: Path, crate: Path, environ: dict[str, str], said: str
) -> None:
    with prepared(tmp_path, crate, environ) as cache:
        assert cache.env == {} and fake.started == [] and cache.sccache is None
        assert cache.user_wrapper == said
        assert cache.build_dir is not None  # the build directory is still shared
        assert cache.facts()["wrapper"] == said


def test_the_users_sccache_wrapper_is_asked_for_its_counts(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    with prepared(tmp_path, crate, {"RUSTC_WRAPPER": "/opt/bin/sccache"}) as cache:
        assert cache.env == {} and fake.started == []
        facts = cache.facts()
    assert facts["sccache"]["server"] == "yours" and facts["sccache"]["hits"] == 12


def test_the_users_own_server_is_used_as_it_is(fake: Fake, tmp_path: Path, crate: Path) -> None:
    with prepared(tmp_path, crate, {"SCCACHE_SERVER_PORT": "4400"}) as cache:
        assert fake.started == []  # theirs: nothing started, no address of ours
        assert cache.env == {"RUSTC_WRAPPER": "/venv/bin/sccache"}


def test_without_sccache_the_build_dir_still_shares(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    fake.found = "sccache is not installed (no Python package, none on PATH)"
    with prepared(tmp_path, crate, SHARED) as cache:
        assert cache.env == {} and cache.build_dir is not None
        assert cache.notes == [
            "sccache not used: sccache is not installed (no Python package, none on PATH); "
            "dependencies are shared through the build directory only"
        ]
        assert cache.facts()["sccache"] is None


def test_a_server_that_does_not_start_is_a_note(fake: Fake, tmp_path: Path, crate: Path) -> None:
    fake.start_error = "sccache: error: Timed out waiting for server startup"
    with prepared(tmp_path, crate, {"SCCACHE_REDIS_ENDPOINT": "redis://10.0.0.1"}) as cache:
        assert cache.env == {}
        assert cache.notes == [
            "sccache not used: its server did not start: sccache: error: Timed out waiting "
            "for server startup"
        ]


def test_a_busy_build_dir_means_the_target_dir(fake: Fake, tmp_path: Path, crate: Path) -> None:
    lock = builddir.lock_file(tmp_path / "cache")
    with (
        locking.exclusive(lock, 0, held_by="x", fix=""),
        prepared(tmp_path, crate, SHARED) as cache,
    ):
        assert cache.build_dir is None and cache.cargo_args == ()
        assert cache.build_dir_state == "busy"
        assert cache.env["RUSTC_WRAPPER"]  # sccache still shares
        assert cache.notes == [
            "the shared build directory is busy (another build is compiling there): "
            "compiled in the target directory through sccache"
        ]


def test_the_users_build_dir_and_an_old_cargo(fake: Fake, tmp_path: Path, crate: Path) -> None:
    args = ("--config", 'build.build-dir="/mine"')
    with prepared(tmp_path, crate, {}, args=args) as cache:
        assert cache.build_dir_state == "yours" and cache.cargo_args == ()
    with prepared(tmp_path, crate, {}, version="1.90.0") as cache:
        assert cache.build_dir_state == "old-cargo" and cache.cargo_args == ()
        assert "cargo 1.90.0 has no build.build-dir" in cache.notes[0]


def test_a_moved_workspace_is_compiled_again_with_a_note(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    with prepared(tmp_path, crate, {}):
        pass
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "Cargo.lock").write_text((crate / "Cargo.lock").read_text())
    fake.counts = [Stats(0, 0, 0, 0, 0, "x")] * 2
    with prepared(tmp_path, copy, {}) as cache:
        assert cache.rebuilt == ("w",)
        assert "w compiled again" in cache.notes[0]


def test_a_relative_cache_directory_is_made_absolute(
    fake: Fake, tmp_path: Path, crate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cargo reads `--config build.build-dir` relative to the crate, not to the caller."""
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        cache = compile_cache.prepare(
            Path("cache"), crate_root=crate, lockfile=crate / "Cargo.lock",
            rust_version="1.96.0", cargo_args=(), environ={}, timeout=5, stack=stack,
        )  # fmt: skip
        assert cache.build_dir == tmp_path / "cache" / "compile" / "build-dir"


def test_a_build_that_compiled_nothing_does_not_ask_for_counts(
    fake: Fake, tmp_path: Path, crate: Path
) -> None:
    with prepared(tmp_path, crate, SHARED) as cache:
        fake.counts = []  # asking again would fail the test
        facts = cache.facts(compiled=False)
    assert (facts["sccache"]["hits"], facts["sccache"]["misses"]) == (0, 0)
