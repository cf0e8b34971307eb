"""Compiled regular expressions kept on disk, so a new process need not compile them.

`verify` decodes function bodies with a few large expressions (wasm/fast.py, 5 to 12
KB of pattern each), and Python compiles every expression again in every process.
For those, compiling cost more than the expression engine needs to decode a 4 MB
module: 14 ms for the main pattern, 14 ms for the one reading tag immediates, 32 ms
for the one with wide br_tables (CPython 3.11 on this project's machines), out of
about 180 ms for a whole `verify` of such a module. Loading the compiled program
from here takes about 0.1 ms.

What is kept is what CPython's `re` compiler hands to `_sre.compile` (the program as a
list of codes, with its group table), in `<cache>/regex/<key>.marshal`, keyed on the
pattern, its flags and the interpreter's exact version. These are private parts of
CPython (`re._compiler` since 3.11, `sre_compile` before), so anything unexpected (not
CPython, another signature, a damaged or unwritable cache) falls back to `re.compile`,
which is always right. `_sre.compile` checks the program it is given (a malformed one
is a RuntimeError, never a crash), and each file holds the pattern it was compiled
from, compared before use.
"""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]  # CPython's regex engine, no stubs
import marshal
import os
import re
import sys
import zlib

TYPE_CHECKING = False  # like typing.TYPE_CHECKING: verify's import needs no typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

FORMAT = 1  # of the files' contents
SUBDIR = "regex"


def _key(text: bytes, flags: int) -> str:
    """The file's name. A checksum will do (the file holds its pattern, compared before
    use); hashlib alone would take longer to import (~3 ms) than loading takes."""
    tag = f"{FORMAT}|{sys.version}|{_sre.MAGIC}|{flags}|".encode()
    return f"{zlib.crc32(tag + text):08x}-{len(text)}"


def _program(text: bytes, flags: int) -> tuple[Any, ...]:
    """The arguments `re` passes to `_sre.compile` for `text` (re._compiler.compile's
    own steps, which it does not expose)."""
    try:
        from re import _compiler, _parser  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_compile as _compiler
        import sre_parse as _parser

    parsed = _parser.parse(text, flags)
    code = _compiler._code(parsed, flags)
    groupindex = dict(parsed.state.groupdict)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in groupindex.items():
        indexgroup[index] = name
    return (
        int(flags | parsed.state.flags),
        [int(c) for c in code],
        parsed.state.groups - 1,
        groupindex,
        tuple(indexgroup),
    )


def _load(path: Path, text: bytes) -> re.Pattern[bytes] | None:
    try:
        fmt, kept_text, *program = marshal.loads(path.read_bytes())
        if fmt != FORMAT or kept_text != text:
            return None
        pattern: re.Pattern[bytes] = _sre.compile(text, *program)
        return pattern
    except (OSError, EOFError, ValueError, TypeError, RuntimeError):
        return None  # absent, damaged, or from an interpreter that differs after all


def _store(path: Path, text: bytes, program: tuple[Any, ...]) -> None:
    """Write it whole or not at all (a concurrent reader sees the old file or this one)."""
    import contextlib
    import tempfile  # only when writing: importing it costs more than a load

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps((FORMAT, text, *program)))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass  # a read-only or full cache: the next process compiles again


def compile_bytes(text: bytes, flags: int = 0) -> re.Pattern[bytes]:
    """re.compile(text, flags), from the disk cache when an earlier process compiled
    the same pattern with this interpreter."""
    if sys.implementation.name != "cpython":
        return re.compile(text, flags)
    from worker_build.util.cachedir import cache_root  # pathlib: not at verify's import

    path = cache_root() / SUBDIR / f"{_key(text, flags)}.marshal"
    pattern = _load(path, text)
    if pattern is not None:
        return pattern
    try:
        program = _program(text, flags)
        compiled: re.Pattern[bytes] = _sre.compile(text, *program)
    except Exception:  # any change in CPython's internals: compile the usual way
        return re.compile(text, flags)
    _store(path, text, program)
    return compiled
