"""A release mirror on loopback for download tests and benchmarks/tool_fetch.py.

`Mirror` is an HTTP server on 127.0.0.1 (a thread, stdlib http.server) that serves
what a test scripts for each path, one behaviour per request, the last one
repeating: the file, an HTTP status, a body cut short after its Content-Length
was announced, or a connection reset. Every request is logged, so a test can
assert how many attempts a download took, with no timing involved.

It also acts as a plain forward proxy for http:// URLs (a request line with an
absolute URI is served from the same routes and logged as proxied) and, with
`tls=True`, serves https with a certificate for `mirror.test` made by openssl.
`ConnectProxy` is an HTTPS_PROXY: it tunnels CONNECT to the mirror.

Archive builders make the fixtures: `release_tgz` lays out a release archive
with a tiny shell script standing in for the tool.
"""

from __future__ import annotations

import hashlib
import io
import select
import socket
import ssl
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Serve:
    body: bytes


@dataclass(frozen=True)
class Status:
    code: int


@dataclass(frozen=True)
class Truncate:
    """Announce the whole body, send `keep` bytes of it, close."""

    body: bytes
    keep: int


@dataclass(frozen=True)
class Redirect:
    """302 to `location` (GitHub answers release downloads this way)."""

    location: str


@dataclass(frozen=True)
class Reset:
    """Close the connection without an answer."""


Behaviour = Serve | Status | Truncate | Reset | Redirect


@dataclass
class Logged:
    path: str
    proxied: bool


@dataclass
class Mirror:
    routes: dict[str, list[Behaviour]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    port: int = 0
    tls: bool = False

    @property
    def base(self) -> str:
        host = "mirror.test" if self.tls else "127.0.0.1"
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def route(self, path: str, *behaviours: Behaviour) -> None:
        self.routes[path] = list(behaviours)

    def file(self, path: str, body: bytes) -> None:
        self.route(path, Serve(body))

    def hits(self, path: str) -> int:
        return sum(1 for entry in self.log if entry.path == path)

    def next_behaviour(self, path: str) -> Behaviour:
        queue = self.routes.get(path)
        if not queue:
            return Status(404)
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            proxied = self.path.startswith(("http://", "https://"))
            path = urlsplit(self.path).path if proxied else self.path.split("?")[0]
            mirror.log.append(Logged(path, proxied))
            behaviour = mirror.next_behaviour(path)
            if isinstance(behaviour, Reset):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if isinstance(behaviour, Redirect):
                self.send_response(302)
                self.send_header("Location", behaviour.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if isinstance(behaviour, Status):
                body = f"status {behaviour.code}\n".encode()
                self.send_response(behaviour.code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(behaviour.body)))
            self.end_headers()
            if isinstance(behaviour, Truncate):
                self.wfile.write(behaviour.body[: behaviour.keep])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(behaviour.body)

    return Handler


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for mirror.test (and 127.0.0.1), made by the openssl CLI."""
    cert, key = directory / "mirror.crt", directory / "mirror.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=mirror.test", "-addext", "subjectAltName=DNS:mirror.test,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def serving(mirror: Mirror, cert: tuple[Path, Path] | None = None) -> Iterator[Mirror]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(mirror))
    server.daemon_threads = True
    if cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert[0]), str(cert[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        mirror.tls = True
    mirror.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class ConnectProxy:
    """An HTTPS proxy: CONNECT host:port is tunnelled to 127.0.0.1:port, logged."""

    tunnels: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        ready, _, _ = select.select(sockets, [], [], 10)
        if not ready:
            return
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


@contextmanager
def connect_proxy() -> Iterator[ConnectProxy]:
    proxy = ConnectProxy()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_CONNECT(self) -> None:
            proxy.tunnels.append(self.path)
            port = int(self.path.rsplit(":", 1)[1])
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
            self.send_response(200, "Connection established")
            self.end_headers()
            try:
                _pipe(self.connection, upstream)
            finally:
                upstream.close()
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- fixture archives --------------------------------------------------------------------


def tar_gz(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A .tar.gz of the given members (a bare TarInfo: a directory or a link)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(entry)
    return buffer.getvalue()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    return info


def script(version_line: str) -> bytes:
    return f'#!/bin/sh\necho "{version_line}"\n'.encode()


def release_tgz(top: str, files: dict[str, bytes], executables: tuple[str, ...]) -> bytes:
    """A release archive: everything under `top/`, `executables` mode 755."""
    entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]] = [
        member(top, tarfile.DIRTYPE, 0o755)
    ]
    for name, data in files.items():
        mode = 0o755 if name in executables else 0o644
        entries.append((member(f"{top}/{name}", mode=mode), data))
    return tar_gz(entries)


def sha256sum_line(data: bytes, name: str) -> bytes:
    return f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()
