"""Module header and section decoding (worker_build/wasm/module.py)."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.wasmgen import (
    END,
    EXTERNREF,
    FUNCREF,
    HEADER,
    I32,
    I64,
    body,
    export,
    functype,
    global_i32,
    import_func,
    import_tag,
    module,
    name,
    s,
    section,
    u,
    u_padded,
    vec,
)
from worker_build.errors import InvalidWasmError
from worker_build.wasm.module import parse_module
from worker_build.wasm.records import FuncType, Import


def bad(data: bytes, match: str) -> InvalidWasmError:
    with pytest.raises(InvalidWasmError, match=match) as e:
        parse_module(data)
    return e.value


def test_empty_module() -> None:
    m = parse_module(HEADER)
    assert m.size == 8 and m.bodies == [] and m.imports == [] and not m.mem64


@pytest.mark.parametrize(
    ("data", "match", "offset"),
    [
        (b"", "0 bytes, too short", 0),
        (b"\x00as", "3 bytes, too short", 0),
        (b"\x7fELF\x01\x00\x00\x00", "bad magic 7f 45 4c 46", 0),
        (b"\x00asm\x02\x00\x00\x00", "unsupported version 02 00 00 00", 4),
        (b"\x00asm\x0d\x00\x01\x00", "a component, not a core module", 4),
    ],
)
def test_header_errors(data: bytes, match: str, offset: int) -> None:
    assert bad(data, match).offset == offset


def test_section_size_past_end() -> None:
    data = HEADER + b"\x01" + u(100) + b"\x00"
    e = bad(data, "type section size 100 goes past the end of the file \\(1 bytes left\\)")
    assert e.offset == 9


def test_truncated_section_header() -> None:
    bad(HEADER + b"\x01", "unexpected end of data in section size")
    bad(HEADER + b"\x01\x80", "unexpected end of data in section size")


def test_unknown_duplicate_and_out_of_order_sections() -> None:
    assert bad(HEADER + section(14, b""), "unknown section id 14").offset == 8
    two_types = HEADER + section(1, vec([])) + section(1, vec([]))
    assert bad(two_types, "duplicate type section").offset == 11
    bad(HEADER + section(3, vec([])) + section(1, vec([])), "type section out of order")
    # tag (13) goes between memory (5) and global (6); custom sections go anywhere
    ok = HEADER + section(5, vec([])) + section(0, name("x")) + section(13, vec([]))
    parse_module(ok + section(6, vec([])))
    bad(HEADER + section(6, vec([])) + section(13, vec([])), "tag section out of order")


def test_section_with_trailing_bytes_and_section_overrun() -> None:
    e = bad(HEADER + section(1, vec([]) + b"\x00\x00"), "type section has 2 unexpected bytes")
    assert e.offset == 11
    # the type entry claims 3 params but the section ends first: bounded by the section
    data = HEADER + section(1, u(1) + b"\x60\x03\x7f") + section(0, name("pad") + b"\x7f\x7f")
    bad(data, "parameter count 3 is larger than")


def test_huge_counts_fail_fast_without_allocating() -> None:
    cases = [
        (section(1, u(0xFFFFFFFF)), "type count 4294967295 is larger than the 0 bytes left"),
        (section(2, u(0xFFFFFFFF) + b"xx"), "import count 4294967295"),
        (section(3, u(0x7FFFFFFF)), "function count 2147483647"),
        (section(10, u(0xFFFFFFFF)), "function body count 4294967295"),
        (section(11, u(0xFFFFFFFF)), "data segment count"),
        (section(13, u(1 << 31)), "tag count"),
    ]
    for payload, match in cases:
        tracemalloc.start()
        try:
            bad(HEADER + payload, match)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1_000_000, (match, peak)


def test_huge_local_count_and_data_size() -> None:
    code = body(END, locals_=[(0xFFFFFFFF, I32), (0xFFFFFFFF, I32)])
    data = module(bodies=[code])
    bad(data, "function body 0 declares too many locals")
    many_decls = u(5) + b"\x01\x7f" + END
    bad(module(bodies=[u(len(many_decls)) + many_decls]), "local declaration count 5 is larger")
    seg = section(11, vec([b"\x01" + u(0xFFFFFFF0)]))
    bad(HEADER + seg, "data segment bytes: need 4294967280 bytes")


def test_types_including_gc_rec_groups() -> None:
    struct = b"\x5f" + vec([bytes([I32, 1]), b"\x78\x00", b"\x63\x70\x00"])
    array = b"\x5e\x77\x01"
    rec = b"\x4e" + vec([b"\x50" + vec([]) + struct, b"\x4f" + vec([u(1)]) + array])
    ref_fn = b"\x60" + vec([b"\x64\x00", b"\x63\x6f"]) + vec([bytes([I64])])
    m = parse_module(HEADER + section(1, vec([functype([I32], [EXTERNREF]), rec, ref_fn])))
    assert m.types == [
        FuncType(("i32",), ("externref",)),
        None,
        None,
        FuncType(("(ref 0)", "(ref null extern)"), ("i64",)),
    ]
    bad(HEADER + section(1, vec([b"\x61"])), "invalid type form 0x61")
    bad(HEADER + section(1, vec([b"\x60\x01\x55\x00"])), "invalid value type 0x55")
    bad(HEADER + section(1, vec([b"\x60\x01\x64\x80\x7f\x00"])), "invalid heap type")
    bad(HEADER + section(1, vec([b"\x5f\x01\x7f\x02"])), "invalid field mutability 0x02")


def test_imports_of_every_kind() -> None:
    imports = [
        import_func("env", "f", 0),
        name("env") + name("t") + b"\x01" + bytes([FUNCREF]) + b"\x01\x01\x10",
        name("env") + name("m") + b"\x02\x05" + u(1) + u(2),  # 64-bit memory with max
        name("env") + name("g") + b"\x03" + bytes([I32]) + b"\x01",
        import_tag("./index_bg.js", "__wbindgen_jstag_1234abcd", 1),
    ]
    m = parse_module(module(types=[functype(), functype([EXTERNREF])], imports=imports))
    assert [i.kind for i in m.imports] == ["func", "table", "memory", "global", "tag"]
    assert m.imports[4] == Import("./index_bg.js", "__wbindgen_jstag_1234abcd", "tag", 1)
    assert m.imports[0].type_index == 0
    assert m.mem64
    assert m.imported("tag") == [m.imports[4]]


def test_import_errors() -> None:
    e = bad(module(imports=[name("a") + name("b") + b"\x05\x00"]), "invalid import kind 0x05")
    assert "for 'a'::'b'" in e.reason
    bad(module(imports=[name("a") + name("b") + b"\x04\x01\x00"]), "invalid tag attribute 0x01")
    bad(module(imports=[name("a") + name("b") + b"\x02\x10\x00"]), "invalid memory limits flags")
    bad(module(imports=[name("a") + name("b") + b"\x03\x7f\x02"]), "invalid global mutability")
    bad(module(imports=[name(b"\xc3\x28") + name("b") + b"\x00\x00"]), "not valid UTF-8")


def test_tables_memories_globals_exports_start() -> None:
    tables = section(4, vec([b"\x70\x00\x01", b"\x40\x00\x6f\x00\x00\xd0\x6f\x0b"]))
    mems = section(5, vec([b"\x00\x01", b"\x04\x01", b"\x03\x01\x02"]))  # shared one too
    glob = section(6, vec([global_i32(7), bytes([I64, 0]) + b"\x42" + s(-1) + END]))
    exp = section(7, vec([export("__instance_terminated", 3, 0), export("memory", 2, 0)]))
    start = section(8, u(0))
    funcs = section(3, vec([u(0)]))
    code = section(10, vec([body(END)]))
    types = section(1, vec([functype()]))
    m = parse_module(HEADER + types + funcs + tables + mems + glob + exp + start + code)
    assert m.tables == 2 and m.memories == [False, True, False] and m.mem64
    assert m.globals == 2 and m.start == 0
    assert [(e.name, e.kind, e.index) for e in m.exports] == [
        ("__instance_terminated", "global", 0),
        ("memory", "memory", 0),
    ]
    bad(HEADER + section(7, vec([export("x", 5, 0)])), "invalid export kind 0x05 for 'x'")
    bad(HEADER + section(4, vec([b"\x40\x01\x70\x00\x00"])), "expected 0x00 after 0x40")


def test_global_initialiser_errors_carry_context() -> None:
    g = bytes([I32, 0]) + b"\x41"  # i32.const without immediate, no end
    e = bad(HEADER + section(6, vec([g])), "global initialiser: unexpected end of data")
    assert e.offset == 14  # the missing immediate
    g = bytes([I32, 0]) + b"\x41\x00"  # missing end
    bad(HEADER + section(6, vec([g])), "global initialiser: expression ends without its final")


def test_element_segments_all_forms() -> None:
    off = b"\x41\x00" + END
    ref = b"\xd2\x00" + END
    segs = [
        u(0) + off + vec([u(0)]),
        u(1) + b"\x00" + vec([u(0)]),
        u(2) + u(0) + off + b"\x00" + vec([u(0)]),
        u(3) + b"\x00" + vec([u(0)]),
        u(4) + off + vec([ref]),
        u(5) + bytes([FUNCREF]) + vec([ref, b"\xd0\x70" + END]),
        u(6) + u(0) + off + bytes([FUNCREF]) + vec([ref]),
        u(7) + bytes([FUNCREF]) + vec([ref]),
    ]
    m = parse_module(HEADER + section(9, vec(segs)))
    assert m.elements == 8
    bad(HEADER + section(9, vec([u(8)])), "invalid element segment flags 8")
    bad(HEADER + section(9, vec([u(1) + b"\x01" + vec([])])), "invalid element kind")


def test_data_segments_and_datacount() -> None:
    off = b"\x41\x08" + END
    segs = [u(0) + off + name("abc"), u(1) + name(""), u(2) + u(0) + off + name("z")]
    m = parse_module(HEADER + section(12, u(3)) + section(11, vec(segs)))
    assert m.data_segments == 3 and m.data_count == 3
    bad(HEADER + section(12, u(2)) + section(11, vec(segs)), "data count section says 2")
    bad(HEADER + section(11, vec([u(3)])), "invalid data segment flags 3")


def test_tags_and_customs() -> None:
    data = module(
        types=[functype(), functype([I32])],
        tags=[1, 1],
        customs=[("name", b"\x00\x01\x02"), ("producers", b"")],
    )
    m = parse_module(data)
    assert m.tags == [1, 1]
    assert [(c.name, c.size) for c in m.customs] == [("name", 3), ("producers", 0)]
    bad(HEADER + section(0, b"\x05ab"), "custom section name: need 5 bytes")
    bad(HEADER + section(13, vec([b"\x01\x00"])), "invalid tag attribute")


def test_function_and_code_counts_must_match() -> None:
    data = module(funcs=[0, 0], bodies=[body(END)])
    bad(data, "function section declares 2 functions but the code section has 1 bodies")
    bad(module(funcs=[], bodies=[body(END)]), "declares 0 functions")


def test_body_ranges_and_body_errors() -> None:
    data = module(bodies=[body(END), body(b"\x01" + END, locals_=[(2, I32), (1, 0x7B)])])
    m = parse_module(data)
    (s0, e0), (s1, e1) = m.bodies
    assert data[s0:e0] == END and data[s1:e1] == b"\x01" + END
    over = module(funcs=[0], bodies=[u(50) + b"\x00\x0b"])
    bad(over, "function body 0 size 50 goes past the end of the code section")
    bad(module(bodies=[u(1) + b"\x00"]), "function body 0 has no instructions")
    bad(module(bodies=[u(3) + b"\x01\x01\x55"]), "invalid value type 0x55 in local type")
    bad(module(bodies=[u(3) + b"\x01\x01\x63"]), "unexpected end of data in local type")


# --- the export section's inline fast path against the Reader alone -----------------------------


def exports_by_reader(payload: bytes) -> list[tuple[str, str, int]] | tuple[str, int]:
    """What the export section reads to with the Reader only (the code before the fast
    path): the exports, or the error's reason and offset."""
    from worker_build.wasm.module import KIND_NAMES, _show
    from worker_build.wasm.reader import Reader

    r = Reader(payload)
    found = []
    try:
        for _ in range(r.count("export", 3)):
            name = r.name("export name")
            at = r.pos
            kind = r.byte("export kind")
            if kind > 4:
                raise r.fail(f"invalid export kind 0x{kind:02x} for {_show(name)}", at)
            found.append((name, KIND_NAMES[kind], r.u32("export index")))
    except InvalidWasmError as e:
        return (e.reason, e.offset)
    if r.pos != len(payload):
        return ("trailing", r.pos)
    return found


