"""tools/reach.py: one bounded look at each download host, on the loopback mirror."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from harness.mirror import Mirror, Reset, Status, serving
from worker_build.tools import reach


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    for var in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)
    with serving(Mirror()) as m:
        yield m


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed): refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_each_host_answers_or_says_why_not(mirror: Mirror) -> None:
    mirror.file("/archive.tar.gz", bytes(5000))
    mirror.file("/big.tar.gz", bytes(3 << 20))
    mirror.route("/down", Status(503))
    mirror.route("/reset", Reset())
    refused = f"http://127.0.0.1:{closed_port()}/x"
    urls = [f"{mirror.base}/{p}" for p in ("archive.tar.gz", "missing", "down", "reset")]
    got = reach.look([*urls, refused, urls[0]])
    assert list(got) == [*urls, refused]  # each distinct URL once
    assert (got[urls[0]].ok, got[urls[0]].size, got[urls[0]].detail) == (True, 5000, "5 KiB")
    assert (got[urls[1]].ok, got[urls[1]].detail) == (False, "HTTP 404 Not Found")
    assert (got[urls[2]].ok, got[urls[2]].detail) == (False, "HTTP 503 Service Unavailable")
    assert got[urls[3]].ok is False  # no answer: one look, no retry
    assert got[refused] == reach.Reach(refused, False, "connection refused")
    assert [mirror.hits(p) for p in ("/archive.tar.gz", "/missing", "/down", "/reset")] == [1] * 4
    assert reach.look([f"{mirror.base}/big.tar.gz"])[f"{mirror.base}/big.tar.gz"].detail == (
        "3.0 MiB"
    )


def test_nothing_to_look_at() -> None:
    assert reach.look([]) == {}
