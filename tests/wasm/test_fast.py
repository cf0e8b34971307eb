"""The fast path of body decoding (wasm/fast.py), by its public functions on small
hand-made bodies: `scan_ranges` over several bodies laid out as in a code section, and
`scan_body`. tests/wasm/test_code.py runs both decoders on the same bodies and
tests/wasm/test_fuzz.py checks that they agree on mutated ones."""

from __future__ import annotations

import pytest

from tests.support.wasmgen import END, s, u, vec
from worker_build.errors import InvalidWasmError
from worker_build.wasm import code, fast
from worker_build.wasm.code import CATCH_REF_USE, CATCH_USE, N_SLOTS, THROW_USE

NOP, DROP, I32_CONST = b"\x01", b"\x1a", b"\x41"
TRY, CATCH, CATCH_ALL, RETHROW, THROW = b"\x06\x40", b"\x07", b"\x19", b"\x09", b"\x08"
TRY_TABLE, THROW_REF = b"\x1f\x40", b"\x0a"

PLAIN = I32_CONST + s(7) + DROP + END
LEGACY = TRY + THROW + u(2) + CATCH + u(2) + CATCH_ALL + RETHROW + u(0) + END + END
EXNREF = TRY_TABLE + vec([b"\x00" + u(3) + u(0), b"\x01" + u(4) + u(0)]) + END + END
UNKNOWN_OPCODE = NOP + b"\xff" + END  # 0xff is no opcode: at the body's second byte
# What precedes the bodies in a module (the sections before, the code section's header):
# offsets are the module's, not the body's.
HEADER = b"\x00asm\x01\x00\x00\x00\x0a\x00"


