"""Instruction decoding of function bodies (worker_build/wasm/code.py and fast.py).

Every test runs both decoders: `walk_body` (reference) and `scan_body` (regex
fast path with fallback) must give the same counts or the same error.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.wasmgen import END, I32, catalogue, func_module, s, u, u_padded, vec
from worker_build.errors import InvalidWasmError
from worker_build.wasm import code, fast
from worker_build.wasm import opcodes as ops

BLOCK, LOOP, IF, ELSE, TRY, CATCH, THROW, RETHROW = (
    b"\x02\x40", b"\x03\x40", b"\x04\x40", b"\x05", b"\x06\x40", b"\x07", b"\x08", b"\x09",
)  # fmt: skip
CATCH_ALL, DELEGATE, THROW_REF, TRY_TABLE = b"\x19", b"\x18", b"\x0a", b"\x1f\x40"
NOP, DROP, I32_CONST = b"\x01", b"\x1a", b"\x41"


def both(body: bytes, mem64: bool = False) -> dict[str, int]:
    """Counts by name from both decoders, which must agree."""
    slow = code.walk_body(body, 0, len(body), mem64)
    assert fast.scan_body(body, 0, len(body), mem64) == slow
    assert fast.scan_body(body, 0, len(body), mem64, None, True) == slow  # clause mode
    names = code.SLOT_NAMES + tuple(f"clause_{c}" for c in ops.CATCH_CLAUSES)
    return {n: c for n, c in zip(names, slow, strict=True) if c}


def both_fail(body: bytes, match: str, mem64: bool = False) -> InvalidWasmError:
    with pytest.raises(InvalidWasmError, match=match) as slow:
        code.walk_body(body, 0, len(body), mem64)
    for clauses in (False, True):
        with pytest.raises(InvalidWasmError) as quick:
            fast.scan_body(body, 0, len(body), mem64, None, clauses)
        assert (quick.value.reason, quick.value.offset) == (slow.value.reason, slow.value.offset)
    return slow.value


def fast_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fallback(*args: object) -> list[int]:
        raise AssertionError("scan_body fell back to walk_body")

    monkeypatch.setattr(fast, "walk_body", no_fallback)


@pytest.mark.parametrize(("label", "enc"), catalogue())
def test_every_known_instruction_decodes_on_the_fast_path(
    label: str, enc: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = enc + enc + END
    assert code.walk_body(body, 0, len(body)) == [0] * code.N_SLOTS
    fast_path_only(monkeypatch)
    assert fast.scan_body(body, 0, len(body)) == [0] * code.N_SLOTS


def test_all_instructions_in_one_body() -> None:
    body = b"".join(enc for _, enc in catalogue()) + END
    assert both(body) == {}


def test_legacy_eh_counts() -> None:
    body = (
        TRY + NOP + THROW + u(0) + CATCH + u(0) + RETHROW + u(0)
        + CATCH + u(1) + NOP + CATCH_ALL + RETHROW + u(0) + END
        + TRY + BLOCK + END + DELEGATE + u(0)
        + TRY + CATCH_ALL + END + END
    )  # fmt: skip
    assert both(body) == {
        "try": 3, "catch": 2, "catch_all": 2, "rethrow": 2, "delegate": 1, "throw": 1,
    }  # fmt: skip


def test_exnref_eh_counts_and_clause_kinds() -> None:
    clauses = vec([b"\x00" + u(0) + u(0), b"\x01" + u(0) + u(1), b"\x02" + u(0), b"\x03" + u(1)])
    body = (
        BLOCK + b"\x1f\x7f" + clauses + I32_CONST + s(1) + END + DROP + END
        + b"\x02\x69" + TRY_TABLE + vec([b"\x03" + u(1)]) + END + b"\xd0\x74" + END
        + THROW_REF + THROW + u(0) + END
    )  # fmt: skip
    assert both(body) == {
        "try_table": 2, "throw_ref": 1, "throw": 1,
        "clause_catch": 1, "clause_catch_ref": 1, "clause_catch_all": 1, "clause_catch_all_ref": 2,
    }  # fmt: skip


def test_tag_uses_from_both_decoders(monkeypatch: pytest.MonkeyPatch) -> None:
    clauses = vec([b"\x00" + u(3) + u(0), b"\x01" + u(300) + u(0), b"\x03" + u(0)])
    body = (
        TRY + THROW + u(2) + CATCH + u(2) + CATCH + u(0) + END
        + TRY_TABLE + clauses + THROW + u(300) + END + THROW + u(2) + END
    )  # fmt: skip
    expected = {
        (code.THROW_USE, 2): 2, (code.CATCH_USE, 2): 1, (code.CATCH_USE, 0): 1,
        (code.CATCH_USE, 3): 1, (code.CATCH_REF_USE, 300): 1, (code.THROW_USE, 300): 1,
    }  # fmt: skip
    slow: dict[tuple[int, int], int] = {}
    code.walk_body(body, 0, len(body), False, slow)
    assert slow == expected
    fast_path_only(monkeypatch)
    for clauses in (False, True):
        uses: dict[tuple[int, int], int] = {}
        counts = fast.scan_body(body, 0, len(body), False, uses, clauses)
        assert uses == expected
        assert counts[code.CLAUSE_SLOT_BASE :] == [1, 1, 0, 1]


def test_many_clauses_and_targets_take_the_slow_path_and_agree() -> None:
    clauses = vec([b"\x02" + u(0)] * 9 + [b"\x00" + u_padded(3, 5) + u(0)])
    body = TRY_TABLE + clauses + END + b"\x0e" + vec([u(i % 3) for i in range(200)]) + u(0) + END
    assert both(body) == {"try_table": 1, "clause_catch_all": 9, "clause_catch": 1}


@pytest.mark.parametrize("blocktype", [b"\x40", b"\x7f", b"\x63\x70", b"\x64\x05", b"\x85\x01"])
def test_long_br_tables_stay_on_the_fast_path(
    blocktype: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # big `match` statements: the main expression stops at each br_table with more
    # than MAX_FAST_TARGETS targets, Python reads it, and decoding resumes after it
    table = b"\x0e" + vec([u(i % 3) for i in range(200)]) + u(0)
    catches = vec([b"\x00" + u(300) + u(0), b"\x03" + u(0)])
    body = (
        BLOCK + BLOCK + BLOCK + I32_CONST + s(1) + table + END + END + END
        + b"\x1f" + blocktype + catches + THROW + u(300) + END
        + TRY + I32_CONST + s(0) + table + CATCH + u(2) + END + table + END
    )  # fmt: skip
    slow: dict[tuple[int, int], int] = {}
    expected = code.walk_body(body, 0, len(body), False, slow)
    assert slow == {(code.CATCH_USE, 300): 1, (code.THROW_USE, 300): 1, (code.CATCH_USE, 2): 1}
    fast_path_only(monkeypatch)
    for immediates in (False, True):
        uses: dict[tuple[int, int], int] = {}
        assert fast.scan_body(body, 0, len(body), False, uses, immediates) == expected
        assert uses == slow
    assert expected[code.CLAUSE_SLOT_BASE :] == [1, 0, 0, 1]


@pytest.mark.parametrize(
    "body",
    [
        b"\x0e" + vec([u(0)] * 20) + END,  # a count of 20 with 21 targets: one short
        b"\x0e" + vec([u(0)] * 20) + u(0),  # no final end after the br_table
        b"\x0e" + vec([u(0)] * 20) + u(0) + END + b"\x01",  # a byte after the final end
        b"\x0e" + u_padded(20, 6) + b"\x00" * 21 + END,  # an over-long count
    ],
)
def test_long_br_table_errors_are_the_reference_errors(body: bytes) -> None:
    with pytest.raises(InvalidWasmError) as slow:
        code.walk_body(body, 0, len(body))
    both_fail(body, re.escape(slow.value.reason))


@pytest.mark.parametrize(
    "blocktype",
    [b"\x40", b"\x7f", b"\x7b", b"\x6f", b"\x69", b"\x63\x70", b"\x64\x05", b"\x00", b"\x85\x01"],
)
def test_block_types(blocktype: bytes) -> None:
    assert both(b"\x02" + blocktype + END + b"\x06" + blocktype + CATCH_ALL + END + END) == {
        "try": 1,
        "catch_all": 1,
    }


def test_non_canonical_lebs_and_mem64(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (
        b"\x20" + u_padded(0, 5)  # local.get 0, padded
        + b"\x28\x02" + u_padded(8, 3)  # i32.load
        + b"\x28\x42" + u(1) + u(0)  # multi-memory: flag bit 6 + memory index
        + b"\xfd\x80\x01"  # SIMD sub-opcode 128 in two bytes
        + b"\xfc\x0a\x00\x00" + END
    )  # fmt: skip
    assert both(body) == {}
    wide = b"\x28\x02" + u((1 << 40) + 3) + END  # 64-bit offset
    assert both(wide, mem64=True) == {}
    both_fail(wide, "offset: LEB128 too long")


def test_deep_nesting_is_iterative() -> None:
    depth = 50_000
    body = BLOCK * depth + TRY * 10 + CATCH_ALL * 0 + END * (depth + 10) + END
    assert both(body) == {"try": 10}


@pytest.mark.parametrize(
    ("body", "match", "offset"),
    [
        (b"\x16" + END, "unknown opcode 0x16", 0),
        (NOP + b"\xff" + END, "unknown opcode 0xff", 1),
        (b"\xfd\x9a\x01" + END, "unknown SIMD opcode 0xfd 154", 0),
        (b"\xfc\x30" + END, r"unknown 0xFC \(bulk memory/saturating\) opcode 0xfc 48", 0),
        (b"\xfe\x04" + END, "unknown atomics opcode", 0),
        (b"\xfb\x7f" + END, "unknown GC opcode", 0),
        (I32_CONST, "unexpected end of data in immediate of opcode 0x41", 1),
        (I32_CONST + b"\x80\x80", "unexpected end of data", 1),
        (b"\x44\x00\x00\x00", "need 8 bytes", 1),
        (b"\x28\x02", "unexpected end of data in memarg of opcode 0x28 offset", 2),
        (b"\xfd\x0c" + bytes(15), "need 16 bytes", 2),
        (b"\xfd", "unexpected end of data in sub-opcode after 0xfd", 1),
        (b"\x02", "unexpected end of data in block type", 1),
        (NOP + NOP, "expression ends without its final end", 2),
        (BLOCK + NOP, "expression ends inside 1 unclosed block", 3),
        (BLOCK + NOP + END, "expression ends without its final end", 4),
        (END + NOP, "1 bytes after the final end of the body", 1),
        (END + END, "1 bytes after the final end of the body", 1),
        (I32_CONST + b"\x80\x80\x80\x80\x80\x00" + END, "LEB128 too long", 1),
        (I32_CONST + b"\xff\xff\xff\xff\x4f" + END, "overflows s32", 1),
        (b"\x20\xff\xff\xff\xff\x1f" + END, "overflows u32", 1),
        (b"\x42" + b"\xff" * 9 + b"\x01" + END, "overflows s64", 1),
        (ELSE + END, "else not allowed inside function body", 0),
        (BLOCK + ELSE + END + END, "else not allowed inside block", 2),
        (IF + ELSE + ELSE + END + END, "else not allowed inside else branch", 3),
        (CATCH + u(0) + END, "catch not allowed inside function body", 0),
        (BLOCK + CATCH_ALL + END + END, "catch_all not allowed inside block", 2),
        (TRY + CATCH_ALL + CATCH + u(0) + END + END, "catch not allowed inside catch_all", 3),
        (TRY + CATCH + u(0) + DELEGATE + u(0) + END, "delegate not allowed inside catch", 4),
        (LOOP + DELEGATE + u(0) + END, "delegate not allowed inside loop", 2),
        (TRY_TABLE + vec([b"\x00" + u(0) + u(0)]) + ELSE + END + END, "inside try_table", 6),
        (b"\x02\x55" + END + END, "invalid block type 0x55", 1),
        (b"\x02\x63\x55" + END + END, "invalid heap type", 2),
        (b"\x28\x80\x01\x00" + END, "malformed memarg flags 0x80", 1),
        (b"\xfe\x03\x01" + END, "atomic.fence needs a 0x00 byte", 2),
        (b"\xfb\x18\x04\x00\x6e\x6e" + END, "invalid br_on_cast flags", 2),
        (b"\x1c\x01\x55" + END, "invalid value type 0x55 in select type", 2),
        (TRY_TABLE + vec([b"\x04" + u(0)]) + END + END, "invalid try_table catch kind 0x04", 3),
        (b"\x0e" + u(0xFFFFFFFF) + END, "br_table target count 4294967295 exceeds", 1),
        (TRY_TABLE + u(0xFFFFFFFF) + END, "try_table catch count 4294967295 exceeds", 2),
        (b"\x1c" + u(1 << 30) + END, "select type count", 1),
        (TRY_TABLE + b"\x01\x00\x00", "unexpected end of data in try_table catch label", 5),
    ],
)
def test_errors(body: bytes, match: str, offset: int) -> None:
    assert both_fail(body, match).offset == offset


def test_fast_path_handles_typical_bodies_without_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    body = (
        b"\x20\x00\x41\x04\x6a\x22\x01\x28\x02\x00\x45\x0d\x00"
        + TRY + b"\x20\x01\x10\x03" + CATCH + u(0) + b"\x1a" + CATCH_ALL + RETHROW + u(0) + END
        + b"\x04\x7f\x41\x01\x05\x41\x02\x0b\x1a"
        + b"\x0e\x02\x00\x01\x00" + END
    )  # fmt: skip
    expected = both(body)
    fast_path_only(monkeypatch)
    counts = fast.scan_body(body, 0, len(body))
    assert {n: c for n, c in zip(code.SLOT_NAMES, counts, strict=False) if c} == expected


def test_scan_body_respects_bounds_inside_a_larger_buffer() -> None:
    data = b"\x41" + NOP + END + b"\x41"  # a body in the middle of unrelated bytes
    assert fast.scan_body(data, 1, 3) == code.walk_body(data, 1, 3) == [0] * code.N_SLOTS
    with pytest.raises(InvalidWasmError, match="unexpected end") as e:
        fast.scan_body(data + b"\x0b", 3, 4)  # a lone i32.const: the 0x0b is out of bounds
    assert e.value.offset == 4


def test_walk_expr_returns_the_position_after_end() -> None:
    data = b"\x41\x05" + END + b"rest"
    assert code.walk_expr(data, 0, len(data)) == 3
    assert code.walk_expr(b"\x23\x00" + END, 0, 3) == 3


@pytest.mark.slow
def test_opcode_tables_agree_with_wasm_tools(tmp_path: Path) -> None:
    """Every opcode we know decodes in wasm-tools with the immediates we expect;
    every one we reject in the base, SIMD and threads ranges wasm-tools rejects."""
    tool = str(Path(sys.executable).parent / "wasm-tools")
    cat = catalogue()
    path = tmp_path / "all.wasm"
    path.write_bytes(func_module(*(enc + END for _, enc in cat)))
    out = subprocess.run([tool, "print", str(path)], capture_output=True, text=True, check=True)
    bodies = out.stdout.split("\n  (func ")[1:]
    assert len(bodies) == len(cat)
    for (label, _), text in zip(cat, bodies, strict=True):
        instrs = [ln.strip() for ln in text.splitlines()[1:] if ln.strip() not in ("", ")")]
        assert len(instrs) == 1, (label, instrs)  # one instruction: immediates consumed exactly
    unknown = [bytes([op]) for op, k in enumerate(ops.BASE) if k == ops.UNKNOWN]
    unknown += [b"\xfd" + u(i) for i in range(0x120) if i not in ops.FD]
    unknown += [b"\xfe" + u(i) for i in range(0x4F) if i not in ops.FE]
    unknown += [b"\xfc" + u(i) for i in (0x11 + 0x20, 0x40)]
    stack_switching = range(0xE0, 0xE7)  # known to wasm-tools, not emitted by our toolchain
    for enc in unknown:
        if enc[0] in stack_switching:
            continue
        path.write_bytes(func_module(enc + bytes(20) + END))
        proc = subprocess.run([tool, "print", str(path)], capture_output=True, text=True)
        assert proc.returncode != 0, enc.hex()
        assert "opcode" in proc.stderr, (enc.hex(), proc.stderr)
        with pytest.raises(InvalidWasmError, match="unknown"):
            code.walk_body(enc + bytes(20) + END, 0, len(enc) + 21)


def test_eh_tables_are_consistent() -> None:
    assert set(code.EH_SLOT) == set(ops.EH_NAMES)
    for op, slot in code.EH_SLOT.items():
        assert code.SLOT_NAMES[slot] == ops.EH_NAMES[op]
    assert I32 == 0x7F


def test_scan_ranges_counts_the_bodies_with_eh() -> None:
    plain = I32_CONST + s(1) + DROP + END
    fast_eh = TRY + CATCH_ALL + END + END
    slow_eh = TRY_TABLE + vec([b"\x02" + u(0)] * 9) + END + END  # 9 clauses: walk_body
    for bodies, with_eh in (([plain, fast_eh, slow_eh], 2), ([slow_eh], 1), ([plain], 0)):
        data = b"".join(bodies)
        ranges, pos = [], 0
        for body in bodies:
            ranges.append((pos, pos + len(body)))
            pos += len(body)
        scan = fast.scan_ranges(data, ranges)
        assert scan.error is None and scan.with_eh == with_eh
        counts = [code.walk_body(b, 0, len(b)) for b in bodies]
        expected = [sum(col) for col in zip(*counts, strict=True)]
        assert scan.totals == expected
