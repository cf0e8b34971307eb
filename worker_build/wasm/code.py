"""Instruction decoding for function bodies, counting exception-handling instructions.

Two decoders with one contract, `(data, start, end, mem64, tag_uses) -> counts`:

* `walk_body` is the reference: a plain loop over every instruction with a
  control stack. It produces the precise error (offset + what was wrong).
* `scan_body` is the fast path. One compiled regular expression tokenises the
  whole body in C: simple instructions (with all their immediates) are skipped,
  and only the opcode byte of each control/EH instruction is captured. The
  captured opcodes are then checked for proper nesting in Python (a second,
  rarer pass reads tag indices and try_table clauses). Anything the expression
  does not recognise (an unknown opcode, a truncated or over-long immediate, a
  br_table with more than MAX_FAST_TARGETS targets, a non-canonical sub-opcode,
  ...) shows up as an empty capture and the body is handed to `walk_body`,
  which either accepts it or raises the exact error. The fuzz tests check that
  both always agree. On rustc output the fast path is about 7x faster.

`counts` is a list of N_SLOTS ints: one per EH instruction (EH_SLOT order) and
then one per try_table catch clause kind (CLAUSE_SLOT_BASE + kind).

Both also take an optional `tag_uses` dict, filled with
{(use, tag index): count} for every instruction naming a tag: use THROW_USE
(`throw`), CATCH_USE (legacy `catch` and try_table `catch` clauses) or
CATCH_REF_USE (try_table `catch_ref`). verify.py uses it to tell Rust's own
exception tag (thrown by a panic) from wasm-bindgen's JS-exception wrappers.
"""

from __future__ import annotations

import re
import sys

from worker_build.errors import InvalidWasmError
from worker_build.wasm import opcodes as ops
from worker_build.wasm.reader import read_leb_s, read_leb_u

# Report slots: EH instructions, then try_table clause kinds.
EH_SLOT: dict[int, int] = {0x06: 0, 0x07: 1, 0x19: 2, 0x09: 3, 0x18: 4, 0x08: 5, 0x1F: 6, 0x0A: 7}
SLOT_NAMES = ("try", "catch", "catch_all", "rethrow", "delegate", "throw", "try_table", "throw_ref")
CLAUSE_SLOT_BASE = 8
N_SLOTS = 12
THROW_USE, CATCH_USE, CATCH_REF_USE = 0, 1, 2
TagUses = dict[tuple[int, int], int]

# Control frame kinds on the stack: the opener, or the state a try/if moved to.
_BLOCK, _LOOP, _IF, _ELSE, _TRY, _CATCH, _CATCH_ALL, _TRY_TABLE = 2, 3, 4, 5, 6, 7, 0x19, 0x1F


