"""Can this machine reach a download host? One cheap, bounded look per URL, for `doctor`'s
prediction of what the first build will fetch and how.

Each URL gets one GET whose body is never read (only the status and Content-Length: the
size of an archive without downloading it), through the same proxies and TLS settings
as a real download (download.build_opener), with no retry and a short timeout. All
URLs are asked at once, on threads, so the whole look takes at most one timeout
(a refused connection or an unknown host answers at once).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from worker_build.tools import download

TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Reach:
    url: str
    ok: bool  # answered 200: a build would get it
    detail: str  # "12.3 MiB" / "HTTP 404 Not Found" / "host not found" / ...
    size: int | None = None


def _size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{max(1, round(n / 1024))} KiB"


def _look(url: str, timeout: float) -> Reach:
    import socket
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": download.USER_AGENT})
    try:
        with download.build_opener().open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            size = int(length) if length and length.isdigit() else None
            shown = "answered" if size is None else _size(size)
            return Reach(url, True, shown, size)
    except urllib.error.HTTPError as exc:
        exc.close()
        return Reach(url, False, f"HTTP {exc.code} {exc.reason}")
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, socket.gaierror):
            return Reach(url, False, "host not found")
        if isinstance(reason, TimeoutError):
            return Reach(url, False, f"no answer within {timeout:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return Reach(url, False, "connection refused")
        return Reach(url, False, str(reason) or type(reason).__name__)
    except TimeoutError:
        return Reach(url, False, f"no answer within {timeout:g} s")
    except (OSError, ValueError) as exc:
        return Reach(url, False, str(exc) or type(exc).__name__)


def look(urls: Sequence[str], timeout: float = TIMEOUT_SECONDS) -> dict[str, Reach]:
    """Each distinct URL looked at once, all at the same time."""
    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return {}
    with ThreadPoolExecutor(max_workers=len(distinct)) as pool:
        answers = list(pool.map(lambda u: _look(u, timeout), distinct))
    return {r.url: r for r in answers}
