"""compat/workers_rs_suite.py: the manifest/lock rewriting that replaces upstream's
wasm-bindgen submodule by crates.io, the extraction from a git copy, the arguments, and
the baseline file --check reads. Fast: a local git repository, no cargo, no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compat"))

import suite_report as sr
import workers_rs_suite as suite

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
    assert suite.patched_crates(MANIFEST) == ["js-sys", "wasm-bindgen"]
    dropped = suite.drop_patch_section(MANIFEST)
    assert "[patch.crates-io]" not in dropped
    assert "path = './wasm-bindgen'" not in dropped
    # everything else is kept byte for byte, including the table after the patch
    assert dropped == MANIFEST.replace(
        "[patch.crates-io]\n"
        "js-sys = { version = \"0.3.104\", path = './wasm-bindgen/crates/js-sys' }\n"
        "wasm-bindgen = { version = \"0.2.127\", path = './wasm-bindgen' }\n\n",
        "",
    )
    assert suite.patched_crates(dropped) == []
    assert suite.drop_patch_section(dropped) == dropped


def test_drop_patch_section_at_end_of_file() -> None:
    text = '[package]\nname = "x"\n\n[patch.crates-io]\nfoo = { path = "foo" }\n'
    assert suite.drop_patch_section(text) == '[package]\nname = "x"\n\n'


def test_pin_workspace_deps_inline_table_plain_string_and_multiline() -> None:
    pinned = suite.pin_workspace_deps(
        suite.drop_patch_section(MANIFEST),
        {"js-sys": "0.3.104", "web-sys": "0.3.104", "wasm-bindgen-futures": "0.4.77"},
    )
    assert 'js-sys = { version = "=0.3.104" }' in pinned
    assert 'web-sys = { version = "=0.3.104", features = [' in pinned
    assert 'wasm-bindgen-futures = "=0.4.77"' in pinned
    assert 'wasm-bindgen = { version = "0.2.127" }' in pinned  # not asked: untouched
    assert 'serde = { version = "1.0", features = ["derive"] }' in pinned


def test_pin_workspace_deps_only_inside_workspace_dependencies() -> None:
    text = '[workspace.dependencies]\na = "1"\n\n[dependencies]\nb = "2"\n'
    with pytest.raises(suite.SetupError, match="cannot pin b"):
        suite.pin_workspace_deps(text, {"b": "2.0.0"})
    with pytest.raises(suite.SetupError, match=r"no \[workspace\.dependencies\]"):
        suite.pin_workspace_deps('[dependencies]\na = "1"\n', {"a": "1.0.0"})


def test_lock_queries() -> None:
    assert suite.unsourced_versions(LOCK, ["js-sys", "wasm-bindgen", "serde"]) == {
        "js-sys": "0.3.104",
        "wasm-bindgen": "0.2.127",
    }
    assert ("wasm-bindgen", "0.2.99") in suite.locked_set(LOCK)
    assert suite.locked_version(LOCK, "serde") == "1.0.200"
    with pytest.raises(suite.SetupError, match="locks 2 versions of wasm-bindgen"):
        suite.locked_version(LOCK, "wasm-bindgen")
    with pytest.raises(suite.SetupError, match="locks 0 versions"):
        suite.locked_version(LOCK, "nope")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


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
    monkeypatch.setattr(suite, "CACHE", tmp_path / "cache")
    return repo, git(repo, "rev-parse", "HEAD")


def test_ensure_tree_extracts_once_and_reuses(upstream: tuple[Path, str]) -> None:
    repo, commit = upstream
    timings: dict[str, float] = {}
    tree = suite.ensure_tree(repo, commit, timings)
    assert tree == suite.CACHE / f"src-{commit[:12]}"
    assert set(timings) == {"extract", "relock"}
    assert suite.spec_files(tree) == ["a.spec.ts", "b.spec.ts"]
    assert (tree / "node_modules").readlink() == suite.CACHE / "npm" / "node_modules"
    assert not (tree.parent / (tree.name + ".tmp")).exists()
    marker = tree / "test" / "marker"
    marker.write_text("kept")
    again: dict[str, float] = {}
    assert suite.ensure_tree(repo, commit, again) == tree
    assert again == {} and marker.read_text() == "kept"  # reused, not extracted again
    (tree / ".workers-rs-suite").write_text("an older preparation")
    suite.ensure_tree(repo, commit, again)
    assert not marker.exists()  # re-made when the preparation changed


def test_ensure_tree_unknown_commit_or_not_workers_rs(
    upstream: tuple[Path, str], tmp_path: Path
) -> None:
    repo, _ = upstream
    with pytest.raises(suite.SetupError, match=f"commit {'0' * 40} is not in {repo}"):
        suite.ensure_tree(repo, "0" * 40, {})
    (repo / "test" / "Cargo.toml").unlink()
    git(repo, "commit", "-q", "-a", "-m", "no suite")
    with pytest.raises(suite.SetupError, match=r"has no test/Cargo\.toml"):
        suite.ensure_tree(repo, git(repo, "rev-parse", "HEAD"), {})


def test_parse_args(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("WORKERS_RS_REPO", raising=False)
    for argv, message in (
        ([], "pass --repo PATH or set WORKERS_RS_REPO"),
        (["--repo", "r", "--modes", "test,bogus"], "unknown mode 'bogus'"),
        (["--repo", "r", "--check"], "--check needs the real tool's results"),
        (["--repo", "r", "--no-ours"], "--no-ours needs --real"),
        (["--repo", "r", "--commit", "bb14171"], "full 40-digit commit id"),
    ):
        with pytest.raises(SystemExit) as exc:
            suite.parse_args(argv)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err
    monkeypatch.setenv("WORKERS_RS_REPO", "/some/repo")
    args = suite.parse_args(["--check", "--baseline", "old.json", "--modes", "test-panic-unwind"])
    assert args.repo == Path("/some/repo")
    assert args.modes == ["test-panic-unwind"]
    assert args.commit == suite.PINNED_COMMIT
    assert args.vitest_arg == ["--testTimeout=30000"]
    args = suite.parse_args(["--test-timeout", "5000", "--vitest-arg=--bail=1"])
    assert args.vitest_arg == ["--testTimeout=5000", "--bail=1"]


def test_baseline_reads_the_real_tools_runs(tmp_path: Path) -> None:
    specs = sr.parse_report(
        {"testResults": [{"name": "/x/a.spec.ts", "status": "passed", "assertionResults": []}]},
        ["a.spec.ts"],
    )
    runs = [
        suite.RunResult("real", "test", ("--dev",), 0, 1.0, True, 0, 2.0, specs),
        suite.RunResult(
            "ours", "test", ("--dev",), 0, 1.0, False, 1, 2.0, sr.not_run(["a.spec.ts"], "x")
        ),
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"runs": [r.to_json() for r in runs]}))
    assert suite.load_baseline(path, ["test", "test-panic-unwind"]) == {"test": specs}
    with pytest.raises(suite.SetupError, match="no results of the real tool"):
        suite.load_baseline(path, ["test-panic-unwind"])


def test_vitest_env_keeps_upstream_options_and_adds_loopback() -> None:
    env = suite.vitest_env({"PATH": "/usr/bin"})
    assert env["WORKERD_ALL_AUTOGATES"] == "1"
    assert env["NODE_OPTIONS"].startswith("--experimental-vm-modules --import file://")
    assert env["NODE_OPTIONS"].endswith("/compat/loopback.mjs")
    assert env["PATH"].split(":")[0] == str(suite.NODE22.parent)
    assert suite.LOOPBACK.is_file()
