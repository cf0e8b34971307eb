"""Fetching one URL: retries with backoff, proxies, progress, a temp file until complete.

Only the standard library (urllib): proxies come from the environment as every
other tool reads them (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, lower-case too),
and TLS trusts the system store or `SSL_CERT_FILE` / `SSL_CERT_DIR` (a company
proxy's CA). What is fetched and how it is checked is `prebuilt.py`'s business.

Failures fall in three kinds, because the caller treats them differently:
* transient (connection reset or refused, timeout, HTTP 5xx/408/429, a body
  shorter than its Content-Length): retried `attempts` times, waiting
  `backoff`, 2x`backoff`, 4x`backoff`... in between; then a `DownloadError`;
* permanent (HTTP 404 and other 4xx, an unknown host, a TLS certificate that
  does not verify): a `DownloadError` at once, no retry helps;
* local (the disk is full, the cache is not writable): a `ToolMissingError`,
  because falling back to another installer would fail the same way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from worker_build import __version__
from worker_build.errors import DownloadError
from worker_build.tools.cache_writes import local_error

if TYPE_CHECKING:
    import urllib.request

# The networking modules (urllib.request, http.client, ssl) are imported where they
# are used: together they cost about 0.1-0.2 s here, and most builds download nothing.

ATTEMPTS = 5
BACKOFF_SECONDS = 0.5
TIMEOUT_SECONDS = 30.0
CHUNK = 1 << 16
SMALL_LIMIT = 4 << 20  # checksum files and registry metadata are far smaller
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = f"worker-build/{__version__} (python-urllib)"


class Progress(Protocol):
    """Where a download, or a tool compiled or installed instead, is shown (the CLI's
    ui.Reporter)."""

    def download_started(self, what: str, url: str, total: int | None) -> None: ...
    def download_advanced(self, done: int, total: int | None) -> None: ...
    def download_ended(self) -> None: ...
    def note(self, text: str) -> None: ...

    def task_started(self, what: str, why: str) -> bool:
        """A long job that reports no progress through us (`cargo install`): `what` it
        does and about how long, `why` (may be empty). True: its own output is to be
        shown (it goes to stderr as it comes); False: keep it quiet (kept for an error)."""
        ...

    def task_ended(self) -> None: ...


class Silent:
    """Progress that shows nothing (the default, and for callers that show their own)."""

    def download_started(self, what: str, url: str, total: int | None) -> None:
        pass

    def download_advanced(self, done: int, total: int | None) -> None:
        pass

    def download_ended(self) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    def task_started(self, what: str, why: str) -> bool:
        return False

    def task_ended(self) -> None:
        pass


_progress: Progress = Silent()


def set_progress(progress: Progress | None) -> None:
    """Show downloads through `progress` (the CLI sets its reporter, as `proc.set_echo`)."""
    global _progress
    _progress = progress if progress is not None else Silent()


def current_progress() -> Progress:
    return _progress


class _Transient(Exception):
    """A failure worth another attempt; the text says what happened."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    digest: bytes  # of the algorithm asked for


