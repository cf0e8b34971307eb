"""Hand-made wasm byte fixtures for the decoder tests (an encoder, not a test).

Only what the tests need: LEB128 encoders, section/module framing, and small
builders for types, imports, exports and function bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from worker_build.wasm import opcodes as ops

HEADER = b"\x00asm\x01\x00\x00\x00"
I32, I64, F32, F64, V128, FUNCREF, EXTERNREF, EXNREF = (
    0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F, 0x69,
)  # fmt: skip
END = b"\x0b"


def u(n: int) -> bytes:
    """Unsigned LEB128 (canonical)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def s(n: int) -> bytes:
    """Signed LEB128 (canonical)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def u_padded(n: int, length: int) -> bytes:
    """Unsigned LEB128 padded with continuation bytes to exactly `length` bytes."""
    out = bytearray()
    for i in range(length):
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if i < length - 1 else 0))
    return bytes(out)


def name(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return u(len(raw)) + raw


def vec(items: Iterable[bytes]) -> bytes:
    items = list(items)
    return u(len(items)) + b"".join(items)


def section(sid: int, payload: bytes) -> bytes:
    return bytes([sid]) + u(len(payload)) + payload


def functype(params: Sequence[int] = (), results: Sequence[int] = ()) -> bytes:
    return b"\x60" + vec(bytes([p]) for p in params) + vec(bytes([r]) for r in results)


def body(code: bytes, locals_: Sequence[tuple[int, int]] = ()) -> bytes:
    """A code-section entry: size, locals, instructions (give the final end yourself)."""
    inner = vec(u(n) + bytes([t]) for n, t in locals_) + code
    return u(len(inner)) + inner


def module(
    *,
    types: Sequence[bytes] = (functype(),),
    imports: Sequence[bytes] = (),
    funcs: Sequence[int] | None = None,
    memories: Sequence[bytes] = (),
    tags: Sequence[int] = (),
    globals_: Sequence[bytes] = (),
    exports: Sequence[bytes] = (),
    bodies: Sequence[bytes] = (),
    customs: Sequence[tuple[str, bytes]] = (),
) -> bytes:
    """A module with the given sections; `bodies` are raw code entries (see body())."""
    out = bytearray(HEADER)
    out += section(1, vec(types))
    if imports:
        out += section(2, vec(imports))
    if funcs is None:
        funcs = [0] * len(bodies)
    if funcs:
        out += section(3, vec(u(t) for t in funcs))
    if memories:
        out += section(5, vec(memories))
    if tags:
        out += section(13, vec(b"\x00" + u(t) for t in tags))
    if globals_:
        out += section(6, vec(globals_))
    if exports:
        out += section(7, vec(exports))
    if bodies:
        out += section(10, vec(bodies))
    for cname, payload in customs:
        out += section(0, name(cname) + payload)
    return bytes(out)


def func_module(*codes: bytes, tags: int = 1, mem64: bool = False) -> bytes:
    """A module of () -> () functions with the given instruction streams, one memory
    (64-bit when mem64) and `tags` tags of type (i32)."""
    types = [functype(), functype([I32])]
    memory = b"\x04\x01" if mem64 else b"\x00\x01"
    return module(
        types=types,
        memories=[memory],
        tags=[1] * tags,
        bodies=[body(c) for c in codes],
    )


def import_tag(mod: str, field: str, type_index: int) -> bytes:
    return name(mod) + name(field) + b"\x04\x00" + u(type_index)


def import_func(mod: str, field: str, type_index: int) -> bytes:
    return name(mod) + name(field) + b"\x00" + u(type_index)


def export(field: str, kind: int, index: int) -> bytes:
    return name(field) + bytes([kind]) + u(index)


def global_i32(value: int, mutable: bool = True) -> bytes:
    return bytes([I32, int(mutable)]) + b"\x41" + s(value) + END


# ------------------------------------------------------------ instructions

MEMARG = b"\x02\x10"  # align 4, offset 16


def imm_for(kind: int, sub_hint: int = 0) -> bytes:
    """A valid immediate of the given opcodes.py kind (for catalogue tests)."""
    return {
        ops.NONE: b"",
        ops.U32: u(1),
        ops.U32X2: u(1) + u(0),
        ops.BLOCK: b"\x40",
        ops.MEMARG: MEMARG,
        ops.I32: s(-123456),
        ops.I64: s(-(2**40)),
        ops.F32: b"\x00\x00\x80\x3f",
        ops.F64: b"\x00" * 7 + b"\x40",
        ops.BR_TABLE: vec([u(0), u(1)]) + u(0),
        ops.SELECT_T: vec([bytes([I32])]),
        ops.HEAPTYPE: bytes([FUNCREF]),
        ops.TRY_TABLE: b"\x40" + vec([b"\x00" + u(0) + u(0), b"\x03" + u(0)]),
        ops.LANE: b"\x01",
        ops.MEMARG_LANE: MEMARG + b"\x01",
        ops.V128: bytes(range(16)),
        ops.SHUFFLE: bytes(range(16)),
        ops.ZERO_BYTE: b"\x00",
        ops.BR_ON_CAST: b"\x01" + u(0) + bytes([0x6E]) + bytes([0x6E]),
    }[kind]


def catalogue() -> list[tuple[str, bytes]]:
    """Every known non-control instruction once, as (label, encoding)."""
    out: list[tuple[str, bytes]] = []
    for op, kind in enumerate(ops.BASE):
        if kind in (ops.UNKNOWN, ops.PREFIX) or op in (0x02, 0x03, 0x04, 0x05, 0x0B):
            continue
        if op in ops.EH_NAMES or op == 0x1F:
            continue
        out.append((f"0x{op:02x}", bytes([op]) + imm_for(kind)))
    for prefix, table in ops.PREFIXES.items():
        for sub, kind in sorted(table.items()):
            out.append((f"0x{prefix:02x} {sub}", bytes([prefix]) + u(sub) + imm_for(kind)))
    return out
