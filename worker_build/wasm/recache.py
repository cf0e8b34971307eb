"""re.compile for the fast path's expressions, with the compiled program kept on disk.

Compiling fast.py's two expressions costs `verify` about 10 ms a run (re parses 5 KB
of pattern text in Python), a tenth of decoding a 5 MB module. What re.compile makes
of a pattern, the program handed to the C engine (`_sre.compile`: a list of ints, the
flags and the groups), depends only on the pattern, the flags and the Python build.
So the first run keeps it in `<cache>/regex/` (the cache directory of cachedir.py)
and later runs hand the stored program to `_sre.compile` directly (0.05 ms).

That is CPython's internal interface, so nothing is trusted blindly: a program is
stored only if compiling it gives a pattern equal to re.compile's (patterns compare
by flags, pattern text and compiled code), the file is named for the Python build
and the engine's MAGIC, and it holds the pattern text and flags it was made from,
compared on every load. Anything unexpected (no cache directory, an unwritable or
corrupt file, another Python, an interface that moved) falls back to re.compile.
"""

from __future__ import annotations

import binascii
import contextlib
import importlib
import marshal
import os
import re
import sys

from worker_build.cachedir import cache_root_str

TYPE_CHECKING = False  # like typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from typing import Any
FORMAT = 1  # of the stored tuple


def compile_cached(pattern: bytes, flags: int) -> re.Pattern[bytes]:
    """re.compile(pattern, flags), from the stored program when there is one."""
    flags = int(flags)  # a plain int: marshal stores no RegexFlag
    try:
        _sre: Any = importlib.import_module("_sre")
        path = _path(pattern, flags, _sre.MAGIC)
    except (ImportError, AttributeError):  # not CPython's engine
        return re.compile(pattern, flags)
    stored = _load(path, pattern, flags)
    if stored is not None:
        try:
            compiled: re.Pattern[bytes] = _sre.compile(pattern, *stored)
            return compiled
        except (TypeError, ValueError, RuntimeError, OverflowError):
            pass  # a program this engine does not take: compile it anew below
    expected = re.compile(pattern, flags)
    program = _program(pattern, flags)
    if program is not None:
        try:
            if _sre.compile(pattern, *program) == expected:
                _store(path, (FORMAT, pattern, flags, program))
        except (TypeError, ValueError, RuntimeError, OverflowError):
            pass
    return expected


def _path(pattern: bytes, flags: int, magic: int) -> str:
    tag = sys.implementation.cache_tag or "python"
    key = binascii.crc32(pattern + b"\x00" + str(flags).encode())
    name = f"{tag}-{magic}-{len(pattern)}-{key:08x}.marshal"
    return os.path.join(cache_root_str(), "regex", name)


def _load(path: str, pattern: bytes, flags: int) -> tuple[Any, ...] | None:
    try:
        with open(path, "rb") as f:
            stored = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if (
        isinstance(stored, tuple)
        and len(stored) == 4
        and stored[:3] == (FORMAT, pattern, flags)
        and isinstance(stored[3], tuple)
    ):
        return stored[3]
    return None


def _program(pattern: bytes, flags: int) -> tuple[Any, ...] | None:
    """What re.compile passes to _sre.compile after `pattern` (flags, code, groups,
    group index, index group), in marshal-able types; None if the interface moved."""
    try:
        new = sys.version_info >= (3, 11)
        parser: Any = importlib.import_module("re._parser" if new else "sre_parse")
        compiler: Any = importlib.import_module("re._compiler" if new else "sre_compile")
        parsed = parser.parse(pattern, flags)
        code = compiler._code(parsed, flags)
        state = parsed.state
        indexgroup: list[str | None] = [None] * state.groups
        for name, index in state.groupdict.items():
            indexgroup[index] = name
        return (
            int(flags | state.flags),
            [int(c) for c in code],
            state.groups - 1,
            dict(state.groupdict),
            tuple(indexgroup),
        )
    except Exception:  # an internal interface that changed: no cache, no harm
        return None


def _store(path: str, value: tuple[Any, ...]) -> None:
    """Write atomically (a temporary file renamed into place); errors are ignored."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as f:
            marshal.dump(value, f)
        os.replace(temporary, path)
    except (OSError, ValueError):  # ValueError: something marshal cannot store
        with contextlib.suppress(OSError):
            os.unlink(temporary)
