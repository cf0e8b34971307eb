"""prebuilt.py: URLs per platform and mirror, checksum sources, obtain() into the cache."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.mirror import (
    Mirror,
    Redirect,
    member,
    release_tgz,
    script,
    serving,
    sha256sum_line,
    tar_gz,
)
from worker_build.errors import EXIT_USAGE, DownloadError, UsageError, VerificationError
from worker_build.tools import prebuilt
from worker_build.tools.download import Fetcher, Silent

V = "0.2.130"
TARGET = "x86_64-unknown-linux-musl"
NAME = f"wasm-bindgen-{V}-{TARGET}.tar.gz"
ARCHIVE = release_tgz(
    f"wasm-bindgen-{V}-{TARGET}",
    {"wasm-bindgen": script(f"wasm-bindgen {V}"), "LICENSE-MIT": b"mit"},
    executables=("wasm-bindgen",),
)


def fetcher() -> Fetcher:
    return Fetcher(sleep=lambda _s: None, progress=Silent())


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(prebuilt, "host", lambda: ("linux", "x86_64"))
    for var in (
        prebuilt.WASM_BINDGEN_MIRROR_VAR,
        prebuilt.BINARYEN_MIRROR_VAR,
        prebuilt.NPM_REGISTRY_VAR,
        "npm_config_registry",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    with serving(Mirror()) as m:
        monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, f"{m.base}/wb/")
        yield m


def publish(m: Mirror, archive: bytes = ARCHIVE, checksum: bytes | None = None) -> None:
    m.file(f"/wb/{V}/{NAME}", archive)
    m.file(f"/wb/{V}/{NAME}.sha256sum", checksum or sha256sum_line(archive, f"gh-release/{NAME}"))


def asset() -> prebuilt.Asset:
    found = prebuilt.wasm_bindgen(V)
    assert found is not None
    return found


def no_check(_binary: Path) -> None:
    pass


def test_upstream_urls_and_cache_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wb, wo, eb = prebuilt.wasm_bindgen(V), prebuilt.binaryen("132"), prebuilt.esbuild("0.28.2")
    assert wb and wo and eb
    assert wb.url == (
        "https://github.com/wasm-bindgen/wasm-bindgen/releases/download/"
        f"{V}/wasm-bindgen-{V}-x86_64-unknown-linux-musl.tar.gz"
    )
    assert wo.url == (
        "https://github.com/WebAssembly/binaryen/releases/download/"
        "version_132/binaryen-version_132-x86_64-linux.tar.gz"
    )
    assert eb.url == "https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-0.28.2.tgz"
    cache = tmp_path / "cache"
    assert wb.path == cache / "wasm-bindgen" / f"{V}-x86_64-unknown-linux-musl" / "wasm-bindgen"
    assert wo.path == cache / "binaryen" / "132-x86_64-linux" / "bin" / "wasm-opt"
    assert eb.path == cache / "esbuild" / "0.28.2-linux-x64" / "bin" / "esbuild"
    monkeypatch.setattr(prebuilt, "host", lambda: ("darwin", "aarch64"))
    assert "aarch64-apple-darwin" in (prebuilt.wasm_bindgen(V) or wb).url
    assert "arm64-macos" in (prebuilt.binaryen("132") or wo).url
    assert "darwin-arm64" in (prebuilt.esbuild("0.28.2") or eb).url
    monkeypatch.setattr(prebuilt, "host", lambda: ("windows", "x86_64"))
    assert (prebuilt.wasm_bindgen(V) or wb).binary == "wasm-bindgen.exe"
    assert (prebuilt.esbuild("0.28.2") or eb).binary == "esbuild.exe"
    monkeypatch.setattr(prebuilt, "host", lambda: ("haiku", "riscv64"))
    assert prebuilt.wasm_bindgen(V) is None and prebuilt.esbuild("0.28.2") is None


def test_mirror_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, "https://m.example/wb/")
    monkeypatch.setenv(prebuilt.BINARYEN_MIRROR_VAR, "https://m.example/binaryen")
    monkeypatch.setenv("npm_config_registry", "https://npm.example/")
    assert asset().url == f"https://m.example/wb/{V}/{NAME}"
    assert (prebuilt.binaryen("132") or asset()).url.startswith(
        "https://m.example/binaryen/version_132/"
    )
    assert (prebuilt.esbuild("0.28.2") or asset()).url.startswith("https://npm.example/@esbuild/")
    monkeypatch.setenv(prebuilt.NPM_REGISTRY_VAR, "https://ours.example")
    assert (prebuilt.esbuild("0.28.2") or asset()).url.startswith("https://ours.example/@esbuild/")


def test_obtain_verifies_unpacks_and_records(mirror: Mirror) -> None:
    publish(mirror)
    checked: list[Path] = []
    path = prebuilt.obtain(asset(), fetcher(), checked.append)
    assert path == asset().path and path.read_bytes() == script(f"wasm-bindgen {V}")
    assert checked and checked[0].name == "wasm-bindgen" and checked[0] != path  # in staging
    record = json.loads((path.parent / prebuilt.RECORD_NAME).read_text())
    assert record["sha256"] == hashlib.sha256(ARCHIVE).hexdigest()
    assert record["url"] == asset().url and record["bytes"] == len(ARCHIVE)
    assert [p.name for p in path.parent.parent.iterdir()] == [path.parent.name]


def test_checksum_mismatch_caches_nothing(mirror: Mirror) -> None:
    other = hashlib.sha256(b"something else").hexdigest()
    publish(mirror, checksum=f"{other}  {NAME}\n".encode())
    with pytest.raises(VerificationError) as info:
        prebuilt.obtain(asset(), fetcher(), no_check)
    message = info.value.one_line()
    assert f"expected sha256:{other}" in message
    assert f"got sha256:{hashlib.sha256(ARCHIVE).hexdigest()} ({len(ARCHIVE)} bytes)" in message
    assert f"from {mirror.base}/wb/{V}/{NAME}.sha256sum" in message
    assert "\n" not in message
    assert list((asset().directory.parent).iterdir()) == []


@pytest.mark.parametrize(
    "checksum",
    [b"<html>not found</html>", b"abc123  " + NAME.encode(), b"0" * 64 + b"  other.tar.gz\n"],
)
def test_a_checksum_file_that_is_not_one(mirror: Mirror, checksum: bytes) -> None:
    publish(mirror, checksum=checksum)
    with pytest.raises(VerificationError, match="is not a sha256 checksum of"):
        prebuilt.obtain(asset(), fetcher(), no_check)
    assert mirror.hits(f"/wb/{V}/{NAME}") == 0  # the archive was never fetched


def test_no_checksum_published_is_a_download_error(mirror: Mirror) -> None:
    mirror.file(f"/wb/{V}/{NAME}", ARCHIVE)
    with pytest.raises(DownloadError, match="HTTP 404"):
        prebuilt.obtain(asset(), fetcher(), no_check)
    assert mirror.hits(f"/wb/{V}/{NAME}") == 0  # never fetched unverifiable bytes


def test_an_archive_with_a_link_caches_nothing(mirror: Mirror) -> None:
    top = f"wasm-bindgen-{V}-{TARGET}"
    evil = tar_gz(
        [
            (member(f"{top}/wasm-bindgen", mode=0o755), script(f"wasm-bindgen {V}")),
            member(f"{top}/x", b"2", link="/etc/passwd"),
        ]
    )
    publish(mirror, archive=evil)
    with pytest.raises(VerificationError, match="holds a link"):
        prebuilt.obtain(asset(), fetcher(), no_check)
    assert list((asset().directory.parent).iterdir()) == []


def test_a_failed_check_caches_nothing(mirror: Mirror) -> None:
    publish(mirror)

    def wrong(_binary: Path) -> None:
        raise VerificationError("reports 0.2.100")

    with pytest.raises(VerificationError, match=r"reports 0\.2\.100"):
        prebuilt.obtain(asset(), fetcher(), wrong)
    assert list((asset().directory.parent).iterdir()) == []


def test_archive_without_the_binary(mirror: Mirror) -> None:
    publish(mirror, archive=release_tgz("top", {"README.md": b"x"}, ()))
    with pytest.raises(VerificationError, match="has no wasm-bindgen"):
        prebuilt.obtain(asset(), fetcher(), no_check)


def test_two_downloads_racing_keep_one_complete_copy(mirror: Mirror) -> None:
    """B runs start to finish while A sits between its check and its rename (inside
    A's check): A's rename then finds B's directory and A returns it."""
    publish(mirror)
    order: list[str] = []

    def check_a(_binary: Path) -> None:
        order.append("A checked")
        assert prebuilt.obtain(asset(), fetcher(), lambda _b: order.append("B checked"))
        order.append("B installed")

    path = prebuilt.obtain(asset(), fetcher(), check_a)
    assert order == ["A checked", "B checked", "B installed"]
    assert path == asset().path and path.is_file()
    assert [p.name for p in asset().directory.parent.iterdir()] == [asset().directory.name]
    assert mirror.hits(f"/wb/{V}/{NAME}") == 2


def test_a_half_written_leftover_does_not_count(mirror: Mirror) -> None:
    """A build killed mid-download leaves a staging dir with a .part file; it is not
    the cache entry, and the next download proceeds."""
    leftover = asset().directory.parent / f".{asset().directory.name}.killed"
    leftover.mkdir(parents=True)
    (leftover / "archive.tar.gz.part").write_bytes(ARCHIVE[:100])
    young = leftover.with_name(leftover.name + "-young")
    young.mkdir()
    old = 2 * prebuilt.STALE_STAGING_SECONDS
    os.utime(leftover, (time.time() - old, time.time() - old))
    publish(mirror)
    assert prebuilt.obtain(asset(), fetcher(), no_check).is_file()
    assert not leftover.exists(), "a day-old staging dir is swept"
    assert young.is_dir(), "a young one may be a concurrent download: kept"


def test_other_versions_are_kept(mirror: Mirror) -> None:
    old = asset().directory.parent / f"0.2.125-{TARGET}" / "wasm-bindgen"
    old.parent.mkdir(parents=True)
    old.write_text("old")
    publish(mirror)
    prebuilt.obtain(asset(), fetcher(), no_check)
    assert old.read_text() == "old"


def test_npm_integrity(monkeypatch: pytest.MonkeyPatch) -> None:
    tgz = release_tgz("package", {"bin/esbuild": script("0.28.2")}, ("bin/esbuild",))
    sri = "sha512-" + base64.b64encode(hashlib.sha512(tgz).digest()).decode()
    with serving(Mirror()) as m:
        monkeypatch.setenv(prebuilt.NPM_REGISTRY_VAR, m.base)
        m.file("/@esbuild/linux-x64/0.28.2", json.dumps({"dist": {"integrity": sri}}).encode())
        m.file("/@esbuild/linux-x64/-/linux-x64-0.28.2.tgz", tgz)
        eb = prebuilt.esbuild("0.28.2")
        assert eb is not None
        assert prebuilt.obtain(eb, fetcher(), no_check) == eb.path
        assert json.loads((eb.directory / prebuilt.RECORD_NAME).read_text())["sha512"] == (
            hashlib.sha512(tgz).hexdigest()
        )


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"dist": {"integrity": "sha512-" + base64.b64encode(b"x" * 64).decode()}}, "expected"),
        ({"dist": {"integrity": "sha1-" + base64.b64encode(b"x" * 20).decode()}}, "only sha512"),
        ({"dist": {}}, "no usable dist.integrity"),
        ({"dist": {"integrity": "sha512-***"}}, "no usable dist.integrity"),
    ],
)
def test_npm_integrity_failures(
    monkeypatch: pytest.MonkeyPatch, metadata: dict[str, object], error: str
) -> None:
    tgz = release_tgz("package", {"bin/esbuild": script("0.28.2")}, ("bin/esbuild",))
    with serving(Mirror()) as m:
        monkeypatch.setenv(prebuilt.NPM_REGISTRY_VAR, m.base)
        m.file("/@esbuild/linux-x64/0.28.2", json.dumps(metadata).encode())
        m.file("/@esbuild/linux-x64/-/linux-x64-0.28.2.tgz", tgz)
        eb = prebuilt.esbuild("0.28.2")
        assert eb is not None
        with pytest.raises(VerificationError, match=error) as info:
            prebuilt.obtain(eb, fetcher(), no_check)
        if error == "expected":
            assert "expected sha512-eHh4" in info.value.message and "got sha512-" in (
                info.value.message
            )
        assert not eb.directory.exists()


