"""Decode every function body of a module and total the EH counts.

The regex engine holds the GIL, so threads cannot share the work. On Linux,
for large modules and when the process has no other threads, the bodies are
split in two halves by size and a forked child decodes the second half while
this process decodes the first (wasm-tools validates in parallel too). The
child sends its totals, or its error, back through a pipe with `marshal`; if
it dies without answering, its half is decoded here instead. Set
WORKER_BUILD_VERIFY_JOBS=1 to force the serial path.
"""

from __future__ import annotations

import contextlib
import os
import sys

from worker_build.errors import InvalidWasmError
from worker_build.wasm.code import TagUses
from worker_build.wasm.fast import IMMS, _pattern, scan_ranges
from worker_build.wasm.records import Module

PARALLEL_MIN_BYTES = 1 << 20  # below this, forking costs more than it saves


TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any


class ScanResult:
    __slots__ = ("tag_uses", "totals", "with_eh")

    def __init__(self, totals: list[int], with_eh: int, tag_uses: TagUses) -> None:
        self.totals = totals  # EH counts (code.py slots) over all bodies
        self.with_eh = with_eh  # bodies containing any EH instruction
        self.tag_uses = tag_uses


def scan_module(data: bytes, m: Module, jobs: int | None = None) -> ScanResult:
    """Decode all bodies of `m` (parsed from `data`). `jobs`: 1 = serial, 2 = fork
    when possible, None = decide (size, platform, threads, environment)."""
    bodies = m.bodies
    if jobs is None:
        jobs = _default_jobs(bodies)
    if jobs < 2 or len(bodies) < 2 or not _can_fork():
        return _scan_range(data, m, 0, len(bodies))
    return _scan_forked(data, m)


def _default_jobs(bodies: list[tuple[int, int]]) -> int:
    env = os.environ.get("WORKER_BUILD_VERIFY_JOBS", "")
    if env.isdigit():
        return int(env)
    code_bytes = bodies[-1][1] - bodies[0][0] if bodies else 0
    return 2 if code_bytes >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) > 1 else 1


def _can_fork() -> bool:
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    threading = sys.modules.get("threading")  # forking a threaded process is unsafe
    return threading is None or threading.active_count() == 1


def _scan_range(data: bytes, m: Module, first: int, stop: int) -> ScanResult:
    tag_uses: TagUses = {}
    scan = scan_ranges(data, m.bodies[first:stop], m.mem64, tag_uses)
    if scan.error is not None:
        index, e = scan.error
        i = first + index
        n_imported = sum(1 for imp in m.imports if imp.kind == "func")
        raise InvalidWasmError(
            f"function {n_imported + i} (code body {i}): {e.reason}", e.offset
        ) from None
    return ScanResult(scan.totals, scan.with_eh, tag_uses)


def _split(bodies: list[tuple[int, int]]) -> int:
    """Index of the first body of the second half (by bytes)."""
    middle = (bodies[0][0] + bodies[-1][1]) // 2
    for i, (_, end) in enumerate(bodies):
        if end >= middle:
            return max(1, min(i + 1, len(bodies) - 1))
    return len(bodies) - 1


def _scan_forked(data: bytes, m: Module) -> ScanResult:
    import marshal

    # Compile once, before the fork, not in both processes: the main pattern, and the
    # one reading tag immediates when the module has tags (then nearly always needed).
    _pattern(m.mem64)
    if m.tags or any(imp.kind == "tag" for imp in m.imports):
        _pattern(m.mem64, IMMS)
    split = _split(m.bodies)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: decode the second half, answer, exit without cleanup
        try:
            os.close(read_fd)
            answer: Any
            try:
                r = _scan_range(data, m, split, len(m.bodies))
                answer = ("ok", r.totals, r.with_eh, list(r.tag_uses.items()))
            except InvalidWasmError as e:
                answer = ("error", e.reason, e.offset)
            payload = marshal.dumps(answer)
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view) :]
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks = []
    done = False
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            first = _scan_range(data, m, 0, split)
            while chunk := pipe.read(65536):
                chunks.append(chunk)
        done = True
    finally:
        _reap(pid, kill=not done)
    reply: Any
    try:
        reply = marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        reply = None
    if not reply or reply[0] not in ("ok", "error"):  # the child died: do its half here
        second = _scan_range(data, m, split, len(m.bodies))
    elif reply[0] == "error":
        raise InvalidWasmError(reply[1], reply[2])
    else:
        second = ScanResult(reply[1], reply[2], dict(reply[3]))
    tag_uses = first.tag_uses
    for key, n in second.tag_uses.items():
        tag_uses[key] = tag_uses.get(key, 0) + n
    totals = [a + b for a, b in zip(first.totals, second.totals, strict=True)]
    return ScanResult(totals, first.with_eh + second.with_eh, tag_uses)


def _reap(pid: int, kill: bool = False) -> None:
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)  # SIGKILL (Linux only: see _can_fork)
    os.waitpid(pid, 0)
