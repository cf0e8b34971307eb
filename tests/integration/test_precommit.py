"""The pre-commit hooks (.pre-commit-hooks.yaml), run by the real `pre-commit try-repo`.

Each test makes a temporary git repository holding a copy of sample-crates/pure-exports
and runs this repository's hooks on it, as a user trying them would. pre-commit
installs worker-build from this repository into its own virtualenv (from PyPI for
the dependencies), then runs `worker-build` and `worker-build verify
build/index_bg.wasm` in the temporary repository.

`--ref` pins the hooks to this repository's HEAD commit, i.e. what a user's
`rev:` would name: uncommitted changes here are not what is tested.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.paths import CACHE, REPO, SAMPLES
from tests.support.builds import VENV_BIN, require_tool, tool_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.registry(
        reason="pre-commit installs the hooks' environment as it does for a user: pip "
        "fetches worker-build's dependencies (and its build backend) from PyPI"
    ),
]

BUILD_HOOK = "worker-build (build the Worker)"
VERIFY_HOOK = "worker-build verify (the module can unwind)"
UNWIND_METADATA = "\n[package.metadata.worker-build]\npanic-unwind = true\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def make_repo(tmp_path: Path, *, unwind: bool) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(
        SAMPLES / "pure-exports", repo, ignore=shutil.ignore_patterns("target", "build")
    )
    if unwind:
        with (repo / "Cargo.toml").open("a") as fh:
            fh.write(UNWIND_METADATA)
    (repo / "README.md").write_text("# a Worker\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    return repo


def try_repo(
    repo: Path, tmp_path: Path, variant: str, *args: str
) -> subprocess.CompletedProcess[str]:
    pre_commit = require_tool(VENV_BIN / "pre-commit")
    env = tool_env()
    # Share the sample's cargo target dir (std for wasm32 is already built there).
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / f"pure-exports-{variant}")
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    env["NO_COLOR"] = "1"
    head = git(REPO, "rev-parse", "HEAD")
    return subprocess.run(
        [pre_commit, "try-repo", str(REPO), "--ref", head, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def hook_result(output: str, hook: str) -> str:
    """'Passed', 'Failed' or 'Skipped' from pre-commit's line for `hook`."""
    for line in output.splitlines():
        if line.startswith(hook + "."):
            return line.rstrip(".").rsplit(".", 1)[-1].replace("(no files to check)", "")
    raise AssertionError(f"no result line for {hook!r} in:\n{output}")


def test_hooks_pass_on_a_panic_unwind_crate(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, unwind=True)
    proc = try_repo(repo, tmp_path, "unwind", "--all-files")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert hook_result(out, BUILD_HOOK) == "Passed"
    assert hook_result(out, VERIFY_HOOK) == "Passed"
    assert (repo / "build" / "index_bg.wasm").is_file()
    # the build hook left nothing for git to see (build/ ignores itself)
    assert git(repo, "status", "--porcelain") == "\n".join(
        f"A  {p}" for p in ("Cargo.lock", "Cargo.toml", "README.md", "src/lib.rs")
    )


def test_verify_hook_fails_clearly_when_the_build_lacks_eh(tmp_path: Path) -> None:
    """The regression the verify hook exists for: the crate is no longer built with
    panic=unwind (its Cargo.toml lost `panic-unwind = true`), so the build succeeds
    with a module that cannot catch a panic. The commit must be refused."""
    repo = make_repo(tmp_path, unwind=False)
    proc = try_repo(repo, tmp_path, "abort", "--all-files")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert hook_result(out, BUILD_HOOK) == "Passed"
    assert hook_result(out, VERIFY_HOOK) == "Failed"
    verify_part = out.split(VERIFY_HOOK, 1)[1]
    assert "- exit code: 6" in verify_part
    # a clear message: one error line naming the file, the cause and the fix
    errors = [line for line in verify_part.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, verify_part
    assert "index_bg.wasm" in errors[0] and "panic=abort" in errors[0], errors[0]
    assert "--panic-unwind" in errors[0], errors[0]


def test_hooks_skip_commits_without_rust_changes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, unwind=True)
    proc = try_repo(repo, tmp_path, "unwind", "--files", "README.md")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert hook_result(out, BUILD_HOOK) == "Skipped"
    assert hook_result(out, VERIFY_HOOK) == "Skipped"
    assert not (repo / "build").exists()
