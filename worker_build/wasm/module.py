"""Module-level decoding: header, section framing and every known section.

`parse_module(data)` walks all sections, checks their order and framing, and
decodes their contents except function bodies, whose (start, end) ranges are
returned for code.py to decode. Vector counts are checked against the bytes
that are left before anything is looped over, so a huge count fails at once
and nothing is ever preallocated from a count.
"""

from __future__ import annotations

from worker_build.errors import InvalidWasmError
from worker_build.wasm import opcodes as ops
from worker_build.wasm.code import walk_expr
from worker_build.wasm.reader import Reader, read_leb_u
from worker_build.wasm.records import CustomSection, Export, FuncType, Import, Module

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory",
    6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data",
    12: "datacount", 13: "tag",
}  # fmt: skip
# Required order of the non-custom sections (the tag section sits between memory and global).
SECTION_ORDER = {sid: rank for rank, sid in enumerate((1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11))}
KIND_NAMES = ("func", "table", "memory", "global", "tag")
MAX_LOCALS = 0xFFFFFFFF


def parse_module(data: bytes) -> Module:
    if len(data) < 8:
        raise InvalidWasmError(f"file is {len(data)} bytes, too short for a wasm header", 0)
    if data[:4] != MAGIC:
        raise InvalidWasmError(f"bad magic {data[:4].hex(' ')} (expected 00 61 73 6d)", 0)
    if data[4:8] != VERSION:
        hint = " (a component, not a core module)" if data[6:8] != b"\x00\x00" else ""
        raise InvalidWasmError(f"unsupported version {data[4:8].hex(' ')}{hint}", 4)
    m = Module(size=len(data))
    r = Reader(data, 8)
    last_rank = -1
    seen: set[int] = set()
    while not r.at_end():
        id_at = r.pos
        sid = r.byte("section id")
        size_at = r.pos
        size = r.u32("section size")
        name = SECTION_NAMES.get(sid)
        if name is None:
            raise InvalidWasmError(f"unknown section id {sid}", id_at)
        if size > r.remaining:
            raise InvalidWasmError(
                f"{name} section size {size} goes past the end of the file "
                f"({r.remaining} bytes left)",
                size_at,
            )
        end = r.pos + size
        if sid != 0:
            rank = SECTION_ORDER[sid]
            if sid in seen:
                raise InvalidWasmError(f"duplicate {name} section", id_at)
            if rank < last_rank:
                raise InvalidWasmError(f"{name} section out of order", id_at)
            seen.add(sid)
            last_rank = rank
        sr = Reader(data, r.pos, end)
        _SECTION_PARSERS[sid](sr, m)
        if sr.pos != end:
            raise InvalidWasmError(
                f"{name} section has {end - sr.pos} unexpected bytes at its end", sr.pos
            )
        r.pos = end
    if len(m.func_types) != len(m.bodies):
        raise InvalidWasmError(
            f"function section declares {len(m.func_types)} functions "
            f"but the code section has {len(m.bodies)} bodies",
            len(data),
        )
    if m.data_count is not None and m.data_count != m.data_segments:
        raise InvalidWasmError(
            f"data count section says {m.data_count} segments, data section has {m.data_segments}",
            len(data),
        )
    return m


def _show(name: str, limit: int = 60) -> str:
    """A name from the module, safe for a one-line message."""
    return repr(name if len(name) <= limit else name[:limit] + "...")


# ------------------------------------------------------------------ types


def _valtype(r: Reader, what: str) -> str:
    at = r.pos
    b = r.byte(what)
    name = ops.VALTYPE_NAMES.get(b)
    if name is not None:
        return name
    if b == ops.REF or b == ops.REF_NULL:
        ht_at = r.pos
        hb = r.peek(what)
        if hb in ops.ABSTRACT_HEAP:
            r.pos += 1
            heap = ops.VALTYPE_NAMES[hb].removesuffix("ref")
        else:
            idx = r.s33(f"{what} heap type")
            if idx < 0:
                raise r.fail(f"invalid heap type {idx} in {what}", ht_at)
            heap = str(idx)
        return f"(ref {'null ' if b == ops.REF_NULL else ''}{heap})"
    raise r.fail(f"invalid value type 0x{b:02x} in {what}", at)


def _storage(r: Reader) -> None:
    b = r.peek("field type")
    if b in (0x78, 0x77):  # packed i8 / i16
        r.pos += 1
    else:
        _valtype(r, "field type")
    _mutability(r, "field")


def _mutability(r: Reader, what: str) -> bool:
    at = r.pos
    b = r.byte(f"{what} mutability")
    if b > 1:
        raise r.fail(f"invalid {what} mutability 0x{b:02x}", at)
    return b == 1


