"""JS imports implemented in Python (host_imports): decoding wasm arguments,
encoding what the callable returns, against a fake linear memory."""

from __future__ import annotations

from array import array
from typing import Any

import pytest

from worker_build.loader import host_imports


class Memory:
    def __init__(self) -> None:
        self.data = bytearray(4096)
        self.next = 1024
        self.freed: list[tuple[int, int, int]] = []

    def read(self, ptr: int, size: int) -> bytes:
        return bytes(self.data[ptr : ptr + size])

    def write(self, ptr: int, data: bytes) -> None:
        self.data[ptr : ptr + len(data)] = data

    def malloc(self, size: int, align: int = 1) -> int:
        self.next += -self.next % align
        ptr, self.next = self.next, self.next + size
        return ptr

    def free(self, ptr: int, size: int, align: int) -> None:
        self.freed.append((ptr, size, align))

    def pair(self, ptr: int) -> tuple[int, int]:
        return int.from_bytes(self.read(ptr, 4), "little"), int.from_bytes(
            self.read(ptr + 4, 4), "little"
        )


def host(params: list[str], ret: str, fn: Any) -> Any:
    entry = {"import": "__wbg_f_0", "name": "f", "params": params, "ret": ret}
    return host_imports.host_function(entry, {"f": fn})


def test_numbers_and_flags_are_decoded() -> None:
    seen: list[Any] = []
    h = host(["int32", "uint32", "uint64", "bool", "char"], "int32", lambda *a: seen.extend(a) or 7)
    assert h(Memory(), -1, -1, -1, 2, 0x1F600) == 7
    assert seen == [-1, 2**32 - 1, 2**64 - 1, True, "😀"]


def test_strings_and_arrays_are_read_and_owned_ones_freed() -> None:
    mem = Memory()
    mem.write(100, "héllo".encode())
    mem.write(200, array("i", [1, -2]).tobytes())
    seen: list[Any] = []
    h = host(["str", "owned_array_i32"], "none", lambda s, v: seen.extend([s, v]))
    assert h(mem, 100, 6, 200, 2) is None
    assert seen == ["héllo", array("i", [1, -2])]
    assert mem.freed == [(200, 8, 4)]


def test_results_through_the_return_pointer() -> None:
    mem = Memory()
    h = host(["float64"], "array_f64", lambda k: [k, 2 * k])
    h(mem, 16, 1.5)
    ptr, n = mem.pair(16)
    assert n == 2 and ptr % 8 == 0 and array("d", mem.read(ptr, 16)).tolist() == [1.5, 3.0]
    s = host([], "str", lambda: "ünï")
    s(mem, 32)
    ptr, n = mem.pair(32)
    assert mem.read(ptr, n).decode() == "ünï"
    wide = host([], "array_32", lambda: [2**32 - 1])  # u32 values when i32 cannot hold them
    wide(mem, 48)
    ptr, n = mem.pair(48)
    assert array("I", mem.read(ptr, 4)).tolist() == [2**32 - 1]


@pytest.mark.parametrize(
    ("ret", "value", "wasm"),
    [("int32", 2**32 - 1, -1), ("int32", True, 1), ("float64", 3, 3.0), ("opt_uint32", None,
     9007199254740991.0), ("opt_uint32", 5, 5.0), ("char", "a", 97), ("int64", 2**64 - 1, -1)],
)  # fmt: skip
def test_returned_values_are_encoded(ret: str, value: Any, wasm: Any) -> None:
    got = host([], ret, lambda: value)(Memory())
    assert got == wasm and type(got) is type(wasm)


def test_a_bad_return_value_raises_naming_the_function() -> None:
    with pytest.raises(TypeError, match=r"the value returned by the provided f\(\) must be str"):
        host([], "str", lambda: 5)(Memory(), 0)
    with pytest.raises(OverflowError, match="out of range"):
        host([], "opt_uint32", lambda: -1)(Memory())


def test_a_missing_callable_names_provide() -> None:
    h = host_imports.host_function({"name": "g", "params": ["str"], "ret": "none"}, {})
    with pytest.raises(NotImplementedError, match=r"loader.provide\(g=\.\.\.\).*g\(str\) -> None"):
        h(Memory(), 0, 0)