@dataclass(frozen=True)
class Fetcher:
    """One download policy. Tests inject `sleep` (no waiting) and a small `attempts`."""

    attempts: int = ATTEMPTS
    backoff: float = BACKOFF_SECONDS
    timeout: float = TIMEOUT_SECONDS
    sleep: Callable[[float], None] = time.sleep
    progress: Progress | None = None  # None: whatever set_progress installed
    opener: urllib.request.OpenerDirector = field(default_factory=lambda: build_opener())

    @property
    def shown(self) -> Progress:
        return self.progress if self.progress is not None else _progress

    def fetch_bytes(self, url: str, what: str) -> bytes:
        """A small file (a checksum, registry metadata), whole in memory."""
        chunks: list[bytes] = []

        def attempt() -> None:
            chunks.clear()
            self._transfer(url, what, chunks.append, shown=False)

        self._with_retries(url, what, attempt)
        return b"".join(chunks)

    def fetch_file(self, url: str, dest: Path, what: str, algorithm: str) -> Fetched:
        """Stream `url` into `dest`, hashing as it arrives. The bytes go to
        `dest.part` first and are renamed to `dest` only when complete, so an
        interrupted or truncated transfer never looks like a download."""
        part = dest.with_name(dest.name + ".part")
        result: list[Fetched] = []

        def attempt() -> None:
            hasher = hashlib.new(algorithm)
            try:
                fh: BinaryIO = open(part, "wb")  # noqa: SIM115 (closed below, errors mapped)
            except OSError as exc:
                raise local_error(exc, f"save the download of {what} to", part) from exc
            size = 0
            try:
                with fh:

                    def sink(chunk: bytes) -> None:
                        nonlocal size
                        hasher.update(chunk)
                        try:
                            fh.write(chunk)
                        except OSError as exc:
                            raise local_error(exc, f"save the download of {what} to", part) from exc
                        size += len(chunk)

                    self._transfer(url, what, sink, shown=True)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            os.replace(part, dest)
            result.append(Fetched(dest, size, hasher.digest()))

        self._with_retries(url, what, attempt)
        return result[0]

    def _with_retries(self, url: str, what: str, attempt: Callable[[], None]) -> None:
        for number in range(1, self.attempts + 1):
            try:
                attempt()
                return
            except _Transient as exc:
                if number == self.attempts:
                    raise DownloadError(
                        f"downloading {what} from {url} failed after {self.attempts} "
                        f"attempts: {exc}",
                        "check the network, HTTPS_PROXY/NO_PROXY, or the mirror setting",
                    ) from exc
                delay = self.backoff * 2 ** (number - 1)
                self.shown.note(
                    f"downloading {what} failed ({exc}); retrying in {delay:g}s "
                    f"(attempt {number + 1} of {self.attempts})"
                )
                self.sleep(delay)

    def _transfer(self, url: str, what: str, sink: Callable[[bytes], None], *, shown: bool) -> None:
        import http.client
        import urllib.error
        import urllib.request

        try:
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code in RETRY_STATUS:
                raise _Transient(f"HTTP {exc.code} {exc.reason}") from exc
            raise DownloadError(
                f"{what} is not available: HTTP {exc.code} {exc.reason} from {url}",
                "check the version and the mirror setting",
            ) from exc
        except urllib.error.URLError as exc:
            raise _classify(exc.reason, url, what) from exc
        except (ValueError, http.client.InvalidURL) as exc:  # e.g. a mirror with a bad port
            raise DownloadError(
                f"cannot download {what}: {url} is not a valid URL ({exc})",
                "check the mirror setting",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise _classify(exc, url, what) from exc
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if not shown and (total or 0) > SMALL_LIMIT:
                raise DownloadError(f"{url} is {total} bytes, too large for {what}")
            done = 0
            if shown:
                self.shown.download_started(what, url, total)
            try:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except http.client.IncompleteRead as exc:
                        raise _Transient(
                            f"connection closed after {done + len(exc.partial)} of {total} bytes"
                        ) from exc
                    except (OSError, http.client.HTTPException) as exc:
                        raise _classify(exc, url, what) from exc
                    if not chunk:
                        break
                    done += len(chunk)
                    if not shown and done > SMALL_LIMIT:
                        raise DownloadError(f"{url} is larger than {SMALL_LIMIT} bytes")
                    sink(chunk)
                    if shown:
                        self.shown.download_advanced(done, total)
            finally:
                if shown:
                    self.shown.download_ended()
            if total is not None and done != total:
                raise _Transient(f"connection closed after {done} of {total} bytes")


def _classify(reason: object, url: str, what: str) -> Exception:
    """A network failure as retryable or not."""
    import socket
    import ssl

    if isinstance(reason, socket.gaierror):
        return DownloadError(
            f"cannot download {what}: host of {url} not found ({reason.strerror})",
            "check the network or the mirror setting; behind a proxy set HTTPS_PROXY",
        )
    if isinstance(reason, FileNotFoundError):  # a file:// mirror without the file
        return DownloadError(
            f"{what} is not available: no file {reason.filename or url}",
            "check the mirror setting",
        )
    if isinstance(reason, ssl.SSLCertVerificationError):
        return DownloadError(
            f"cannot download {what} from {url}: TLS certificate not trusted "
            f"({reason.verify_message})",
            "behind a TLS-inspecting proxy, point SSL_CERT_FILE at its CA bundle",
        )
    text = str(reason) or type(reason).__name__
    return _Transient(text)


def build_opener() -> urllib.request.OpenerDirector:
    """urllib's opener with the proxies of the current environment (read now, so a
    test or a caller that changes HTTPS_PROXY gets a fresh view) and the default
    TLS context (system CAs, SSL_CERT_FILE)."""
    import ssl
    import urllib.request

    proxies = urllib.request.getproxies_environment()
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        urllib.request.HTTPSHandler(context=ssl.create_default_context()),
    )
