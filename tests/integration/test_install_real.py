"""worker-build installed as a user installs it, used in a project of their own (slow, and
`registry`: it goes to PyPI, crates.io and npm as a new user's first build does).

A wheel built from this tree (`python -m build`) is installed with its `pytest` extra into a
fresh virtualenv outside the checkout. A sample Worker is copied as users copy an example:
into a directory whose path has spaces and non-ASCII letters, without its Cargo.lock. Then,
with nothing of the checkout on PATH (no `node_modules/.bin`, no `.venv/bin`), the crate's
own wrangler `[build] command` runs in its directory, as wrangler runs it; the build's
`loader.py` serves the Worker and it answers; the pytest plugin does the same in a test
session of the project's own.

Only cargo's target directory is shared with the fixtures' hello-worker build, to spare a
cold compile of the dependencies; worker-build itself reads nothing of the checkout.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from harness.paths import CACHE, REPO, SAMPLES
from tests.support.builds import copy_crate, tool_env
from worker_build.build.crate import load_crate

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

pytestmark = [
    pytest.mark.slow,
    pytest.mark.registry(
        reason="a new user's install and first build: python -m build fetches hatchling and "
        "pip the wheel's dependencies from PyPI, cargo resolves the new Cargo.lock against "
        "crates.io, and worker-build fetches the npm tools its cache lacks (esbuild, wasm-opt, "
        "workerd)"
    ),
]

SERVE = """
import json, loader
with loader.serve() as worker:
    answers = [worker.fetch(path) for path in ("/", "/do/increment", "/do/increment")]
    print(json.dumps([[r.status, r.text] for r in answers]))
"""

PLUGIN_TEST = """
def test_root(worker):
    response = worker.fetch("/")
    assert response.status == 200, response.text
    assert response.text == "hello from hello-worker"
"""


def _user_env(venv_bin: Path) -> dict[str, str]:
    """The caller's environment without anything of the checkout: its tool directories
    leave PATH, and the new virtualenv's bin comes first, as after `source venv/bin/activate`."""
    caller = tool_env()
    path = [p for p in caller["PATH"].split(os.pathsep) if p and str(REPO) not in p]
    env = {k: v for k, v in caller.items() if str(REPO) not in v}
    env.pop("PYTHONPATH", None)
    env["PATH"] = os.pathsep.join([str(venv_bin), *path])
    env["VIRTUAL_ENV"] = str(venv_bin.parent)
    return env


def _wheel(dist: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("worker_build-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    templates = sorted(p.name for p in (REPO / "templates").iterdir() if p.is_file())
    assert sorted(n.rsplit("/", 1)[1] for n in names if "/templates/" in n) == templates
    assert not [n for n in names if n.split("/")[0] in ("tests", "harness", "node_modules")]
    return wheel


def test_a_wheel_in_a_fresh_venv_builds_and_serves_a_copied_crate(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path / "dist")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    subprocess.run(
        [bin_dir / "python", "-m", "pip", "install", "-q", f"{wheel}[pytest]"],
        check=True,
        capture_output=True,
    )
    env = _user_env(bin_dir)
    where = subprocess.run(
        [bin_dir / "python", "-c", "import json, sys, worker_build; "
         "print(json.dumps([worker_build.__file__, sys.path]))"],
        env=env, cwd=tmp_path, check=True, capture_output=True, text=True,
    )  # fmt: skip
    package, search_path = json.loads(where.stdout)
    assert Path(package).is_relative_to(env_dir), package
    assert not [p for p in search_path if str(REPO) in p]  # no editable install's path entry

    crate = copy_crate("hello-worker", tmp_path / "my wörk dïr" / "hello wörker", lock=False)
    # The CLI setup.sh installed: a wasm-bindgen newer than it on crates.io would turn this
    # into a cargo install of minutes (unreachable prebuilt downloads on these machines).
    locked = load_crate(SAMPLES / "hello-worker").wasm_bindgen_version
    manifest = crate / "Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace(
            "[dependencies]\n", f'[dependencies]\nwasm-bindgen = "={locked}"\n'
        )
    )
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "hello-worker-unwind")
    wrangler = tomllib.loads((crate / "wrangler.toml").read_text(encoding="utf-8"))
    command = shlex.split(wrangler["build"]["command"])
    assert command[0] == "worker-build"
    built = subprocess.run(
        command, cwd=crate, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    assert built.returncode == 0, built.stderr[-4000:]
    assert load_crate(crate).wasm_bindgen_version == locked
    assert f"{crate / 'Cargo.lock'} created by `cargo update --workspace`" in built.stderr

    served = subprocess.run(
        [bin_dir / "python", "-c", SERVE],
        cwd=crate / "build", env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert served.returncode == 0, served.stderr[-4000:]
    assert json.loads(served.stdout) == [
        [200, "hello from hello-worker"], [200, "1"], [200, "2"],
    ]  # fmt: skip

    # The pytest plugin, from the extra: the session's build is a no-op of the same flags.
    (crate / "test_worker.py").write_text(PLUGIN_TEST)
    (crate / "pytest.ini").write_text(
        "[pytest]\nworker_build_args = " + shlex.join(command[1:]) + "\n"
    )
    tested = subprocess.run(
        [bin_dir / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=crate, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "1 passed" in tested.stdout
