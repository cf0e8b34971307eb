"""The fast path of body decoding: one compiled regular expression per form.

`scan_ranges` decodes many function bodies with the same result as running
code.walk_body on each (counts, tag uses, or the first error), mostly in C:

* The main expression tokenises a body: simple instructions (with all their
  immediates) are skipped, and only the opcode byte of each control/EH
  instruction is captured. Anything it does not recognise (an unknown opcode, a
  truncated or over-long immediate, a br_table with more than MAX_FAST_TARGETS
  targets, a non-canonical sub-opcode, ...) shows up as an empty capture, and
  the body goes to walk_body, which either accepts it or raises the exact error.
* The captured opcodes are checked for proper nesting (`_nesting_ok`), and the
  EH counts are taken over all bodies' tokens at once (bytes.count).
* Tag indices (of throw/catch) and try_table clause vectors need immediates: a
  second expression reads them from the bodies that have such instructions, or,
  once a module shows try_table, the main pass captures clause vectors directly
  (`clauses`), and identical vectors are decoded once.

Bodies are tokenised one findall call each, bounded by the body's range: a
malformed body can never borrow bytes from the next one. The fuzz tests check
that this path and walk_body always agree. On rustc output it is about 7x faster.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

from worker_build.errors import InvalidWasmError
from worker_build.util import regexcache
from worker_build.wasm import opcodes as ops
from worker_build.wasm.code import (
    CATCH_USE,
    CLAUSE_SLOT_BASE,
    EH_SLOT,
    N_SLOTS,
    THROW_USE,
    TagUses,
    walk_body,
)
from worker_build.wasm.reader import read_leb_u


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
# The br_tables of the second pass (WIDE), for bodies the main pass gave up on: every
# target count of one LEB byte. Compiling it costs more (about 30 ms here; the disk
# cache of util/regexcache.py then spares later processes) than a small module takes to
# verify, so only modules with such br_tables pay.
MAX_WIDE_TARGETS = 127
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


def _simple_alternatives(mem64: bool, max_targets: int) -> list[bytes]:
    """One alternative per group of non-control instructions, with their immediates;
    br_tables of up to `max_targets` targets."""
    memarg = b"(?:[\\x00-\\x3f]|[\\x40-\\x7f]" + U32_RE + b")" + (U64_RE if mem64 else U32_RE)
    base = ops.BASE
    brt = b"|".join(b"\\x%02x" % n + U32_RE + b"{%d}" % (n + 1) for n in range(max_targets + 1))
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


def _build_pattern(mem64: bool, immediates: bool, max_targets: int = MAX_FAST_TARGETS) -> bytes:
    """SIMPLE* then one control/EH opcode (captured) with its immediates, or one
    undecodable byte (empty capture), or the end of the range (empty capture).
    With `immediates`, a second group captures the immediates that name tags: the
    tag index of catch / throw, the block type and clause vector of try_table."""
    named = (
        b"(?<=[\\x07\\x08])" + U32_RE + b"|(?<=\\x1f)" + BT_RE + _CLAUSES_RE
    )  # fmt: skip
    imm = (
        b"(?:(?<=[\\x05\\x0a\\x0b\\x19])"
        + b"|(?<=[\\x02\\x03\\x04\\x06])" + BT_RE
        + b"|(?<=[\\x09\\x18])" + U32_RE
        + (b"|(" + named + b")" if immediates else b"|" + named)
        + b")"
    )  # fmt: skip
    return (
        b"(?:" + b"|".join(_simple_alternatives(mem64, max_targets)) + b")" + _STAR
        + b"(?:(" + _cls(_STRUCTURAL) + b")" + imm + b"|" + ANY + b"|\\Z)"
    )  # fmt: skip


MAIN, IMMS, WIDE = 0, 1, 2  # the patterns: WIDE is IMMS with br_tables up to 127 targets
_PATTERNS: dict[tuple[bool, int], re.Pattern[bytes]] = {}


def _pattern(mem64: bool, which: int = MAIN) -> re.Pattern[bytes]:
    pat = _PATTERNS.get((mem64, which))
    if pat is None:
        targets = MAX_WIDE_TARGETS if which == WIDE else MAX_FAST_TARGETS
        text = _build_pattern(mem64, which != MAIN, targets)
        pat = _PATTERNS[mem64, which] = regexcache.compile_bytes(text, re.DOTALL)
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


def _blocktype_end(imm: bytes) -> int:
    """Where the block type at the start of a validated try_table immediate ends (the
    forms BT_RE accepts; their first bytes do not overlap)."""
    b = imm[0]
    if b == 0x63 or b == 0x64:  # (ref null? heaptype)
        return 2 if imm[1] in ops.ABSTRACT_HEAP else _leb(imm, 1)[1]
    if b < 0x40 or b >= 0x80:  # a type index
        return _leb(imm, 0)[1]
    return 1  # 0x40, or a value type


def _count_named(
    named: dict[tuple[int, bytes], int], counts: list[int], tag_uses: TagUses | None
) -> None:
    """Add the clause kinds of try_tables and the tags of throw / catch / catch
    clauses, from {(opcode, its captured immediate): times}. Real modules repeat a
    few of these thousands of times: each distinct one is decoded once."""
    for (op, imm), times in named.items():
        if op != 0x1F:  # catch / throw: a tag index
            if tag_uses is not None:
                key = (CATCH_USE if op == 0x07 else THROW_USE, _leb(imm, 0)[0])
                tag_uses[key] = tag_uses.get(key, 0) + times
            continue
        i = _blocktype_end(imm)  # then `n (kind [tag] label)*`
        n = imm[i]
        i += 1
        for _ in range(n):
            kind = imm[i]
            counts[CLAUSE_SLOT_BASE + kind] += times
            i += 1
            if kind < 2:  # catch / catch_ref: tag index, then label
                index, i = _leb(imm, i)
                if tag_uses is not None:
                    key = (CATCH_USE + kind, index)
                    tag_uses[key] = tag_uses.get(key, 0) + times
            i = _leb(imm, i)[1]


class Scan:
    """What scan_ranges found: EH counts summed over the ranges (N_SLOTS slots), how
    many ranges hold an EH instruction, and the first range walk_body rejected."""

    __slots__ = ("error", "totals", "with_eh")

    def __init__(
        self, totals: list[int], with_eh: int, error: tuple[int, InvalidWasmError] | None
    ) -> None:
        self.totals = totals
        self.with_eh = with_eh
        self.error = error  # (index into the ranges, its error), or None


def scan_ranges(
    data: bytes,
    ranges: list[tuple[int, int]],
    mem64: bool = False,
    tag_uses: TagUses | None = None,
    immediates: bool = False,
) -> Scan:
    """Decode the function-body expressions data[s:e] for (s, e) in `ranges` with
    walk_body's result: summed counts and tag uses, or the error of the first range
    (by index) it rejects (counts are then incomplete).

    Immediates naming tags are read by a second pass over the bodies that have
    catch / throw / try_table, until the first try_table: from then on (or from the
    start, with `immediates=True`) the main pass captures them, a little slower per
    body but without a second pass (modules with try_table have many)."""
    findall = _pattern(mem64, IMMS if immediates else MAIN).findall
    streams: list[bytes] = []  # control opcodes of each range the fast path accepted
    accepted: list[int] = []  # ... and the index of that range
    second_pass: list[tuple[int, bytes]] = []  # (range, its opcodes) still to read
    slow: list[int] = []  # ranges left to walk_body
    named: Counter[tuple[int, bytes]] = Counter()  # (opcode, immediate) -> times
    nests: dict[bytes, bool] = {}  # control opcodes -> they nest properly
    found: tuple[bytes, ...] = ()
    toks: tuple[bytes, ...] | list[bytes]
    for index, (start, end) in enumerate(ranges):
        if immediates:
            toks, found = zip(*findall(data, start, end), strict=True)
        else:
            toks = findall(data, start, end)
        # A valid body gives one opcode per control/EH instruction, the last being
        # the final end (0x0b), then one empty capture for the end of the range.
        # Any other empty capture is a byte the expression could not decode.
        s = b"".join(toks)
        if len(s) + 1 != len(toks) or toks[-1] or s[-1:] != b"\x0b":
            slow.append(index)
            continue
        # Many bodies share their control structure (small helpers, generics):
        # each distinct one is checked once.
        ok = nests.get(s)
        if ok is None:
            ok = nests[s] = _nesting_ok(s)
        if not ok:
            slow.append(index)
            continue
        streams.append(s)
        accepted.append(index)
        naming = s.translate(None, _NOT_NAMING)
        if not naming:
            continue
        if immediates:  # captured in order, one per naming opcode
            named.update(zip(naming, filter(None, found), strict=True))
        else:
            second_pass.append((index, naming))
            if b"\x1f" in naming:  # the first try_table: capture from now on
                immediates = True
                findall = _pattern(mem64, IMMS).findall
    if second_pass:
        again = _pattern(mem64, IMMS).findall
        for index, naming in second_pass:
            found = tuple(imm for _, imm in again(data, *ranges[index]) if imm)
            named.update(zip(naming, found, strict=True))
    totals = [0] * N_SLOTS
    with_eh = 0
    # All accepted bodies' EH opcodes, one segment per body: counted in C.
    eh = b"\xff".join(streams).translate(None, _NOT_EH)
    if streams and len(eh) >= len(streams):  # longer than the separators alone: some EH
        totals[:CLAUSE_SLOT_BASE] = [eh.count(op) for op in _EH_BYTES]
        with_eh = len(streams) - eh.split(b"\xff").count(b"")
    for index in slow:
        start, end = ranges[index]
        resumed = _wide(data, start, end, mem64) or _resume(data, start, end, mem64)
        if resumed is not None and _nesting_ok(resumed[0]):
            stream, body_named = resumed
            counts = [stream.count(op) for op in _EH_BYTES]
            named.update(body_named)
            totals[:CLAUSE_SLOT_BASE] = [
                a + b for a, b in zip(totals[:CLAUSE_SLOT_BASE], counts, strict=True)
            ]
            with_eh += any(counts)
            continue
        try:
            counts = walk_body(data, start, end, mem64, tag_uses)
        except InvalidWasmError as e:
            return Scan(totals, with_eh, (index, e))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        with_eh += any(counts)
    _count_named(named, totals, tag_uses)
    return Scan(totals, with_eh, None)


def _wide(
    data: bytes, start: int, end: int, mem64: bool
) -> tuple[bytes, list[tuple[int, bytes]]] | None:
    """Decode, in C like the main pass, a body the main pass gave up on, with br_tables of
    up to MAX_WIDE_TARGETS targets (`match` statements over a few dozen cases, common in
    compiled C++ and Rust alike). Returns what _resume returns, or None when the body
    holds anything else the expression does not decode."""
    toks, imms = zip(*_pattern(mem64, WIDE).findall(data, start, end), strict=True)
    stream = b"".join(toks)
    if len(stream) + 1 != len(toks) or toks[-1] or stream[-1:] != b"\x0b":
        return None
    naming = stream.translate(None, _NOT_NAMING)
    return stream, list(zip(naming, filter(None, imms), strict=True))


def _resume(
    data: bytes, pos: int, end: int, mem64: bool
) -> tuple[bytes, list[tuple[int, bytes]]] | None:
    """Decode a body the main pass gave up on, when what stopped it was only br_tables
    with more than MAX_WIDE_TARGETS targets (the biggest `match` statements): the expression
    decodes up to each one (a call per control instruction), Python reads its count
    and targets, and the expression resumes after them. Returns the control opcodes
    and the (opcode, immediate) of each instruction naming tags; None for any other
    stop (walk_body then reports it exactly)."""
    match = _pattern(mem64, WIDE).match
    tokens = bytearray()
    named: list[tuple[int, bytes]] = []
    while pos < end:
        m = match(data, pos, end)
        assert m is not None  # the expression's tail always matches (a byte or the end)
        token = m.group(1)
        if token:
            tokens += token
            pos = m.end()
            if pos == end:  # the body's last instruction: it must be its final end
                return (bytes(tokens), named) if token == b"\x0b" else None
            if m.group(2):
                named.append((token[0], m.group(2)))
            continue
        # No control instruction: the simple run ended at one byte the expression
        # could not decode (at m.end() - 1), or at the end of the range (no final end).
        if m.end() == end or data[m.end() - 1] != 0x0E:
            return None
        try:  # a br_table: target count, then count + 1 targets
            n, pos = read_leb_u(data, m.end(), end, 32, "br_table target count")
            if n >= end - pos:
                return None
            for _ in range(n + 1):
                pos = read_leb_u(data, pos, end, 32, "br_table target")[1]
        except InvalidWasmError:
            return None
    return None  # a br_table was the last instruction: no final end


def scan_body(
    data: bytes,
    pos: int,
    end: int,
    mem64: bool = False,
    tag_uses: TagUses | None = None,
    immediates: bool = False,
) -> list[int]:
    """Same result as walk_body (counts or InvalidWasmError) for one body."""
    scan = scan_ranges(data, [(pos, end)], mem64, tag_uses, immediates)
    if scan.error is not None:
        raise scan.error[1]
    return scan.totals


_NOT_EH = bytes((0x02, 0x03, 0x04, 0x05, 0x0B))
# Every control opcode but those whose immediates name tags (catch, throw, try_table).
_NOT_NAMING = bytes(sorted(_STRUCTURAL - {0x07, 0x08, 0x1F}))
_EH_BYTES = tuple(bytes([op]) for op, _ in sorted(EH_SLOT.items(), key=lambda kv: kv[1]))
_IF, _ELSE, _TRY, _CATCH = 0x04, 0x05, 0x06, 0x07  # frame kinds: the opener, or its state
_CATCHABLE = (_TRY, _CATCH)


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
