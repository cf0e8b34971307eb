"""harness/realtool.py: our worker-build's snapshot of the committed HEAD, and the real
worker-build's install (reused when the asked version is there). On a scratch git
repository and a stand-in `nice`: no cargo, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness import realtool
from tests.support.git import git

UNCOMMITTED = " (working tree has uncommitted changes, not measured)"


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = tmp_path / "repo"
    (repo / "worker_build").mkdir(parents=True)
    (repo / "templates").mkdir()
    (repo / "worker_build" / "__init__.py").write_text("VERSION = 'committed'\n")
    (repo / "templates" / "shim.js").write_text("// shim\n")
    (repo / "README.md").write_text("not part of the snapshot\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "c")
    monkeypatch.setattr(realtool, "REPO", repo)
    monkeypatch.setattr(realtool, "BENCH", tmp_path / "bench")
    return repo


def test_snapshot_is_the_committed_package_and_templates(checkout: Path, tmp_path: Path) -> None:
    commit = git(checkout, "rev-parse", "HEAD")
    dest, label = realtool.snapshot_ours()
    assert dest == tmp_path / "bench" / "ours-src" / commit
    assert label == commit
    assert sorted(p.name for p in dest.iterdir()) == ["templates", "worker_build"]
    assert (dest / "templates" / "shim.js").read_text() == "// shim\n"
    assert list((dest / "worker_build" / "__pycache__").glob("__init__.*.pyc"))  # compiled

    (dest / "marker").write_text("")
    (checkout / "worker_build" / "__init__.py").write_text("VERSION = 'edited'\n")
    again, label = realtool.snapshot_ours()
    assert again == dest and (dest / "marker").exists()  # reused, not extracted again
    assert label == commit + UNCOMMITTED
    assert "committed" in (dest / "worker_build" / "__init__.py").read_text()


def test_install_real_reuses_the_asked_version_else_runs_cargo_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realtool, "BENCH", tmp_path / "bench")
    exe = tmp_path / "bench" / "real-worker-build" / "bin" / "worker-build"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\necho 0.8.7\n")
    exe.chmod(0o755)
    calls = tmp_path / "nice-calls"
    fake = tmp_path / "fake-bin" / "nice"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$* | $CARGO_TARGET_DIR" >> "{calls}"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(fake.parent), os.environ["PATH"]]))

    assert realtool.install_real("0.8.7") == exe
    assert not calls.exists()
    assert realtool.install_real("0.8.6") == exe
    root = tmp_path / "bench" / "real-worker-build"
    assert calls.read_text().splitlines() == [
        f"-n 10 cargo install worker-build --version 0.8.6 --locked --force --root {root}"
        f" | {tmp_path / 'bench' / 'install-target'}"
    ]
