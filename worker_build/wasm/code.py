"""Instruction decoding for function bodies, counting exception-handling instructions.

Two decoders with one contract, `(data, start, end, mem64, tag_uses) -> counts`:

* `walk_body` (here) is the reference: a plain loop over every instruction with a
  control stack. It produces the precise error (offset + what was wrong).
* `scan_body` / `scan_ranges` (fast.py) are the fast path: a compiled regular
  expression tokenises bodies in C and hands anything it does not recognise to
  `walk_body`. The fuzz tests check that both always agree.

`counts` is a list of N_SLOTS ints: one per EH instruction (EH_SLOT order) and
then one per try_table catch clause kind (CLAUSE_SLOT_BASE + kind).

Both also take an optional `tag_uses` dict, filled with
{(use, tag index): count} for every instruction naming a tag: use THROW_USE
(`throw`), CATCH_USE (legacy `catch` and try_table `catch` clauses) or
CATCH_REF_USE (try_table `catch_ref`). verify.py uses it to tell Rust's own
exception tag (thrown by a panic) from wasm-bindgen's JS-exception wrappers.
"""

from __future__ import annotations

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
