"""Typed arrays, `&mut` slices and `Vec<String>` through the generated calls
(abi_arrays + codegen), against the fake wasm side of tests/support/loaderabi.py."""

from __future__ import annotations

from array import array
from typing import Any

import pytest

from tests.support.loaderabi import make
from worker_build.loader import abi_arrays

ELEMENTS = sorted(e for e in abi_arrays.ELEMENTS if e != "u8")
SAMPLES: dict[str, list[Any]] = {
    "i8": [-128, 0, 127],
    "i16": [-32768, 1, 32767],
    "u16": [0, 65535],
    "i32": [-(2**31), 2**31 - 1],
    "u32": [0, 2**32 - 1],
    "i64": [-(2**63), 2**63 - 1],
    "u64": [0, 2**64 - 1],
    "f32": [0.5, -2.25],
    "f64": [0.1, -1e300, float("inf")],
}


@pytest.mark.parametrize("element", ELEMENTS)
def test_arrays_round_trip_from_lists_and_arrays(element: str) -> None:
    f, fake = make([f"array_{element}"], f"array_{element}")
    code, size, _ = abi_arrays.ELEMENTS[element]
    values = SAMPLES[element]
    for given in (values, tuple(values), array(code, values), memoryview(array(code, values))):
        got = f(given)
        assert type(got) is array and got.typecode == code and got.tolist() == values
    assert f([]).tolist() == []
    ptr, n = fake.allocated[0]
    assert n == size * len(values) and ptr % size == 0  # aligned as Rust needs
    assert fake.freed[0][1:] == (size * len(values), size)  # the Vec is freed with its layout


def test_a_buffer_of_another_type_is_converted_element_by_element() -> None:
    f, _ = make(["array_f64"], "array_f64")
    assert f(array("i", [1, 2])).tolist() == [1.0, 2.0]
    g, _ = make(["array_i16"], "array_i16")
    assert g(array("q", [5, -5])).tolist() == [5, -5]
    with pytest.raises(OverflowError, match=r"f\(\) argument 'p0' cannot be an array\('h'\)"):
        g(array("q", [1 << 20]))


@pytest.mark.parametrize(
    ("kind", "value", "error", "text"),
    [
        ("array_i32", [1.5], TypeError, r"cannot be an array\('i'\)"),
        ("array_u32", [-1], OverflowError, r"cannot be an array\('I'\)"),
        ("array_f64", ["x"], TypeError, r"cannot be an array\('d'\)"),
        ("array_f64", "12", TypeError, "must be a sequence of numbers"),
        ("array_f64", 5, TypeError, "must be a sequence of numbers"),
        ("strings", "abc", TypeError, "must be a sequence of str, not str"),
        ("strings", ["a", 1], TypeError, r"\[1\] must be str, not int"),
        ("strings", ["\ud800"], ValueError, "lone surrogate"),
        ("mut_f64", [1.0], TypeError, "must be a writable buffer"),
        ("mut_f64", b"12345678", TypeError, "must be writable"),
        ("mut_f64", array("f", [1.0]), TypeError, r"contiguous array\('d'\) elements"),
    ],
)
def test_bad_arrays_raise_before_the_call(kind: str, value: object, error: type, text: str) -> None:
    f, fake = make([kind], "none")
    with pytest.raises(error, match=text):
        f(value)
    assert fake.calls == 0 and fake.allocated == []


def test_optional_arrays() -> None:
    f, fake = make(["opt_array_i32"], "opt_array_i32")
    assert f(None) is None
    assert fake.allocated == []
    assert f([3, 4]).tolist() == [3, 4]


@pytest.mark.parametrize("element", sorted(abi_arrays.ELEMENTS))
def test_mut_slices_are_copied_back_into_the_callers_buffer(element: str) -> None:
    f, fake = make([f"mut_{element}"], "none")
    code = abi_arrays.ELEMENTS[element][0]
    target: Any = bytearray(b"\x03\x05") if element == "u8" else array(code, [3, 5])
    before = bytes(memoryview(target).cast("B"))
    f(target)
    # the fake "Rust" flipped the low bit of every byte and copied the slice back
    assert bytes(memoryview(target).cast("B")) == bytes(b ^ 1 for b in before)
    assert fake.mut_targets == {}  # the import found the buffer and let it go


def test_strings_go_through_the_table() -> None:
    f, fake = make(["strings"], "strings")
    assert f(["a", "", "ünï"]) == ["a", "", "ünï"]
    assert f(()) == []
    assert fake.table == {}  # each slot taken back by take_strings


def test_layout_check() -> None:
    assert abi_arrays._layout_matches(memoryview(array("d", [1.0])), "d")
    assert not abi_arrays._layout_matches(memoryview(array("d", [1.0])), "q")
    assert abi_arrays._layout_matches(memoryview(b"ab"), "B")
    assert not abi_arrays._layout_matches(memoryview(b"ab"), "b")
    assert not abi_arrays._layout_matches(memoryview(array("i", [1])).cast("B").cast("i"), "I")
