"""Value passing of the Python loader (abi: each kind's checks and conversions),
through functions codegen compiles, against a fake wasm side.

The fake plays wasm-bindgen's part of the ABI in Python: it reads the argument
slots the generated function wrote, echoes them into the result slots (copying
strings and bytes into a fresh allocation, as Rust would return an owned
buffer), and records allocations and frees. No wasmtime, no real tools.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.support.loaderabi import make
from worker_build.loader import abi

ROUND_TRIPS = [
    ("int32", "int32", [0, 1, -1, 2**31 - 1, -(2**31), True]),
    ("int32", "uint32", [0, 7, 2**31, 2**32 - 1]),
    ("int64", "int64", [0, -1, 2**63 - 1, -(2**63)]),
    ("int64", "uint64", [0, 2**63, 2**64 - 1]),
    ("float64", "float64", [0.0, -1.5, 1e300, math.inf, 3]),
    ("float32", "float32", [0.0, 1.5, -2.25]),
    ("bool", "bool", [True, False]),
    ("char", "char", ["a", "é", "😀"]),
    ("str", "str", ["", "hello", "wörld 😀", "x" * 10_000]),
    ("bytes", "bytes", [b"", b"\x00\xff", bytes(range(256))]),
    ("opt_int32", "opt_num", [None, 0, -5, 2**31 - 1]),
    ("opt_uint32", "opt_num", [None, 0, 2**32 - 1]),
    ("opt_float32", "opt_num", [None, 1.5]),
    ("opt_int16", "opt_int16", [None, 0, -128, 65535]),
    ("opt_float64", "opt_float64", [None, 0.0, -2.5]),
    ("opt_int64", "opt_int64", [None, 0, -(2**63)]),
    ("opt_int64", "opt_uint64", [None, 2**64 - 1]),
    ("opt_bool", "opt_bool", [None, True, False]),
    ("opt_char", "opt_char", [None, "z", "ß"]),
    ("opt_str", "opt_str", [None, "", "abc"]),
    ("opt_bytes", "opt_bytes", [None, b"", b"abc"]),
]


@pytest.mark.parametrize(("pkind", "rkind", "values"), ROUND_TRIPS)
def test_each_kind_round_trips(pkind: str, rkind: str, values: list[Any]) -> None:
    f, _ = make([pkind], rkind)
    for value in values:
        got = f(value)
        expected = value
        if isinstance(value, bool) and rkind != "bool" and rkind != "opt_bool":
            expected = int(value)
        assert got == expected, (pkind, rkind, value, got)
        if value is not None and rkind in ("opt_num", "float64", "float32", "opt_float64"):
            assert isinstance(got, float)


def test_strings_are_copied_into_wasm_and_results_freed() -> None:
    f, fake = make(["str"], "str")
    assert f("héllo") == "héllo"
    (arg_ptr, arg_len), (ret_ptr, ret_len) = fake.allocated
    assert arg_len == len("héllo".encode()) == ret_len
    assert fake.read(arg_ptr, arg_len) == "héllo".encode()
    assert fake.freed == [(ret_ptr, ret_len, 1)]  # only the returned buffer: Rust owns the argument


def test_optional_none_string_allocates_nothing() -> None:
    f, fake = make(["opt_str"], "opt_str")
    assert f(None) is None
    assert fake.allocated == [] and fake.freed == []


def test_bytes_accepts_bytearray_and_memoryview() -> None:
    f, _ = make(["bytes"], "bytes")
    assert f(bytearray(b"ab")) == b"ab"
    assert f(memoryview(b"cd")) == b"cd"


def test_float32_rounds_like_math_fround() -> None:
    f, _ = make(["float32"], "float32")
    assert f(0.1) == pytest.approx(0.1, rel=1e-7) and f(0.1) != 0.1


@pytest.mark.parametrize(
    ("kind", "value", "error", "text"),
    [
        ("int32", 2**32, OverflowError, "out of range [-2147483648, 4294967295]"),
        ("int32", -(2**31) - 1, OverflowError, "out of range"),
        ("int32", 1.0, TypeError, "must be int, not float"),
        ("int32", "1", TypeError, "must be int, not str"),
        ("int64", 2**64, OverflowError, "out of range"),
        ("float64", "x", TypeError, "must be float, not str"),
        ("bool", 1, TypeError, "must be bool, not int"),
        ("char", "ab", ValueError, "exactly one character"),
        ("char", "\ud800", ValueError, "lone surrogate"),
        ("str", b"x", TypeError, "must be str, not bytes"),
        ("str", "\udc80", ValueError, "lone surrogate"),
        ("bytes", "x", TypeError, "must be bytes"),
        ("opt_int32", 2**31, OverflowError, "out of range"),
        ("opt_uint32", -1, OverflowError, "out of range"),
        ("opt_int16", 70000, OverflowError, "out of range"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(
    kind: str, value: object, error: type[Exception], text: str
) -> None:
    f, fake = make(["int32", kind], "none")
    with pytest.raises(error, match=r"f\(\) argument 'p1'") as info:
        f(1, value)
    assert text in str(info.value)
    assert fake.calls == 0


def test_a_bad_argument_after_a_string_allocates_nothing() -> None:
    # all checks run before any malloc, so a rejected call leaks nothing in wasm
    f, fake = make(["str", "bytes"], "none")
    with pytest.raises(TypeError):
        f("ok", 5)
    assert fake.allocated == []


def test_result_error_raises_the_taken_error() -> None:
    f, _ = make(["int32"], "int32", result=True, error_index=1)
    with pytest.raises(ValueError, match="error value at 7"):
        f(5)
    ok, _ = make(["int32"], "int32", result=True)
    assert ok(5) == 5


def test_helpers_directly() -> None:
    assert abi.high_unsigned(2**32 - 1, 32, "w") == 2**32 - 1
    assert abi.high_unsigned(-1, 32, "w") == 2**32 - 1
    with pytest.raises(OverflowError):
        abi.high_unsigned(2**32, 32, "w")
    assert abi.fround(1e300, "w") == math.inf
    assert abi.fround(-1e300, "w") == -math.inf
    assert abi.bool_arg(True, "w") == 1
