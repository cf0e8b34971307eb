"""download.py against a loopback mirror: retries, failures by kind, proxies, progress.

Every interleaving is scripted per request (tests/mirror.py); the backoff's sleep
is recorded, never waited for.
"""

from __future__ import annotations

import errno
import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.mirror import (
    ConnectProxy,
    Mirror,
    Reset,
    Serve,
    Status,
    Truncate,
    connect_proxy,
    self_signed_cert,
    serving,
)
from tests.support.progress import RecordingProgress as Recorder
from worker_build.errors import DownloadError, ToolMissingError
from worker_build.tools import download
from worker_build.tools.download import Fetcher

BODY = bytes(range(256)) * 1000  # 256 kB: several chunks


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with serving(Mirror()) as m:
        yield m


def fetcher(sleeps: list[float], progress: Recorder | None = None, attempts: int = 5) -> Fetcher:
    return Fetcher(attempts=attempts, sleep=sleeps.append, progress=progress or Recorder())


def test_good_file_streams_to_dest_with_its_digest(mirror: Mirror, tmp_path: Path) -> None:
    mirror.file("/a.tgz", BODY)
    rec, sleeps = Recorder(), []
    got = fetcher(sleeps, rec).fetch_file(f"{mirror.base}/a.tgz", tmp_path / "a", "A", "sha256")
    assert got.path.read_bytes() == BODY and got.size == len(BODY)
    assert got.digest == hashlib.sha256(BODY).digest()
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no .part left
    assert rec.events[0] == ("started", "A", f"{mirror.base}/a.tgz", len(BODY))
    assert rec.events[-2] == ("advanced", len(BODY), len(BODY)) and rec.events[-1] == ("ended",)
    assert sleeps == []


@pytest.mark.parametrize("first", [Status(500), Status(503), Reset(), Truncate(BODY, 1000)])
def test_a_transient_failure_is_retried_after_a_backoff(
    mirror: Mirror, tmp_path: Path, first: Status | Reset | Truncate
) -> None:
    mirror.route("/a.tgz", first, Serve(BODY))
    rec, sleeps = Recorder(), []
    got = fetcher(sleeps, rec).fetch_file(f"{mirror.base}/a.tgz", tmp_path / "a", "A", "sha512")
    assert got.digest == hashlib.sha512(BODY).digest()
    assert mirror.hits("/a.tgz") == 2 and sleeps == [0.5]
    notes = [e[1] for e in rec.events if e[0] == "note"]
    assert len(notes) == 1 and "retrying in 0.5s (attempt 2 of 5)" in notes[0]


def test_truncated_every_time_gives_up_with_nothing_left(mirror: Mirror, tmp_path: Path) -> None:
    mirror.route("/a.tgz", Truncate(BODY, 70_000))
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match="failed after 5 attempts") as info:
        fetcher(sleeps).fetch_file(f"{mirror.base}/a.tgz", tmp_path / "a", "A", "sha256")
    assert f"of {len(BODY)} bytes" in info.value.message
    assert mirror.hits("/a.tgz") == 5 and sleeps == [0.5, 1, 2, 4]
    assert list(tmp_path.iterdir()) == [], "a half download never stays"


def test_not_found_is_not_retried(mirror: Mirror, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        fetcher(sleeps).fetch_bytes(f"{mirror.base}/nope.sha256", "A")
    assert mirror.hits("/nope.sha256") == 1 and sleeps == []
    assert "mirror setting" in (info.value.fix or "")


def test_unknown_host_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*_args: object, **_kw: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    sleeps: list[float] = []
    with pytest.raises(
        DownloadError, match=re.escape("host of http://releases.example/x not found")
    ):
        fetcher(sleeps).fetch_bytes("http://releases.example/x", "A")
    assert sleeps == []


def test_small_files_have_a_size_limit(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "SMALL_LIMIT", 1000)
    mirror.file("/big.sha256", BODY)
    with pytest.raises(DownloadError, match="too large"):
        fetcher([]).fetch_bytes(f"{mirror.base}/big.sha256", "A")


def test_full_disk_is_not_retried_and_leaves_nothing(
    mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk:
        def __init__(self, path: Path) -> None:
            self.path = path
            path.write_bytes(b"")

        def write(self, _data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self) -> FullDisk:
            return self

        def __exit__(self, *_exc: object) -> None:
            pass

    monkeypatch.setattr(download, "open", lambda path, _mode: FullDisk(path), raising=False)
    mirror.file("/a.tgz", BODY)
    sleeps: list[float] = []
    with pytest.raises(ToolMissingError, match="No space left on device") as info:
        fetcher(sleeps).fetch_file(f"{mirror.base}/a.tgz", tmp_path / "a", "A", "sha256")
    assert type(info.value) is ToolMissingError  # not a DownloadError: no fallback either
    assert "free disk space" in (info.value.fix or "") and "a.part" in info.value.message
    assert sleeps == [] and list(tmp_path.iterdir()) == []


def test_http_proxy_is_honoured(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror.file("/wb/x.sha256sum", b"through the proxy")
    monkeypatch.setenv("HTTP_PROXY", mirror.base)
    # an unresolvable host: only the proxy can answer for it
    body = fetcher([]).fetch_bytes("http://releases.invalid/wb/x.sha256sum", "A")
    assert body == b"through the proxy"
    assert [(e.path, e.proxied) for e in mirror.log] == [("/wb/x.sha256sum", True)]


def test_no_proxy_bypasses_it(mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    mirror.file("/x", b"direct")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert fetcher([]).fetch_bytes(f"{mirror.base}/x", "A") == b"direct"
    assert [e.proxied for e in mirror.log] == [False]


def test_https_proxy_tunnels_to_a_tls_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = self_signed_cert(tmp_path)
    proxy: ConnectProxy
    with serving(Mirror(), cert) as tls, connect_proxy() as proxy:
        tls.file("/x.tar.gz", BODY)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # trust the mirror's certificate
        got = fetcher([]).fetch_file(f"{tls.base}/x.tar.gz", tmp_path / "x", "A", "sha256")
        assert got.digest == hashlib.sha256(BODY).digest()
        # mirror.test resolves nowhere: the bytes came through the tunnel
        assert proxy.tunnels == [f"mirror.test:{tls.port}"]


def test_untrusted_certificate_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = self_signed_cert(tmp_path)
    with serving(Mirror(), cert) as tls:
        tls.file("/x", b"x")
        sleeps: list[float] = []
        with pytest.raises(DownloadError, match="TLS certificate not trusted") as info:
            fetcher(sleeps).fetch_bytes(f"https://127.0.0.1:{tls.port}/x", "A")
        assert "SSL_CERT_FILE" in (info.value.fix or "") and sleeps == []


def test_the_cli_reporter_is_the_default_progress(mirror: Mirror, tmp_path: Path) -> None:
    rec = Recorder()
    download.set_progress(rec)
    try:
        mirror.file("/a", b"abc")
        Fetcher(sleep=[].append).fetch_file(f"{mirror.base}/a", tmp_path / "a", "A", "sha256")
    finally:
        download.set_progress(None)
    assert rec.events[0][0] == "started"


def test_a_malformed_url_is_a_download_error() -> None:
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match="is not a valid URL"):
        fetcher(sleeps).fetch_bytes("http://127.0.0.1:port/x", "A")
    assert sleeps == []
