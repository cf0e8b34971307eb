"""LEB128 and bounded reads (worker_build/wasm/reader.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.wasmgen import s, u, u_padded
from worker_build.errors import InvalidWasmError
from worker_build.wasm.reader import Reader, read_leb_s, read_leb_u


def test_u32_values_and_positions() -> None:
    assert read_leb_u(b"\x00", 0, 1, 32, "x") == (0, 1)
    assert read_leb_u(b"\x7f", 0, 1, 32, "x") == (127, 1)
    assert read_leb_u(b"\xe5\x8e\x26", 0, 3, 32, "x") == (624485, 3)
    assert read_leb_u(b"\xff\xff\xff\xff\x0f", 0, 5, 32, "x") == (0xFFFFFFFF, 5)
    # non-canonical but within 5 bytes is valid
    assert read_leb_u(b"\x80\x80\x80\x80\x00", 0, 5, 32, "x") == (0, 5)
    assert read_leb_u(b"zz\x81\x01", 2, 4, 32, "x") == (129, 4)


def test_u32_overflow_names_offset_and_value_kind() -> None:
    with pytest.raises(InvalidWasmError) as e:
        read_leb_u(b"\x00\xff\xff\xff\xff\x1f", 1, 6, 32, "section size")
    assert e.value.offset == 1
    assert "section size" in e.value.reason and "overflows u32" in e.value.reason
    assert str(e.value).startswith("invalid wasm at byte 0x1:")


def test_u32_too_long() -> None:
    with pytest.raises(InvalidWasmError, match="too long"):
        read_leb_u(b"\x80\x80\x80\x80\x80\x00", 0, 6, 32, "x")


def test_leb_truncated_by_bound_not_by_buffer() -> None:
    data = b"\x80\x80\x01"  # complete in the buffer, but the bound cuts it
    with pytest.raises(InvalidWasmError, match="unexpected end") as e:
        read_leb_u(data, 0, 2, 32, "x")
    assert e.value.offset == 0
    with pytest.raises(InvalidWasmError, match="unexpected end"):
        read_leb_u(b"", 0, 0, 32, "x")


@pytest.mark.parametrize(
    ("raw", "bits", "value"),
    [
        (b"\x7f", 32, -1),
        (b"\x3f", 32, 63),
        (b"\x40", 32, -64),
        (b"\x80\x80\x80\x80\x78", 32, -(2**31)),
        (b"\xff\xff\xff\xff\x07", 32, 2**31 - 1),
        (b"\xff\xff\xff\xff\x0f", 33, 2**32 - 1),
        (b"\x80\x80\x80\x80\x70", 33, -(2**32)),
        (b"\x80" * 9 + b"\x7f", 64, -(2**63)),
        (b"\xff" * 9 + b"\x00", 64, 2**63 - 1),
    ],
)
def test_signed_boundaries(raw: bytes, bits: int, value: int) -> None:
    assert read_leb_s(raw, 0, len(raw), bits, "x") == (value, len(raw))


@pytest.mark.parametrize(
    ("raw", "bits"),
    [
        (b"\x80\x80\x80\x80\x70", 32),  # sign bit clear but high bits set
        (b"\xff\xff\xff\xff\x0f", 32),  # 2**32-1 does not fit s32
        (b"\xff\xff\xff\xff\x4f", 33),
        (b"\xff" * 9 + b"\x01", 64),
        (b"\x80" * 9 + b"\x7e", 64),
    ],
)
def test_signed_overflow(raw: bytes, bits: int) -> None:
    with pytest.raises(InvalidWasmError, match=f"overflows s{bits}"):
        read_leb_s(raw, 0, len(raw), bits, "x")


def test_signed_too_long() -> None:
    with pytest.raises(InvalidWasmError, match="too long"):
        read_leb_s(b"\xff" * 10 + b"\x7f", 0, 11, 64, "x")
    with pytest.raises(InvalidWasmError, match="too long"):
        read_leb_s(b"\x80" * 5 + b"\x00", 0, 6, 32, "x")


def test_u64_bounds() -> None:
    assert read_leb_u(b"\xff" * 9 + b"\x01", 0, 10, 64, "x") == (2**64 - 1, 10)
    with pytest.raises(InvalidWasmError, match="overflows u64"):
        read_leb_u(b"\xff" * 9 + b"\x02", 0, 10, 64, "x")


@given(st.integers(0, 2**32 - 1), st.integers(0, 4))
def test_u32_roundtrip_with_padding(n: int, pad: int) -> None:
    raw = u(n)
    raw = u_padded(n, min(5, len(raw) + pad))
    r = Reader(raw + b"tail")
    assert r.u32("x") == n
    assert r.pos == len(raw)


@given(st.integers(-(2**63), 2**63 - 1))
def test_s64_roundtrip(n: int) -> None:
    raw = s(n)
    assert read_leb_s(raw, 0, len(raw), 64, "x") == (n, len(raw))


@given(st.integers(-(2**31), 2**31 - 1))
def test_s32_roundtrip(n: int) -> None:
    r = Reader(s(n))
    assert r.s32("x") == n
    assert r.at_end()


@given(st.binary(max_size=12))
def test_any_bytes_decode_or_raise_invalid(raw: bytes) -> None:
    for bits in (32, 64):
        try:
            value, pos = read_leb_u(raw, 0, len(raw), bits, "x")
            assert 0 <= value < 2**bits and 1 <= pos <= (bits + 6) // 7
        except InvalidWasmError:
            pass
    for bits in (32, 33, 64):
        try:
            value, pos = read_leb_s(raw, 0, len(raw), bits, "x")
            assert -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)
        except InvalidWasmError:
            pass


def test_reader_count_rejects_counts_larger_than_the_bytes_left() -> None:
    r = Reader(u(0xFFFFFFFF) + b"abc")
    with pytest.raises(InvalidWasmError, match="import count 4294967295 is larger than the 3"):
        r.count("import")
    r = Reader(u(2) + b"abcd")
    assert r.count("thing", min_size=2) == 2
    r = Reader(u(3) + b"abcd")
    with pytest.raises(InvalidWasmError, match="larger than"):
        r.count("thing", min_size=2)


def test_reader_take_skip_byte_respect_end() -> None:
    r = Reader(b"abcdef", 1, 4)
    assert r.take(2, "x") == b"bc"
    with pytest.raises(InvalidWasmError, match="need 2 bytes, 1 left") as e:
        r.take(2, "payload")
    assert e.value.offset == 3
    with pytest.raises(InvalidWasmError):
        r.skip(5, "x")
    assert r.byte("x") == ord("d")
    with pytest.raises(InvalidWasmError, match="unexpected end of data in section id"):
        r.byte("section id")
    with pytest.raises(InvalidWasmError):
        r.peek("x")


def test_reader_name() -> None:
    assert Reader(b"\x03abc").name("n") == "abc"
    with pytest.raises(InvalidWasmError, match="not valid UTF-8") as e:
        Reader(b"\x00\x02\xff\xfe", 1).name("export name")
    assert e.value.offset == 1
    with pytest.raises(InvalidWasmError, match="unexpected end"):
        Reader(b"\x05ab").name("n")