def laid_out(*bodies: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """The bodies end to end after HEADER, and the range of each."""
    data, ranges = bytearray(HEADER), []
    for body in bodies:
        ranges.append((len(data), len(data) + len(body)))
        data += body
    return bytes(data), ranges


def named(counts: list[int]) -> dict[str, int]:
    names = (*code.SLOT_NAMES, "catch_clause", "catch_ref_clause", "catch_all_clause",
             "catch_all_ref_clause")  # fmt: skip
    return {n: c for n, c in zip(names, counts, strict=True) if c}


def test_no_bodies() -> None:
    scan = fast.scan_ranges(HEADER, [])
    assert (scan.totals, scan.with_eh, scan.error) == ([0] * N_SLOTS, 0, None)


def test_counts_are_summed_over_the_bodies() -> None:
    data, ranges = laid_out(PLAIN, LEGACY, EXNREF, LEGACY, PLAIN)
    scan = fast.scan_ranges(data, ranges)
    assert scan.error is None
    assert named(scan.totals) == {
        "try": 2, "catch": 2, "catch_all": 2, "rethrow": 2, "throw": 2, "try_table": 1,
        "catch_clause": 1, "catch_ref_clause": 1,
    }  # fmt: skip
    assert scan.with_eh == 3  # bodies holding an EH instruction, not instructions


def test_tag_uses_are_summed_over_the_bodies() -> None:
    data, ranges = laid_out(LEGACY, EXNREF, LEGACY)
    for immediates in (False, True):
        uses: code.TagUses = {}
        fast.scan_ranges(data, ranges, tag_uses=uses, immediates=immediates)
        assert uses == {(THROW_USE, 2): 2, (CATCH_USE, 2): 2, (CATCH_USE, 3): 1,
                        (CATCH_REF_USE, 4): 1}  # fmt: skip


def test_tags_named_before_and_after_the_first_try_table() -> None:
    """Before a module shows try_table, tags are read by a second pass over the bodies
    naming them; from the first one on, the main pass captures them: both are counted."""
    throw = THROW + u(5) + END
    data, ranges = laid_out(throw, throw, EXNREF, throw, EXNREF)
    uses: code.TagUses = {}
    scan = fast.scan_ranges(data, ranges, tag_uses=uses)
    assert uses == {(THROW_USE, 5): 3, (CATCH_USE, 3): 2, (CATCH_REF_USE, 4): 2}
    assert named(scan.totals) == {"throw": 3, "try_table": 2, "catch_clause": 2,
                                  "catch_ref_clause": 2}  # fmt: skip


def test_repeated_clause_vectors_are_counted_each_time() -> None:
    data, ranges = laid_out(*[EXNREF] * 50)
    uses: code.TagUses = {}
    scan = fast.scan_ranges(data, ranges, tag_uses=uses)
    assert named(scan.totals) == {"try_table": 50, "catch_clause": 50, "catch_ref_clause": 50}
    assert uses == {(CATCH_USE, 3): 50, (CATCH_REF_USE, 4): 50}
    assert scan.with_eh == 50


def test_a_malformed_body_is_reported_by_its_index_and_module_offset() -> None:
    data, ranges = laid_out(PLAIN, LEGACY, UNKNOWN_OPCODE, PLAIN)
    scan = fast.scan_ranges(data, ranges)
    assert scan.error is not None
    index, error = scan.error
    assert index == 2
    assert error.reason == "unknown opcode 0xff"
    assert error.offset == ranges[2][0] + 1 == len(HEADER) + len(PLAIN) + len(LEGACY) + 1
    assert data[error.offset] == 0xFF


def test_the_first_malformed_body_by_index_is_reported() -> None:
    late_in_its_body = PLAIN[:-1] + b"\x16" + END  # unknown opcode after three good bytes
    data, ranges = laid_out(PLAIN, late_in_its_body, UNKNOWN_OPCODE, b"\x16" + END)
    scan = fast.scan_ranges(data, ranges)
    assert scan.error is not None
    assert scan.error[0] == 1
    assert scan.error[1].offset == ranges[1][0] + len(PLAIN) - 1


def test_a_body_never_reads_into_the_next() -> None:
    """A body cut short is an error at its own end, although the bytes after it (the next
    body) would complete it."""
    data, ranges = laid_out(I32_CONST, s(7) + DROP + END)
    scan = fast.scan_ranges(data, ranges)
    assert scan.error is not None
    assert scan.error[0] == 0
    assert scan.error[1].offset == ranges[0][1]
    assert "unexpected end of data" in scan.error[1].reason


def test_scan_body_returns_the_counts_of_one_body() -> None:
    data, ((start, end),) = laid_out(LEGACY)
    counts = fast.scan_body(data, start, end)
    assert named(counts) == {"try": 1, "catch": 1, "catch_all": 1, "rethrow": 1, "throw": 1}
    assert counts == code.walk_body(data, start, end)


def test_scan_body_raises_the_error_with_the_offset_in_the_data() -> None:
    data, ((start, end),) = laid_out(UNKNOWN_OPCODE)
    with pytest.raises(InvalidWasmError, match=r"invalid wasm at byte 0xb: unknown opcode 0xff"):
        fast.scan_body(data, start, end)
    assert start + 1 == 0xB


def test_a_64_bit_memory_takes_64_bit_offsets() -> None:
    load = b"\x28\x02" + u(1 << 40) + DROP + END  # i32.load with an offset past 4 GiB
    data, ranges = laid_out(load)
    assert fast.scan_ranges(data, ranges, mem64=True).error is None
    scan = fast.scan_ranges(data, ranges)
    assert scan.error is not None and "LEB128 too long" in scan.error[1].reason


def test_vectors_past_the_fast_limits_decode_the_same() -> None:
    """br_table and try_table vectors longer than the expression's limits are decoded
    by Python: the same result."""
    many_targets = b"\x0e" + vec([u(0)] * (fast.MAX_FAST_TARGETS + 5)) + u(0) + END
    many_clauses = (
        TRY_TABLE + vec([b"\x00" + u(1) + u(0)] * (fast.MAX_FAST_CLAUSES + 2)) + END + END
    )
    data, ranges = laid_out(many_targets, many_clauses)
    uses: code.TagUses = {}
    scan = fast.scan_ranges(data, ranges, tag_uses=uses)
    assert scan.error is None
    assert named(scan.totals) == {"try_table": 1, "catch_clause": fast.MAX_FAST_CLAUSES + 2}
    assert uses == {(CATCH_USE, 1): fast.MAX_FAST_CLAUSES + 2}
    assert scan.with_eh == 1