def test_a_redirect_is_followed(mirror: Mirror) -> None:
    """GitHub answers a release download with a 302 to its object store."""
    publish(mirror)
    mirror.route(f"/wb/{V}/{NAME}", Redirect(f"{mirror.base}/objects/abc123"))
    mirror.file("/objects/abc123", ARCHIVE)
    assert prebuilt.obtain(asset(), fetcher(), no_check).is_file()
    assert mirror.hits("/objects/abc123") == 1


def test_a_file_url_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory with the release files, for a machine with no network at all."""
    files = tmp_path / "mirror" / V
    files.mkdir(parents=True)
    (files / NAME).write_bytes(ARCHIVE)
    (files / f"{NAME}.sha256sum").write_bytes(sha256sum_line(ARCHIVE, NAME))
    monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, (tmp_path / "mirror").as_uri())
    assert prebuilt.obtain(asset(), fetcher(), no_check).is_file()
    monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, (tmp_path / "empty").as_uri())
    sleeps: list[float] = []
    quick = Fetcher(sleep=sleeps.append, progress=Silent())
    with pytest.raises(DownloadError, match="is not available: no file"):
        prebuilt.obtain(prebuilt.wasm_bindgen("0.2.131") or asset(), quick, no_check)
    assert sleeps == []  # a missing file is not retried


@pytest.mark.parametrize("var", [prebuilt.WASM_BINDGEN_MIRROR_VAR, "npm_config_registry"])
def test_a_mirror_setting_that_is_not_a_url(monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, "mirror.corp.example/releases")
    with pytest.raises(UsageError, match=f"{var}=mirror.corp.example/releases is not a URL") as e:
        prebuilt.wasm_bindgen(V) if var.startswith("WORKER") else prebuilt.esbuild("0.28.2")
    assert e.value.exit_code == EXIT_USAGE
