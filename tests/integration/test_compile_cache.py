"""The compile cache with the real cargo and sccache: dependencies compiled once in the
shared build directory, never a wrong artifact, and the fallbacks.

Each test has a cache directory of its own (its build directory, its sccache server
and storage); std cache entries are the user's (tests/support/compilecache.py), so
only the two settings that need a std entry nothing else builds (a toolchain and
RUSTFLAGS of their own) compile std, once per machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.compilecache import (
    Machine,
    copy_crate,
    exports,
    own_machine,
    sccache_counts,
    touch_old,
    verify,
)
from tests.support.fakes import fake_exe
from worker_build.rust.compile_cache import builddir, use
from worker_build.rust.compile_cache import server as server_mod
from worker_build.util import locking

pytestmark = pytest.mark.slow
_machine = own_machine  # the fixture, under a name of this module
Make = Callable[..., Machine]


def rlibs(target: Path) -> list[Path]:
    return list(target.rglob("*.rlib"))


def test_a_second_crate_finds_its_dependencies_compiled(own_machine: Make, tmp_path: Path) -> None:
    # non-ASCII paths: the build dir in cargo's --config, sccache's socket and storage
    first = copy_crate("pure-exports", tmp_path / "fïrst")
    second = copy_crate("pure-exports", tmp_path / "sécond", package="second-crate")
    m = own_machine("cäche", first)
    one = m.build(first, "--panic-unwind")
    assert one["compile_cache"]["build_dir_state"] == "shared"
    assert sccache_counts(one)["requests"] > 5  # wasm-bindgen and its dependencies
    two = m.build(second, "--panic-unwind")
    # only the crate itself was compiled: its dependencies were fresh in the build dir
    assert sccache_counts(two)["requests"] <= 1, two["compile_cache"]
    assert rlibs(second / "target") == []  # intermediate files live in the build dir
    assert (
        second / "target" / "wasm32-unknown-unknown" / "release" / "second_crate.wasm"
    ).is_file()
    assert verify(second / "build" / "index_bg.wasm")["encodings"] == ["legacy"]
    # a no-op rebuild compiles nothing
    again = m.build(second, "--panic-unwind")
    assert sccache_counts(again)["requests"] == 0


def dependency_rlibs(m: Machine) -> dict[str, int]:
    """Every rlib in the machine's shared build directory, with its mtime."""
    built = builddir.location(m.cache)
    return {str(p.relative_to(built)): p.stat().st_mtime_ns for p in built.rglob("*.rlib")}


def test_by_default_the_build_dir_alone_shares_and_no_sccache_runs(
    own_machine: Make, tmp_path: Path
) -> None:
    """No sccache storage configured: the second crate's dependencies are fresh in the
    shared build directory (not one of them compiled again), and no sccache server
    was started."""
    first = copy_crate("pure-exports", tmp_path / "fïrst")
    second = copy_crate("pure-exports", tmp_path / "sécond", package="second-crate")
    m = own_machine("cäche", first, sccache_storage=False)
    one = m.build(first, "--panic-unwind")
    assert one["compile_cache"]["sccache"] is None
    assert one["compile_cache"]["sccache_reason"] == use.NOT_ASKED
    before = dependency_rlibs(m)
    assert len(before) > 5  # wasm-bindgen and its dependencies
    m.build(second, "--panic-unwind")
    after = dependency_rlibs(m)
    assert {k: after[k] for k in before} == before  # none compiled again
    assert all("second_crate" in name for name in set(after) - set(before))
    assert server_mod.sockets(m.cache) == []
    assert verify(second / "build" / "index_bg.wasm")["encodings"] == ["legacy"]


def fake_toolchain(bindir: Path) -> Path:
    """Another compiler: Debian's rustc with exnref as its default EH encoding, and a
    `-vV` of its own (another commit), as a compiler built otherwise would have."""
    rustc = fake_exe(
        bindir / "rustc",
        "\n".join(
            [
                'if [ "$*" = "-vV" ]; then',
                "  /usr/bin/rustc -vV | sed 's/^commit-hash: .*/commit-hash: 0000000001/'",
                "  exit",
                "fi",
                'exec /usr/bin/rustc -Cllvm-args=-wasm-use-legacy-eh=false "$@"',
            ]
        ),
    )
    (bindir / "cargo").symlink_to("/usr/bin/cargo")
    return rustc


