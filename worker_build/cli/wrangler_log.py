"""stderr under wrangler's `[build]`: no empty `[custom build]` lines.

wrangler (4.x, `runCommand`) reads a custom build's output in chunks and logs
`chunk.split("\n")` piece by piece, each behind a `[custom build]` prefix. A
chunk ending in a newline therefore logs an extra, empty line, and a line
written in two pieces (cargo writes its status word first) is logged as two.

Under wrangler (it sets `WRANGLER_COMMAND` for the build command) and when
stderr is a pipe or a socket, `LineChunks` stands in for sys.stderr: it passes on whole
lines only, and holds back the newline that ends a chunk. The newline is put
back in front of the next chunk only if the previous one is still unread
(FIONREAD / SIOCOUTQ), i.e. when the two will reach wrangler as one chunk and
need it between them. A chunk wrangler has already read ended a log line by
itself. Before a chunk, LineChunks waits up to DRAIN_POLLS ms for wrangler to
read the previous one; then it certainly arrives as a chunk of its own. So no
chunk is glued to the previous line; an empty line only if wrangler lags more
than that and then reads between our check and our write.
"""

from __future__ import annotations

import array
import atexit
import fcntl
import os
import stat
import sys
import termios
import time
from collections.abc import Mapping
from typing import TextIO

DRAIN_POLLS = 200  # x 1 ms: how long a chunk waits for wrangler to read the previous one


def unread_request(stream: TextIO) -> int | None:
    """The ioctl that tells how much of what we wrote to `stream` is still unread:
    FIONREAD for a pipe, SIOCOUTQ for a socket (Node, so wrangler, gives its children
    Unix socketpairs); None for anything else (a terminal, a file)."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
        request = (
            termios.FIONREAD
            if stat.S_ISFIFO(mode)
            else termios.TIOCOUTQ  # SIOCOUTQ
            if stat.S_ISSOCK(mode)
            else None
        )
        if request is not None:
            _unread(fd, request)  # supported here?
        return request
    except (AttributeError, OSError, ValueError):
        return None


def wanted(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether `stream` is a pipe or socket that wrangler's custom build reads."""
    return "WRANGLER_COMMAND" in environ and unread_request(stream) is not None


def _unread(fd: int, request: int) -> int:
    """Bytes written into `fd` and not yet read by the other end."""
    buf = array.array("i", [0])
    fcntl.ioctl(fd, request, buf)
    return buf[0]


class LineChunks:
    """A text stream over `inner` that writes whole lines, each chunk without its
    final newline (see the module docstring)."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner
        self._request = unread_request(inner)
        self._partial = ""  # text after the last newline, not yet passed on
        self._held = False  # the last chunk passed on ended a line

    # -- what code writing to sys.stderr uses
    @property
    def encoding(self) -> str:
        return self.inner.encoding

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.inner.fileno()

    def write(self, text: str) -> int:
        data = self._partial + text
        complete, newline, self._partial = data.rpartition("\n")
        if newline:
            self._emit(complete)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        """Pass on a last line that has no newline (e.g. at exit)."""
        if self._partial:
            self._emit(self._partial)
            self._partial = ""
        self.inner.flush()

    # -- the chunks wrangler reads
    def _emit(self, lines: str) -> None:
        self.inner.flush()
        joiner = "\n" if self._held and not self._drained() else ""
        self.inner.write(joiner + lines)
        self.inner.flush()
        self._held = True

    def _drained(self) -> bool:
        """Whether wrangler has read everything written so far; waits for it briefly
        (it reads within a millisecond when idle), so the next chunk is certainly a
        chunk of its own. A reader that lags gets the newline in front instead."""
        if self._request is None:
            return False
        try:
            fd = self.inner.fileno()
            for _ in range(DRAIN_POLLS):
                if _unread(fd, self._request) == 0:
                    return True
                time.sleep(0.001)
        except OSError:
            pass
        return False


def install(environ: Mapping[str, str]) -> LineChunks | None:
    """Put LineChunks in front of sys.stderr when wrangler reads it."""
    if not wanted(sys.stderr, environ):
        return None
    stream = LineChunks(sys.stderr)
    sys.stderr = stream
    atexit.register(stream.close)
    return stream