def _u32(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    if pos < end and data[pos] < 0x80:
        return data[pos], pos + 1
    return read_leb_u(data, pos, end, 32, what)


def _heaptype(data: bytes, pos: int, end: int, what: str) -> int:
    if pos < end and data[pos] in ops.ABSTRACT_HEAP:
        return pos + 1
    start = pos
    value, pos = read_leb_s(data, pos, end, 33, what)
    if value < 0:
        raise InvalidWasmError(f"invalid heap type {value} in {what}", start)
    return pos


def _valtype(data: bytes, pos: int, end: int, what: str) -> int:
    if pos >= end:
        raise InvalidWasmError(f"unexpected end of data in {what}", pos)
    b = data[pos]
    if b in ops.NUM_VEC_TYPES or b in ops.ABSTRACT_HEAP:
        return pos + 1
    if b == ops.REF or b == ops.REF_NULL:
        return _heaptype(data, pos + 1, end, what)
    raise InvalidWasmError(f"invalid value type 0x{b:02x} in {what}", pos)


def _blocktype(data: bytes, pos: int, end: int) -> int:
    if pos >= end:
        raise InvalidWasmError("unexpected end of data in block type", pos)
    b = data[pos]
    if b == 0x40 or b in ops.NUM_VEC_TYPES or b in ops.ABSTRACT_HEAP:
        return pos + 1
    if b == ops.REF or b == ops.REF_NULL:
        return _heaptype(data, pos + 1, end, "block type")
    start = pos
    value, pos = read_leb_s(data, pos, end, 33, "block type")
    if value < 0:
        raise InvalidWasmError(f"invalid block type 0x{b:02x}", start)
    return pos


def _memarg(data: bytes, pos: int, end: int, mem64: bool, what: str) -> int:
    start = pos
    flags, pos = _u32(data, pos, end, f"{what} alignment")
    if flags & 0x40:
        _, pos = _u32(data, pos, end, f"{what} memory index")
        flags ^= 0x40
    if flags >= 0x40:
        raise InvalidWasmError(f"{what}: malformed memarg flags 0x{flags:x}", start)
    if mem64:
        _, pos = read_leb_u(data, pos, end, 64, f"{what} offset")
        return pos
    _, pos = _u32(data, pos, end, f"{what} offset")
    return pos


def _need(pos: int, n: int, end: int, what: str) -> int:
    if n > end - pos:
        raise InvalidWasmError(f"unexpected end of data in {what}: need {n} bytes", pos)
    return pos + n


def _fail_structure(op: int, top: int, at: int) -> InvalidWasmError:
    names = {0x05: "else", 0x07: "catch", 0x19: "catch_all", 0x18: "delegate"}
    inside = {_BLOCK: "block", _LOOP: "loop", _IF: "if", _ELSE: "else branch", _TRY: "try",
              _CATCH: "catch", _CATCH_ALL: "catch_all", _TRY_TABLE: "try_table",
              0: "function body"}  # fmt: skip
    return InvalidWasmError(f"{names[op]} not allowed inside {inside[top]}", at)


def walk_body(
    data: bytes, pos: int, end: int, mem64: bool = False, tag_uses: TagUses | None = None
) -> list[int]:
    """Decode every instruction of a function body's expression data[pos:end]; the
    `end` closing it must be the last byte. Returns the EH counts."""
    counts = [0] * N_SLOTS
    _walk(data, pos, end, mem64, counts, True, None, tag_uses)
    return counts


def walk_expr(data: bytes, pos: int, end: int, mem64: bool = False) -> int:
    """Decode a constant expression starting at pos (bounded by end); returns the
    position after its closing `end`."""
    return _walk(data, pos, end, mem64, [0] * N_SLOTS, False)


def instruction_offsets(data: bytes, pos: int, end: int, mem64: bool = False) -> list[int]:
    """Offset of every instruction of a function body, final end included (for
    cross-checking against other disassemblers)."""
    offsets: list[int] = []
    _walk(data, pos, end, mem64, [0] * N_SLOTS, True, offsets)
    return offsets


def _walk(
    data: bytes,
    pos: int,
    end: int,
    mem64: bool,
    counts: list[int],
    exact: bool,
    offsets: list[int] | None = None,
    tag_uses: TagUses | None = None,
) -> int:
    stack = bytearray()
    base = ops.BASE
    NONE, U32, BLOCK, MEMARG = ops.NONE, ops.U32, ops.BLOCK, ops.MEMARG
    while pos < end:
        at = pos
        if offsets is not None:
            offsets.append(at)
        op = data[pos]
        pos += 1
        kind = base[op]
        if kind == U32:
            if pos < end and data[pos] < 0x80:
                index = data[pos]
                pos += 1
            else:
                index, pos = read_leb_u(data, pos, end, 32, f"immediate of opcode 0x{op:02x}")
            if op in EH_SLOT:
                counts[EH_SLOT[op]] += 1
                if tag_uses is not None and (op == 0x07 or op == 0x08):
                    key = (CATCH_USE if op == 0x07 else THROW_USE, index)
                    tag_uses[key] = tag_uses.get(key, 0) + 1
                top = stack[-1] if stack else 0
                if op == 0x07:  # catch
                    if top != _TRY and top != _CATCH:
                        raise _fail_structure(op, top, at)
                    stack[-1] = _CATCH
                elif op == 0x18:  # delegate closes a try that has no catch yet
                    if top != _TRY:
                        raise _fail_structure(op, top, at)
                    stack.pop()
        elif kind == NONE:
            if op == 0x0B:
                if not stack:
                    if exact and pos != end:
                        raise InvalidWasmError(
                            f"{end - pos} bytes after the final end of the body", pos
                        )
                    return pos
                stack.pop()
            elif op == 0x05:
                top = stack[-1] if stack else 0
                if top != _IF:
                    raise _fail_structure(op, top, at)
                stack[-1] = _ELSE
            elif op == 0x19:
                top = stack[-1] if stack else 0
                if top != _TRY and top != _CATCH:
                    raise _fail_structure(op, top, at)
                stack[-1] = _CATCH_ALL
                counts[2] += 1
            elif op == 0x0A:
                counts[7] += 1
        elif kind == MEMARG:
            pos = _memarg(data, pos, end, mem64, f"memarg of opcode 0x{op:02x}")
        elif kind == BLOCK:
            pos = _blocktype(data, pos, end)
            stack.append(op)
            if op == 0x06:
                counts[0] += 1
        else:
            pos = _other(data, pos, end, op, kind, mem64, counts, stack, at, tag_uses)
    if stack:
        raise InvalidWasmError(f"expression ends inside {len(stack)} unclosed block(s)", end)
    raise InvalidWasmError("expression ends without its final end", end)


def _other(
    data: bytes,
    pos: int,
    end: int,
    op: int,
    kind: int,
    mem64: bool,
    counts: list[int],
    stack: bytearray,
    at: int,
    tag_uses: TagUses | None,
) -> int:
    """Immediates of the less common kinds; returns the next position."""
    what = f"immediate of opcode 0x{op:02x}"
    if kind == ops.I32:
        return read_leb_s(data, pos, end, 32, what)[1]
    if kind == ops.I64:
        return read_leb_s(data, pos, end, 64, what)[1]
    if kind == ops.F32:
        return _need(pos, 4, end, what)
    if kind == ops.F64:
        return _need(pos, 8, end, what)
    if kind == ops.U32X2:
        _, pos = _u32(data, pos, end, what)
        return _u32(data, pos, end, what)[1]
    if kind == ops.BR_TABLE:
        n_at = pos
        n, pos = _u32(data, pos, end, "br_table target count")
        if n >= end - pos:  # n targets + default, one byte each at least
            raise InvalidWasmError(f"br_table target count {n} exceeds the body size", n_at)
        for _ in range(n + 1):
            _, pos = _u32(data, pos, end, "br_table target")
        return pos
    if kind == ops.TRY_TABLE:
        pos = _blocktype(data, pos, end)
        stack.append(op)
        counts[6] += 1
        n_at = pos
        n, pos = _u32(data, pos, end, "try_table catch count")
        if n * 2 > end - pos:
            raise InvalidWasmError(f"try_table catch count {n} exceeds the body size", n_at)
        for _ in range(n):
            if pos >= end:
                raise InvalidWasmError("unexpected end of data in try_table catch clause", pos)
            clause = data[pos]
            if clause > 3:
                raise InvalidWasmError(f"invalid try_table catch kind 0x{clause:02x}", pos)
            pos += 1
            if clause < 2:  # catch / catch_ref carry a tag index
                tag, pos = _u32(data, pos, end, "try_table catch tag")
                if tag_uses is not None:
                    key = (CATCH_USE + clause, tag)
                    tag_uses[key] = tag_uses.get(key, 0) + 1
            _, pos = _u32(data, pos, end, "try_table catch label")
            counts[CLAUSE_SLOT_BASE + clause] += 1
        return pos
    if kind == ops.SELECT_T:
        n_at = pos
        n, pos = _u32(data, pos, end, "select type count")
        if n > end - pos:
            raise InvalidWasmError(f"select type count {n} exceeds the body size", n_at)
        for _ in range(n):
            pos = _valtype(data, pos, end, "select type")
        return pos
    if kind == ops.HEAPTYPE:
        return _heaptype(data, pos, end, what)
    if kind == ops.PREFIX:
        return _prefixed(data, pos, end, op, mem64, at)
    raise InvalidWasmError(f"unknown opcode 0x{op:02x}", at)


def _prefixed(data: bytes, pos: int, end: int, op: int, mem64: bool, at: int) -> int:
    sub, pos = _u32(data, pos, end, f"sub-opcode after 0x{op:02x}")
    kind = ops.PREFIXES[op].get(sub, ops.UNKNOWN)
    what = f"immediate of opcode 0x{op:02x} {sub}"
    if kind == ops.NONE:
        return pos
    if kind == ops.MEMARG:
        return _memarg(data, pos, end, mem64, what)
    if kind == ops.U32:
        return _u32(data, pos, end, what)[1]
    if kind == ops.U32X2:
        _, pos = _u32(data, pos, end, what)
        return _u32(data, pos, end, what)[1]
    if kind == ops.LANE:
        return _need(pos, 1, end, what)
    if kind == ops.MEMARG_LANE:
        return _need(_memarg(data, pos, end, mem64, what), 1, end, what)
    if kind == ops.V128 or kind == ops.SHUFFLE:
        return _need(pos, 16, end, what)
    if kind == ops.ZERO_BYTE:
        if pos >= end:
            raise InvalidWasmError(f"unexpected end of data in {what}", pos)
        if data[pos] != 0:
            raise InvalidWasmError(f"atomic.fence needs a 0x00 byte, found 0x{data[pos]:02x}", pos)
        return pos + 1
    if kind == ops.HEAPTYPE:
        return _heaptype(data, pos, end, what)
    if kind == ops.BR_ON_CAST:
        if pos >= end:
            raise InvalidWasmError(f"unexpected end of data in {what}", pos)
        if data[pos] > 3:
            raise InvalidWasmError(f"invalid br_on_cast flags 0x{data[pos]:02x}", pos)
        _, pos = _u32(data, pos + 1, end, what)
        pos = _heaptype(data, pos, end, what)
        return _heaptype(data, pos, end, what)
    raise InvalidWasmError(f"unknown {ops.PREFIX_NAMES[op]} opcode 0x{op:02x} {sub}", at)


# ---------------------------------------------------------------- fast path


def _cls(codes: object) -> bytes:
    """A regex character class matching the given byte values."""
    vals = sorted(set(codes))  # type: ignore[call-overload]
    parts: list[bytes] = []
    i = 0
    while i < len(vals):
        j = i
        while j + 1 < len(vals) and vals[j + 1] == vals[j] + 1:
            j += 1
        lo, hi = vals[i], vals[j]
        parts.append(b"\\x%02x" % lo if lo == hi else b"\\x%02x-\\x%02x" % (lo, hi))
        i = j + 1
    return b"[" + b"".join(parts) + b"]"


_C = b"[\\x80-\\xff]"  # LEB128 continuation byte
U32_RE = b"(?:" + _C + b"{0,3}[\\x00-\\x7f]|" + _C + b"{4}[\\x00-\\x0f])"
S32_RE = b"(?:" + _C + b"{0,3}[\\x00-\\x7f]|" + _C + b"{4}[\\x00-\\x07\\x78-\\x7f])"
S64_RE = b"(?:" + _C + b"{0,8}[\\x00-\\x7f]|" + _C + b"{9}[\\x00\\x7f])"
U64_RE = b"(?:" + _C + b"{0,8}[\\x00-\\x7f]|" + _C + b"{9}[\\x00\\x01])"
S33_NONNEG = b"(?:" + _C + b"{0,3}[\\x00-\\x3f]|" + _C + b"{4}[\\x00-\\x0f])"
HEAP_RE = b"(?:" + _cls(ops.ABSTRACT_HEAP) + b"|" + S33_NONNEG + b")"
VALTYPE_RE = (
    b"(?:" + _cls(ops.NUM_VEC_TYPES | ops.ABSTRACT_HEAP) + b"|[\\x63\\x64]" + HEAP_RE + b")"
)
BT_RE = (
    b"(?:" + _cls({0x40} | ops.NUM_VEC_TYPES | ops.ABSTRACT_HEAP)
    + b"|[\\x63\\x64]" + HEAP_RE + b"|" + S33_NONNEG + b")"
)  # fmt: skip
ANY = b"[\\x00-\\xff]"
CLAUSE_RE = b"(?:[\\x00\\x01]" + U32_RE + U32_RE + b"|[\\x02\\x03]" + U32_RE + b")"
MAX_FAST_TARGETS = 15  # br_table / try_table vectors longer than this take the slow path
MAX_FAST_CLAUSES = 4


def _kind_ops(table: dict[int, int] | tuple[int, ...], kind: int, skip: frozenset[int]) -> set[int]:
    items = table.items() if isinstance(table, dict) else enumerate(table)
    return {op for op, k in items if k == kind and op not in skip}


def _sub(table: dict[int, int], kind: int) -> bytes:
    """Alternatives matching a LEB128 sub-opcode (1 or 2 bytes) of the given kind."""
    subs = _kind_ops(table, kind, frozenset())
    alts = []
    one = [s for s in subs if s < 0x80]
    if one:
        alts.append(_cls(one))
    for hi in sorted({s >> 7 for s in subs if 0x80 <= s < 0x4000}):
        lows = [0x80 | (s & 0x7F) for s in subs if s >> 7 == hi and s >= 0x80]
        alts.append(_cls(lows) + b"\\x%02x" % hi)
    return b"(?:" + b"|".join(alts) + b")"


def _simple_alternatives(mem64: bool) -> list[bytes]:
    """One alternative per group of non-control instructions, with their immediates."""
    memarg = b"(?:[\\x00-\\x3f]|[\\x40-\\x7f]" + U32_RE + b")" + (U64_RE if mem64 else U32_RE)
    base = ops.BASE
    brt = b"|".join(
        b"\\x%02x" % n + U32_RE + b"{%d}" % (n + 1) for n in range(MAX_FAST_TARGETS + 1)
    )
    fd, fe, fb, fc = ops.FD, ops.FE, ops.FB, ops.FC
    u32_ops = _kind_ops(base, ops.U32, _STRUCTURAL)
    memarg_ops = _cls(_kind_ops(base, ops.MEMARG, _STRUCTURAL))
    return [
        # Fast alternatives first, for the shapes most instructions have (measured
        # on rustc output): a one-byte index/label/i32.const, no immediate, and a
        # memarg with one-byte flags and offset. The general forms follow.
        _cls(u32_ops | {0x41}) + b"[\\x00-\\x7f]",
        _cls(_kind_ops(base, ops.NONE, _STRUCTURAL)),
        memarg_ops + b"[\\x00-\\x3f][\\x00-\\x7f]",
        _cls(u32_ops) + U32_RE,
        memarg_ops + memarg,
        b"\\x41" + S32_RE,
        b"[\\x11\\x13]" + U32_RE + U32_RE,
        b"\\x42" + S64_RE,
        b"\\x44" + ANY + b"{8}",
        b"\\x43" + ANY + b"{4}",
        b"\\x0e(?:" + brt + b")",
        b"\\x1c\\x01" + VALTYPE_RE,
        b"\\xd0" + HEAP_RE,
        b"\\xfc(?:" + _sub(fc, ops.NONE) + b"|" + _sub(fc, ops.U32) + U32_RE
        + b"|" + _sub(fc, ops.U32X2) + U32_RE + U32_RE + b")",
        b"\\xfd(?:" + _sub(fd, ops.NONE) + b"|" + _sub(fd, ops.MEMARG) + memarg
        + b"|" + _sub(fd, ops.LANE) + ANY + b"|[\\x0c\\x0d]" + ANY + b"{16}"
        + b"|" + _sub(fd, ops.MEMARG_LANE) + memarg + ANY + b")",
        b"\\xfe(?:" + _sub(fe, ops.MEMARG) + memarg + b"|\\x03\\x00)",
        b"\\xfb(?:" + _sub(fb, ops.NONE) + b"|" + _sub(fb, ops.U32) + U32_RE
        + b"|" + _sub(fb, ops.U32X2) + U32_RE + U32_RE + b"|" + _sub(fb, ops.HEAPTYPE) + HEAP_RE
        + b"|[\\x18\\x19][\\x00-\\x03]" + U32_RE + HEAP_RE + HEAP_RE + b")",
    ]  # fmt: skip


_STRUCTURAL = frozenset(EH_SLOT) | ops.OPENS | {0x05, 0x0B}
_CLAUSES_RE = b"(?:" + b"|".join(
    b"\\x%02x" % n + (CLAUSE_RE + b"{%d}" % n if n else b"") for n in range(MAX_FAST_CLAUSES + 1)
) + b")"  # fmt: skip
# The tail of the pattern always matches (a byte or the end), so the repeat
# never backtracks: possessive (3.11+) and greedy give the same tokens.
_STAR = b"*+" if sys.version_info >= (3, 11) else b"*"


def _build_pattern(mem64: bool, clauses: bool) -> bytes:
    """SIMPLE* then one control/EH opcode (captured) with its immediates, or one
    undecodable byte (empty capture), or the end of the range (empty capture).
    With `clauses`, a second group captures each try_table's clause vector."""
    vec = b"(" + _CLAUSES_RE + b")" if clauses else _CLAUSES_RE
    imm = (
        b"(?:(?<=[\\x05\\x0a\\x0b\\x19])"
        + b"|(?<=[\\x02\\x03\\x04\\x06])" + BT_RE
        + b"|(?<=[\\x07\\x08\\x09\\x18])" + U32_RE
        + b"|(?<=\\x1f)" + BT_RE + vec + b")"
    )  # fmt: skip
    return (
        b"(?:" + b"|".join(_simple_alternatives(mem64)) + b")" + _STAR
        + b"(?:(" + _cls(_STRUCTURAL) + b")" + imm + b"|" + ANY + b"|\\Z)"
    )  # fmt: skip


def _build_tag_pattern(mem64: bool) -> bytes:
    """Over an already validated body: capture (catch/throw opcode, tag LEB128)
    pairs and each try_table's clause vector."""
    other = (
        b"[\\x02\\x03\\x04\\x06]" + BT_RE
        + b"|[\\x09\\x18]" + U32_RE
        + b"|[\\x05\\x0a\\x0b\\x19]"
    )  # fmt: skip
    return (
        b"(?:" + b"|".join([*_simple_alternatives(mem64), other]) + b")" + _STAR
        + b"(?:([\\x07\\x08])(" + U32_RE + b")|\\x1f" + BT_RE + b"(" + _CLAUSES_RE + b")|\\Z)"
    )  # fmt: skip


MAIN, CLAUSES, TAGS = 0, 1, 2  # the three patterns
_PATTERNS: dict[tuple[bool, int], re.Pattern[bytes]] = {}


def _pattern(mem64: bool, which: int = MAIN) -> re.Pattern[bytes]:
    pat = _PATTERNS.get((mem64, which))
    if pat is None:
        text = (
            _build_tag_pattern(mem64) if which == TAGS else _build_pattern(mem64, which == CLAUSES)
        )
        pat = _PATTERNS[mem64, which] = re.compile(text, re.DOTALL)
    return pat


def _leb(raw: bytes, i: int) -> tuple[int, int]:
    """A LEB128 already validated by the pattern -> (value, next index)."""
    value = shift = 0
    while True:
        b = raw[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _clause_vectors(vecs: bytes, counts: list[int], tag_uses: TagUses | None) -> None:
    """Count the clause kinds (and caught tags) of concatenated clause vectors."""
    i = 0
    n = len(vecs)
    while i < n:
        clauses = vecs[i]
        i += 1
        for _ in range(clauses):
            kind = vecs[i]
            counts[CLAUSE_SLOT_BASE + kind] += 1
            i += 1
            if kind < 2:  # catch / catch_ref: tag index, then label
                index, i = _leb(vecs, i)
                if tag_uses is not None:
                    key = (CATCH_USE + kind, index)
                    tag_uses[key] = tag_uses.get(key, 0) + 1
            i = _leb(vecs, i)[1]


def _tag_pass(
    data: bytes,
    pos: int,
    end: int,
    mem64: bool,
    counts: list[int],
    tag_uses: TagUses | None,
    clauses_done: bool,
) -> None:
    """Second pass over a body the main pattern accepted: the tags named by
    throw / catch, and the try_table clauses unless already counted."""
    vecs = []
    for op, tag, vec in _pattern(mem64, TAGS).findall(data, pos, end):
        if op:
            if tag_uses is not None:
                key = (CATCH_USE if op == b"\x07" else THROW_USE, _leb(tag, 0)[0])
                tag_uses[key] = tag_uses.get(key, 0) + 1
        elif vec and not clauses_done:
            vecs.append(vec)
    if vecs:
        _clause_vectors(b"".join(vecs), counts, tag_uses)


def scan_body(
    data: bytes,
    pos: int,
    end: int,
    mem64: bool = False,
    tag_uses: TagUses | None = None,
    clauses: bool = False,
) -> list[int]:
    """Same result as walk_body (counts or InvalidWasmError), mostly in C.

    `clauses=True` captures try_table clause vectors in the main pass: a little
    slower per body, but saves a second pass over bodies with try_table (the
    caller switches it on once a module shows exnref EH)."""
    vecs: tuple[bytes, ...] = ()
    if clauses:
        pairs = _pattern(mem64, CLAUSES).findall(data, pos, end)
        if not pairs:
            return walk_body(data, pos, end, mem64, tag_uses)
        toks: tuple[bytes, ...] | list[bytes]
        toks, vecs = zip(*pairs, strict=True)
    else:
        toks = _pattern(mem64).findall(data, pos, end)
    # Valid bodies give: one opcode per control/EH instruction, the last being
    # the final end (0x0b), then one empty capture for the end of the range.
    # Any other empty capture is a byte the expression could not decode.
    s = b"".join(toks)
    if len(s) + 1 != len(toks) or toks[-1] or s[-1:] != b"\x0b" or not _nesting_ok(s):
        return walk_body(data, pos, end, mem64, tag_uses)
    eh = s.translate(None, _NOT_EH)
    if not eh:
        return [0] * N_SLOTS
    counts = [eh.count(op) for op in _EH_BYTES]
    counts += _NO_CLAUSES
    if clauses and counts[6]:
        _clause_vectors(b"".join(vecs), counts, tag_uses)
    if (counts[6] and not clauses) or (tag_uses is not None and (counts[1] or counts[5])):
        _tag_pass(data, pos, end, mem64, counts, tag_uses, clauses)
    return counts


_NOT_EH = bytes((0x02, 0x03, 0x04, 0x05, 0x0B))
_NO_CLAUSES = (0,) * (N_SLOTS - CLAUSE_SLOT_BASE)
_EH_BYTES = tuple(bytes([op]) for op, _ in sorted(EH_SLOT.items(), key=lambda kv: kv[1]))


def _nesting_ok(s: bytes) -> bool:
    """Control opcodes of a body (final end included) nest properly: else only in
    if, catch/catch_all only in try (none after catch_all), delegate closes a try
    without catches, and only the final end closes the function."""
    kinds = bytearray(len(s))  # kind of each open frame, by depth
    d = 0
    for op in s[:-1]:
        if op == 0x0B:
            if not d:
                return False
            d -= 1
        elif op == 0x02 or op == 0x03 or op == 0x06 or op == 0x1F or op == 0x04:
            kinds[d] = op
            d += 1
        elif op == 0x07 or op == 0x19:
            if not d or kinds[d - 1] not in _CATCHABLE:
                return False
            kinds[d - 1] = op
        elif op == 0x05:
            if not d or kinds[d - 1] != _IF:
                return False
            kinds[d - 1] = _ELSE
        elif op == 0x18:
            if not d or kinds[d - 1] != _TRY:
                return False
            d -= 1
    return d == 0


_CATCHABLE = (_TRY, _CATCH)