def test_one_crate_in_many_settings_never_gets_an_artifact_of_another(
    own_machine: Make, tmp_path: Path
) -> None:
    """Panic strategy, EH encoding, RUSTFLAGS, the profile and the toolchain each
    compile apart in one build directory and one sccache: every module holds the EH
    its own settings give, also when a setting comes back after another."""
    crate = copy_crate("pure-exports", tmp_path / "crate")
    manifest = crate / "Cargo.toml"
    manifest.write_text(manifest.read_text() + '\n[profile.small]\ninherits = "release"\n')
    m = own_machine("cache", crate)
    out = crate / "build" / "index_bg.wasm"
    exnref_flags = {"RUSTFLAGS": "-Cllvm-args=-wasm-use-legacy-eh=false"}
    other_toolchain = ["--panic-unwind", "--rustc", str(fake_toolchain(tmp_path / "tc"))]
    settings: list[tuple[str, list[str], dict[str, str], list[str], bool]] = [
        ("unwind", ["--panic-unwind"], {}, ["legacy"], True),
        ("abort", [], {}, [], False),
        ("exnref", ["--panic-unwind", "--eh-encoding", "exnref"], {}, ["exnref"], True),
        ("rustflags", ["--panic-unwind"], exnref_flags, ["exnref"], True),
        ("unwind again", ["--panic-unwind"], {}, ["legacy"], True),
        ("toolchain", other_toolchain, {}, ["exnref"], True),
        ("unwind once more", ["--panic-unwind"], {}, ["legacy"], True),
    ]
    for name, flags, env, encodings, unwinds in settings:
        report = m.build(crate, *flags, env=env)
        found = verify(out)
        if unwinds:
            assert found["encodings"] == encodings, name
        assert found["can_unwind"] is unwinds, name
        assert report["compile_cache"]["build_dir_state"] == "shared", name
    # the profile: the crate's own code in another profile, with its own artifact
    plain = out.read_bytes()
    manifest.write_text(manifest.read_text() + 'opt-level = "z"\n')
    m.build(crate, "--panic-unwind", "--profile", "small")
    assert verify(out)["encodings"] == ["legacy"] and out.read_bytes() != plain
    m.build(crate, "--panic-unwind")
    assert out.read_bytes() == plain


def test_a_copy_of_the_workspace_elsewhere_is_compiled_from_its_own_sources(
    own_machine: Make, tmp_path: Path
) -> None:
    """cargo names a workspace's packages by their path relative to the workspace root,
    so two copies share names in one build directory; a copy whose sources are not
    newer than the other's build must not get that build."""
    a = copy_crate("pure-exports", tmp_path / "a")
    m = own_machine("cache", a)
    m.build(a, "--panic-unwind")
    b = tmp_path / "b"
    shutil.copytree(a, b, ignore=shutil.ignore_patterns("target", "build"))
    lib = b / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\n#[wasm_bindgen]\npub fn only_in_b() -> u32 { 7 }\n")
    touch_old(lib, a / "src" / "lib.rs")  # as old as the sources the build dir saw
    report = m.build(b, "--panic-unwind")
    assert report["compile_cache"]["rebuilt_workspace_packages"] == ["pure-exports"]
    assert "only_in_b" in exports(b / "build" / "index_bg.wasm")
    report = m.build(a, "--panic-unwind")
    assert "only_in_b" not in exports(a / "build" / "index_bg.wasm")


def test_a_busy_build_dir_builds_in_the_target_dir(own_machine: Make, tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "crate")
    m = own_machine("cache", crate)
    with locking.exclusive(builddir.lock_file(m.cache), 0, held_by="test", fix=""):
        report = m.build(crate, "--panic-unwind")
    assert report["compile_cache"]["build_dir_state"] == "busy"
    assert "the shared build directory is busy" in " ".join(report["notes"])
    assert rlibs(crate / "target")  # cargo's own layout, as without the compile cache
    assert verify(crate / "build" / "index_bg.wasm")["encodings"] == ["legacy"]


def test_no_compile_cache_is_cargo_as_it_is(own_machine: Make, tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "crate")
    m = own_machine("cache", crate)
    report = m.build(crate, "--panic-unwind", "--no-compile-cache")
    assert "compile_cache" not in report
    assert rlibs(crate / "target")
    assert not (m.cache / "compile").exists()