def exports_parsed(payload: bytes) -> list[tuple[str, str, int]] | tuple[str, int]:
    from worker_build.wasm.module import _export_section
    from worker_build.wasm.reader import Reader
    from worker_build.wasm.records import Module

    r, m = Reader(payload), Module(0)
    try:
        _export_section(r, m)
    except InvalidWasmError as e:
        return (e.reason, e.offset)
    if r.pos != len(payload):
        return ("trailing", r.pos)
    return [(e.name, e.kind, e.index) for e in m.exports]


@st.composite
def export_payloads(draw: st.DrawFn) -> bytes:
    """Export sections with names of every length class (one-, two-, three-byte
    lengths), invalid UTF-8, kinds 0-6, indices in one to five bytes (padded too), and
    cut short anywhere."""
    items = []
    for _ in range(draw(st.integers(0, 4))):
        raw = draw(st.one_of(
            st.text(max_size=40).map(str.encode),
            st.text(min_size=60, max_size=200).map(str.encode),
            st.binary(max_size=20),
            # bytes that read as a kind, an index and UTF-8 wherever a misstep lands
            st.integers(0, 300).map(lambda n: b"\x01" * n),
            st.just(b"x" * 0x4000),
        ))  # fmt: skip
        padded_to = draw(st.integers(0, 5))  # 0: the shortest encoding
        length = u_padded(len(raw), padded_to) if padded_to else u(len(raw))
        index = draw(st.integers(0, 2**35))  # past u32 too: the Reader rejects those
        encoded = u(index) if draw(st.booleans()) else u_padded(index, 5)
        items.append(length + raw + bytes([draw(st.integers(0, 6))]) + encoded)
    payload = u(len(items)) + b"".join(items)
    cut = draw(st.integers(0, len(payload)))
    return payload if draw(st.booleans()) else payload[:cut]


@settings(max_examples=400, deadline=None)
@given(export_payloads())
def test_the_export_fast_path_reads_what_the_reader_reads(payload: bytes) -> None:
    assert exports_parsed(payload) == exports_by_reader(payload)
