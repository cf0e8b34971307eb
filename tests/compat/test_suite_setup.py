"""compat/suite_setup.py: the manifest/lock rewriting that replaces upstream's
wasm-bindgen submodule by crates.io, and the extraction from a git copy. Fast: a local
git repository, no cargo, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat import suite_setup as setup
from tests.support.git import git

MANIFEST = """\
[workspace]
members = ["worker", "test"]

[workspace.dependencies]
js-sys = { version = "0.3.104" }
serde = { version = "1.0", features = ["derive"] }
wasm-bindgen = { version = "0.2.127" }
web-sys = { version = "0.3.104", features = [
    "Request",
] }
wasm-bindgen-futures = "0.4.77"

[profile.release]
opt-level = "z"

# local patches
[patch.crates-io]
js-sys = { version = "0.3.104", path = './wasm-bindgen/crates/js-sys' }
wasm-bindgen = { version = "0.2.127", path = './wasm-bindgen' }

[profile.dev]
debug = 1
"""

LOCK = """\
version = 4

[[package]]
name = "js-sys"
version = "0.3.104"
dependencies = ["wasm-bindgen"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "00"

[[package]]
name = "wasm-bindgen"
version = "0.2.127"

[[package]]
name = "wasm-bindgen"
version = "0.2.99"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "11"
"""


def test_patched_crates_and_drop_patch_section() -> None:
    assert setup.patched_crates(MANIFEST) == ["js-sys", "wasm-bindgen"]
    dropped = setup.drop_patch_section(MANIFEST)
    assert "[patch.crates-io]" not in dropped
    assert "path = './wasm-bindgen'" not in dropped
    # everything else is kept byte for byte, including the table after the patch
    assert dropped == MANIFEST.replace(
        "[patch.crates-io]\n"
        "js-sys = { version = \"0.3.104\", path = './wasm-bindgen/crates/js-sys' }\n"
        "wasm-bindgen = { version = \"0.2.127\", path = './wasm-bindgen' }\n\n",
        "",
    )
    assert setup.patched_crates(dropped) == []
    assert setup.drop_patch_section(dropped) == dropped


def test_drop_patch_section_at_end_of_file() -> None:
    text = '[package]\nname = "x"\n\n[patch.crates-io]\nfoo = { path = "foo" }\n'
    assert setup.drop_patch_section(text) == '[package]\nname = "x"\n\n'


def test_pin_workspace_deps_inline_table_plain_string_and_multiline() -> None:
    pinned = setup.pin_workspace_deps(
        setup.drop_patch_section(MANIFEST),
        {"js-sys": "0.3.104", "web-sys": "0.3.104", "wasm-bindgen-futures": "0.4.77"},
    )
    assert 'js-sys = { version = "=0.3.104" }' in pinned
    assert 'web-sys = { version = "=0.3.104", features = [' in pinned
    assert 'wasm-bindgen-futures = "=0.4.77"' in pinned
    assert 'wasm-bindgen = { version = "0.2.127" }' in pinned  # not asked: untouched
    assert 'serde = { version = "1.0", features = ["derive"] }' in pinned


def test_pin_workspace_deps_only_inside_workspace_dependencies() -> None:
    text = '[workspace.dependencies]\na = "1"\n\n[dependencies]\nb = "2"\n'
    with pytest.raises(setup.SetupError, match="cannot pin b"):
        setup.pin_workspace_deps(text, {"b": "2.0.0"})
    with pytest.raises(setup.SetupError, match=r"no \[workspace\.dependencies\]"):
        setup.pin_workspace_deps('[dependencies]\na = "1"\n', {"a": "1.0.0"})


def test_lock_queries() -> None:
    assert setup.unsourced_versions(LOCK, ["js-sys", "wasm-bindgen", "serde"]) == {
        "js-sys": "0.3.104",
        "wasm-bindgen": "0.2.127",
    }
    assert ("wasm-bindgen", "0.2.99") in setup.locked_set(LOCK)
    assert setup.locked_version(LOCK, "serde") == "1.0.200"
    with pytest.raises(setup.SetupError, match="locks 2 versions of wasm-bindgen"):
        setup.locked_version(LOCK, "wasm-bindgen")
    with pytest.raises(setup.SetupError, match="locks 0 versions"):
        setup.locked_version(LOCK, "nope")


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A git repository shaped like workers-rs (no patch section: no cargo needed)."""
    repo = tmp_path / "upstream"
    (repo / "test" / "tests").mkdir(parents=True)
    (repo / "Cargo.toml").write_text('[workspace]\nmembers = ["test"]\n')
    (repo / "Cargo.lock").write_text("version = 4\n")
    (repo / "test" / "Cargo.toml").write_text('[package]\nname = "worker-sandbox"\n')
    (repo / "test" / "tests" / "b.spec.ts").write_text("")
    (repo / "test" / "tests" / "a.spec.ts").write_text("")
    (repo / "test" / "tests" / "mf.ts").write_text("")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "c")
    monkeypatch.setattr(setup, "CACHE", tmp_path / "cache")
    return repo, git(repo, "rev-parse", "HEAD")


def test_ensure_tree_extracts_once_and_reuses(upstream: tuple[Path, str]) -> None:
    repo, commit = upstream
    timings: dict[str, float] = {}
    tree = setup.ensure_tree(repo, commit, timings)
    assert tree == setup.CACHE / f"src-{commit[:12]}"
    assert set(timings) == {"extract", "relock"}
    assert setup.spec_files(tree) == ["a.spec.ts", "b.spec.ts"]
    assert (tree / "node_modules").readlink() == setup.CACHE / "npm" / "node_modules"
    assert not (tree.parent / (tree.name + ".tmp")).exists()
    marker = tree / "test" / "marker"
    marker.write_text("kept")
    again: dict[str, float] = {}
    assert setup.ensure_tree(repo, commit, again) == tree
    assert again == {} and marker.read_text() == "kept"  # reused, not extracted again
    (tree / ".workers-rs-suite").write_text("an older preparation")
    setup.ensure_tree(repo, commit, again)
    assert not marker.exists()  # re-made when the preparation changed


def test_ensure_tree_unknown_commit_or_not_workers_rs(
    upstream: tuple[Path, str], tmp_path: Path
) -> None:
    repo, _ = upstream
    with pytest.raises(setup.SetupError, match=f"commit {'0' * 40} is not in {repo}"):
        setup.ensure_tree(repo, "0" * 40, {})
    (repo / "test" / "Cargo.toml").unlink()
    git(repo, "commit", "-q", "-a", "-m", "no suite")
    with pytest.raises(setup.SetupError, match=r"has no test/Cargo\.toml"):
        setup.ensure_tree(repo, git(repo, "rev-parse", "HEAD"), {})
