"""Value passing of the Python loader (abi + codegen), against a fake wasm side.

The fake plays wasm-bindgen's part of the ABI in Python: it reads the argument
slots the generated function wrote, echoes them into the result slots (copying
strings and bytes into a fresh allocation, as Rust would return an owned
buffer), and records allocations and frees. No wasmtime, no real tools.
"""

from __future__ import annotations

import ctypes
import math
import threading
from typing import Any

import pytest

from worker_build.loader import abi, abi_arrays
from worker_build.loader.codegen import FunctionSpec, compile_function, function_source
from worker_build.loader.kinds import split
from worker_build.loader.objects import Home

MEMORY = 1 << 16


class FakeWasm:
    def __init__(self, spec: FunctionSpec, *, error_index: int | None = None) -> None:
        self.spec = spec
        self.memory = (ctypes.c_uint8 * MEMORY)()
        self.base = ctypes.addressof(self.memory)
        self.next = 16
        self.allocated: list[tuple[int, int]] = []
        self.freed: list[tuple[int, int, int]] = []
        self.lock = threading.RLock()
        self.trap = ctypes.c_void_p()
        self.error_index = error_index
        self.calls = 0
        self.views: Any = None
        self.objects_freed: list[tuple[str, int, int]] = []
        self.home = Home(1, self.lock, lambda c, p, d: self.objects_freed.append((c, p, d)))
        self.mut_targets: dict[int, tuple[memoryview, str]] = {}
        self.table: dict[int, object] = {}

    # what the generated code binds
    def export_slots(self, name: str, nslots: int) -> tuple[Any, ...]:
        assert name == self.spec.export
        buf = (ctypes.c_uint8 * (16 * nslots))()
        raw = memoryview(buf).cast("B")
        self.views = [raw.cast(f) for f in ("i", "I", "q", "Q", "f", "d")]
        self._keep = buf
        return ("fn", ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_size_t(nslots), *self.views)

    def raw_env(self) -> tuple[Any, ...]:
        return self.call, "ctx", "tp", self.trap, self.fail

    def malloc(self, size: int, align: int = 1) -> int:
        self.next += -self.next % align
        ptr = self.next
        self.next += max(size, 1)
        self.allocated.append((ptr, size))
        return ptr

    def pass_strings(self, items: list[str]) -> tuple[int, int]:
        ptr = self.malloc(4 * len(items), 4)
        for i, item in enumerate(items):
            index = 2000 + len(self.table)
            self.table[index] = item
            self.write(ptr + 4 * i, index.to_bytes(4, "little"))
        return ptr, len(items)

    def take_strings(self, ptr: int, count: int) -> list[object]:
        data = self.read(ptr, 4 * count)
        return [self.table.pop(int.from_bytes(data[4 * i : 4 * i + 4], "little"))
                for i in range(count)]  # fmt: skip

    def free(self, ptr: int, size: int, align: int) -> None:
        self.freed.append((ptr, size, align))

    def take_error(self, index: int) -> BaseException:
        return ValueError(f"error value at {index}")

    def fail(self, error: object) -> None:
        raise RuntimeError(f"call failed: {error}")

    def read(self, ptr: int, size: int) -> bytes:
        return bytes(self.memory[ptr : ptr + size])

    def write(self, ptr: int, data: bytes) -> None:
        assert ptr + len(data) <= MEMORY
        ctypes.memmove(self.base + ptr, data, len(data))

    # the "wasm export": echo every parameter slot into the result slots
    def call(self, ctx: object, fn: object, buf: object, nslots: object, tp: object) -> int | None:
        self.calls += 1
        _, u32, _, u64, f32, f64 = self.views
        slots: list[Any] = []
        slot = 0
        for _, kind in self.spec.params:
            for t in abi.param(kind).wasm:
                slots.append({"i32": u32[4 * slot], "i64": u64[2 * slot], "f32": f32[4 * slot],
                              "f64": f64[2 * slot], "externref": None}[t])  # fmt: skip
                slot += 1
            base = split(kind)[0]
            if base.startswith("mut_"):  # "Rust" flips the low bit of each byte, copies back
                ptr, n = slots[-3], slots[-2]
                size = n * abi_arrays.ELEMENTS[base[4:]][1]
                for i in range(size):
                    self.memory[ptr + i] ^= 1
                target, code = self.mut_targets.pop(ptr)
                abi_arrays.copy_back(target, code, self.read(ptr, size))
                del slots[-1]
            elif base in ("str", "bytes", "opt_str", "opt_bytes", "strings") or "array_" in base:
                width = 4 if base == "strings" else 1
                if "array_" in base:
                    width = abi_arrays.ELEMENTS[base.rsplit("_", 1)[1]][1]
                ptr, size = slots[-2], slots[-1] * width
                if ptr != 0:
                    copy = self.malloc(size, width)
                    ctypes.memmove(self.base + copy, self.base + ptr, size)
                    slots[-2] = copy
        results = list(abi.result(self.spec.ret).wasm)
        if self.spec.result:
            results += ["i32", "i32"]
            slots = [*slots[: len(results) - 2], 7, 1 if self.error_index else 0]
        for i, t in enumerate(results):
            value = slots[i] if i < len(slots) else 0
            if t == "i32":
                u32[4 * i] = value
            elif t == "i64":
                u64[2 * i] = value
            elif t == "f32":
                f32[4 * i] = value
            else:
                f64[2 * i] = value
        return None


def make(
    params: list[str],
    ret: str,
    *,
    result: bool = False,
    types: dict[str, Any] | None = None,
    **kw: Any,
) -> tuple[Any, FakeWasm]:
    spec = FunctionSpec(
        name="f",
        export="f",
        params=tuple((f"p{i}", k) for i, k in enumerate(params)),
        ret=ret,
        result=result,
    )
    fake = FakeWasm(spec, **kw)
    return compile_function(spec, types)(fake), fake


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


def test_failed_call_goes_to_fail() -> None:
    _, fake = make(["int32"], "int32")
    fake.call = lambda *a: 0x1234  # type: ignore[method-assign]
    f2 = compile_function(fake.spec)(fake)
    with pytest.raises(RuntimeError, match=str(0x1234)):
        f2(1)


def test_every_kind_has_code() -> None:
    for kind in abi.PARAMS:
        source = function_source(FunctionSpec("g", "g", (("x", kind),), "none", False))
        compile(source, "<test>", "exec")
    for kind in abi.RETURNS:
        source = function_source(FunctionSpec("g", "g", (), kind, True))
        compile(source, "<test>", "exec")


def test_parameter_names_cannot_shadow_helpers() -> None:
    # Rust parameters named like the bound helpers, and a function named `call`
    spec = FunctionSpec("call", "call", (("malloc", "str"), ("base", "int32")), "str", False)
    fake = FakeWasm(spec)
    f = compile_function(spec)(fake)
    assert f("x", 3) == "x"


def test_helpers_directly() -> None:
    assert abi.high_unsigned(2**32 - 1, 32, "w") == 2**32 - 1
    assert abi.high_unsigned(-1, 32, "w") == 2**32 - 1
    with pytest.raises(OverflowError):
        abi.high_unsigned(2**32, 32, "w")
    assert abi.fround(1e300, "w") == math.inf
    assert abi.fround(-1e300, "w") == -math.inf
    assert abi.bool_arg(True, "w") == 1