def _comptype(r: Reader) -> FuncType | None:
    at = r.pos
    form = r.byte("type form")
    if form == 0x60:
        params = tuple(_valtype(r, "parameter type") for _ in range(r.count("parameter")))
        results = tuple(_valtype(r, "result type") for _ in range(r.count("result")))
        return FuncType(params, results)
    if form == 0x5F:  # struct
        for _ in range(r.count("struct field")):
            _storage(r)
        return None
    if form == 0x5E:  # array
        _storage(r)
        return None
    raise r.fail(f"invalid type form 0x{form:02x}", at)


def _subtype(r: Reader) -> FuncType | None:
    b = r.peek("type")
    if b in (0x50, 0x4F):  # sub / sub final: supertypes then the composite type
        r.pos += 1
        for _ in range(r.count("supertype")):
            r.u32("supertype index")
    return _comptype(r)


def _type_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("type")):
        if r.peek("type") == 0x4E:  # rec group
            r.pos += 1
            for _ in range(r.count("rec group type")):
                m.types.append(_subtype(r))
        else:
            m.types.append(_subtype(r))


def _limits(r: Reader, what: str) -> bool:
    """Limits of a table or memory; returns True for 64-bit addressing."""
    at = r.pos
    flags = r.byte(f"{what} limits flags")
    if flags > 0x0F:
        raise r.fail(f"invalid {what} limits flags 0x{flags:02x}", at)
    is64 = bool(flags & 0x04)
    read = r.u64 if is64 else r.u32
    read(f"{what} minimum")
    if flags & 0x01:
        read(f"{what} maximum")
    if flags & 0x08:
        r.u32(f"{what} page size")
    return is64


def _tabletype(r: Reader) -> None:
    _valtype(r, "table element type")
    _limits(r, "table")


def _tag_type(r: Reader) -> int:
    at = r.pos
    attr = r.byte("tag attribute")
    if attr != 0:
        raise r.fail(f"invalid tag attribute 0x{attr:02x}", at)
    return r.u32("tag type index")


def _import_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("import", 3)):
        module = r.name("import module name")
        name = r.name("import field name")
        at = r.pos
        kind = r.byte("import kind")
        type_index = None
        if kind == 0:
            type_index = r.u32("imported function type index")
        elif kind == 1:
            _tabletype(r)
        elif kind == 2:
            m.mem64 |= _limits(r, "memory")
        elif kind == 3:
            _valtype(r, "global type")
            _mutability(r, "global")
        elif kind == 4:
            type_index = _tag_type(r)
        else:
            raise r.fail(f"invalid import kind 0x{kind:02x} for {_show(module)}::{_show(name)}", at)
        m.imports.append(Import(module, name, KIND_NAMES[kind], type_index))


def _function_section(r: Reader, m: Module) -> None:
    m.func_types.extend(r.u32("function type index") for _ in range(r.count("function")))


def _table_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("table", 2)):
        if r.peek("table") == 0x40:  # table with an initialiser expression
            r.pos += 1
            at = r.pos
            if r.byte("table reserved byte") != 0:
                raise r.fail("invalid table encoding (expected 0x00 after 0x40)", at)
            _tabletype(r)
            _const_expr(r, m, "table initialiser")
        else:
            _tabletype(r)
        m.tables += 1


def _memory_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("memory", 2)):
        is64 = _limits(r, "memory")
        m.memories.append(is64)
        m.mem64 |= is64


def _global_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("global", 3)):
        _valtype(r, "global type")
        _mutability(r, "global")
        _const_expr(r, m, "global initialiser")
        m.globals += 1


def _export_section(r: Reader, m: Module) -> None:
    """Each export is read inline while its kind is valid and its name is UTF-8 (a C++
    module can have 75,000, and Reader calls took most of its parse), its lengths and
    index by read_leb_u as the Reader reads them, so a bad one raises the same error;
    any other export is read by the Reader, which raises the exact error."""
    data, end, exports = r.data, r.end, m.exports
    n = r.count("export", 3)
    pos = r.pos
    for _ in range(n):
        if pos < end and data[pos] < 0x80:
            size, start = data[pos], pos + 1
        else:
            size, start = read_leb_u(data, pos, end, 32, "export name length")
        at = start + size  # the kind, after the name
        if at < end and data[at] <= 4:
            try:
                name = data[start:at].decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                i = at + 1
                if i < end and data[i] < 0x80:
                    index, pos = data[i], i + 1
                else:
                    index, pos = read_leb_u(data, i, end, 32, "export index")
                exports.append(Export(name, KIND_NAMES[data[at]], index))
                continue
        r.pos = pos
        name = r.name("export name")
        at = r.pos
        kind = r.byte("export kind")
        if kind > 4:
            raise r.fail(f"invalid export kind 0x{kind:02x} for {_show(name)}", at)
        exports.append(Export(name, KIND_NAMES[kind], r.u32("export index")))
        pos = r.pos
    r.pos = pos


def _start_section(r: Reader, m: Module) -> None:
    m.start = r.u32("start function index")


def _const_expr(r: Reader, m: Module, what: str) -> None:
    try:
        r.pos = walk_expr(r.data, r.pos, r.end, m.mem64)
    except InvalidWasmError as e:
        raise InvalidWasmError(f"{what}: {e.reason}", e.offset) from None


def _element_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("element segment")):
        at = r.pos
        flags = r.u32("element segment flags")
        if flags > 7:
            raise r.fail(f"invalid element segment flags {flags}", at)
        if flags & 1 == 0:  # active
            if flags & 2:
                r.u32("element table index")
            _const_expr(r, m, "element offset")
        if flags & 4:  # expressions
            if flags & 3:
                _valtype(r, "element type")
            for _ in range(r.count("element expression")):
                _const_expr(r, m, "element expression")
        else:  # function indices
            if flags & 3:
                kind_at = r.pos
                if r.byte("element kind") != 0:
                    raise r.fail("invalid element kind (expected 0x00)", kind_at)
            for _ in range(r.count("element function index")):
                r.u32("element function index")
        m.elements += 1


def _datacount_section(r: Reader, m: Module) -> None:
    m.data_count = r.u32("data count")


def _code_section(r: Reader, m: Module) -> None:
    """Body ranges only (instructions are code.py's job). The common one-byte
    LEB128 cases are read inline: this loop runs once per function."""
    data = r.data
    section_end = r.end
    bodies = m.bodies
    num_types = ops.NUM_VEC_TYPES
    n = r.count("function body")
    pos = r.pos
    for index in range(n):
        if pos < section_end and data[pos] < 0x80:
            size = data[pos]
            body = pos + 1
        else:
            size, body = read_leb_u(data, pos, section_end, 32, "function body size")
        end = body + size
        if end > section_end:
            raise InvalidWasmError(
                f"function body {index} size {size} goes past the end of the code section "
                f"({section_end - body} bytes left)",
                pos,
            )
        pos = body
        if pos < end and data[pos] < 0x80:
            decls = data[pos]
            pos += 1
        else:
            decls, pos = read_leb_u(data, pos, end, 32, "local declaration count")
        if decls * 2 > end - pos:
            raise InvalidWasmError(
                f"function body {index} local declaration count {decls} is larger than the "
                f"{end - pos} bytes left",
                body,
            )
        total = 0
        for _ in range(decls):
            at = pos
            if pos < end and data[pos] < 0x80:
                total += data[pos]
                pos += 1
            else:
                count, pos = read_leb_u(data, pos, end, 32, "local count")
                total += count
            if total > MAX_LOCALS:
                raise InvalidWasmError(f"function body {index} declares too many locals", at)
            if pos < end and data[pos] in num_types:
                pos += 1
            else:
                lr = Reader(data, pos, end)
                _valtype(lr, "local type")
                pos = lr.pos
        if pos >= end:
            raise InvalidWasmError(f"function body {index} has no instructions (missing end)", pos)
        bodies.append((pos, end))
        pos = end
    r.pos = pos


def _data_section(r: Reader, m: Module) -> None:
    for _ in range(r.count("data segment")):
        at = r.pos
        flags = r.u32("data segment flags")
        if flags > 2:
            raise r.fail(f"invalid data segment flags {flags}", at)
        if flags == 2:
            r.u32("data memory index")
        if flags != 1:
            _const_expr(r, m, "data offset")
        r.skip(r.u32("data segment size"), "data segment bytes")
        m.data_segments += 1


def _tag_section(r: Reader, m: Module) -> None:
    m.tags.extend(_tag_type(r) for _ in range(r.count("tag", 2)))


def _custom_section(r: Reader, m: Module) -> None:
    name = r.name("custom section name")
    m.customs.append(CustomSection(name, r.pos, r.remaining))
    r.pos = r.end


_SECTION_PARSERS = {
    0: _custom_section, 1: _type_section, 2: _import_section, 3: _function_section,
    4: _table_section, 5: _memory_section, 6: _global_section, 7: _export_section,
    8: _start_section, 9: _element_section, 10: _code_section, 11: _data_section,
    12: _datacount_section, 13: _tag_section,
}  # fmt: skip
