"""JS functions the crate imports (`extern "C"` blocks), implemented in Python.

The build reads, from each import's entry in the glue, which JS function it
calls and how every argument and the result are converted (glue/imports.py);
the spec lists them as kinds. Here each becomes a host function that decodes
the wasm arguments into Python values, calls the user's callable (given with
`provide()`), and encodes what it returns, as the glue's import shim does.

As with the JS glue (wasm-bindgen's `wrapError`), an exception the callable
raises, or a missing callable, reaches Rust as a foreign exception: Rust cannot
catch it, so it aborts the instance (AbortError, chained to the exception).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from worker_build.loader import abi, abi_arrays


class Memory(Protocol):
    """What a host import needs from its instance (instance.Instance)."""

    def read(self, ptr: int, size: int) -> bytes: ...

    def write(self, ptr: int, data: bytes) -> None: ...

    def malloc(self, size: int, align: int = 1) -> int: ...

    def free(self, ptr: int, size: int, align: int) -> None: ...


# parameter kind -> (wasm values it takes, Python hint)
PARAMS: dict[str, tuple[int, str]] = {
    "int32": (1, "int"),
    "uint32": (1, "int"),
    "int64": (1, "int"),
    "uint64": (1, "int"),
    "float64": (1, "float"),
    "float32": (1, "float"),
    "bool": (1, "bool"),
    "char": (1, "str"),
    "str": (2, "str"),
    "owned_str": (2, "str"),
    "bytes": (2, "bytes"),
    "owned_bytes": (2, "bytes"),
    **{f"array_{e}": (2, "array") for e in abi_arrays.ELEMENTS if e != "u8"},
    **{f"owned_array_{e}": (2, "array") for e in abi_arrays.ELEMENTS if e != "u8"},
}
# result kind -> Python hint the callable returns
RESULTS: dict[str, str] = {
    "none": "None",
    "int32": "int",
    "int64": "int",
    "float64": "float",
    "float32": "float",
    "char": "str",
    "opt_int32": "int | None",
    "opt_uint32": "int | None",
    "opt_float32": "float | None",
    "str": "str",
    "array_8": "bytes | Sequence[int]",
    "array_16": "Sequence[int]",
    "array_32": "Sequence[int]",
    "array_64": "Sequence[int]",
    "array_f32": "Sequence[float]",
    "array_f64": "Sequence[float]",
}
RETPTR_RESULTS = frozenset(
    {"str", "array_8", "array_16", "array_32", "array_64", "array_f32", "array_f64"}
)
_ARRAY_CODES = {  # result kind -> type codes to try, in order
    "array_8": ("B", "b"),
    "array_16": ("H", "h"),
    "array_32": ("I", "i"),
    "array_64": ("Q", "q"),
    "array_f32": ("f",),
    "array_f64": ("d",),
}


def signature(entry: Mapping[str, Any]) -> str:
    """`host_add(int, int) -> int`: what the callable takes and returns."""
    params = ", ".join(PARAMS[k][1] for k in entry["params"])
    return f"{entry['name']}({params}) -> {RESULTS[entry['ret']]}"


def _decode(inst: Memory, kind: str, args: tuple[Any, ...], i: int) -> tuple[Any, int]:
    v = args[i]
    if kind in ("int32", "int64", "float64", "float32"):
        return v, i + 1
    if kind == "uint32":
        return v & 0xFFFFFFFF, i + 1
    if kind == "uint64":
        return v & 0xFFFFFFFFFFFFFFFF, i + 1
    if kind == "bool":
        return v != 0, i + 1
    if kind == "char":
        return chr(v & 0xFFFFFFFF), i + 1
    ptr, n = v & 0xFFFFFFFF, args[i + 1] & 0xFFFFFFFF
    owned = kind.startswith("owned_")
    base = kind.removeprefix("owned_")
    if base == "str":
        value: Any = inst.read(ptr, n).decode("utf-8", "replace")
        size, align = n, 1
    elif base == "bytes":
        value, size, align = inst.read(ptr, n), n, 1
    else:
        code, width, _ = abi_arrays.ELEMENTS[base.removeprefix("array_")]
        value = abi_arrays.array_result(code, inst.read(ptr, n * width))
        size, align = n * width, width
    if owned:
        inst.free(ptr, size, align)
    return value, i + 2


def _store_pair(inst: Memory, retptr: int, ptr: int, n: int) -> None:
    inst.write(retptr & 0xFFFFFFFF, ptr.to_bytes(4, "little") + n.to_bytes(4, "little"))


def _encode(inst: Memory, kind: str, value: Any, retptr: int | None, where: str) -> Any:
    if kind == "none":
        return None
    if kind == "int32":
        bits = abi.high_unsigned(value, 32, where)
        return bits - (1 << 32) if bits >= 1 << 31 else bits
    if kind == "int64":
        bits = abi.high_unsigned(value, 64, where)
        return bits - (1 << 64) if bits >= 1 << 63 else bits
    if kind == "float64":
        return abi.float_arg(value, where)
    if kind == "float32":
        return abi.fround(value, where)
    if kind == "char":
        return abi.char_arg(value, where)
    if kind == "opt_int32":
        return (
            abi.MAX_SAFE_INTEGER
            if value is None
            else float(abi.int_arg(value, -(2**31), 2**31 - 1, where))
        )
    if kind == "opt_uint32":
        return (
            abi.MAX_SAFE_INTEGER
            if value is None
            else float(abi.int_arg(value, 0, 2**32 - 1, where))
        )
    if kind == "opt_float32":
        return abi.MAX_SAFE_INTEGER if value is None else abi.fround(value, where)
    assert retptr is not None
    if kind == "str":
        data = abi.str_arg(value, where)
        align, count = 1, len(data)
    elif kind == "array_8" and isinstance(value, (bytes, bytearray, memoryview)):
        data = abi.bytes_arg(value, where)
        align, count = 1, len(data)
    else:
        codes = _ARRAY_CODES[kind]
        try:
            data = abi_arrays.array_arg(value, codes[0], where)
        except OverflowError:
            if len(codes) == 1:
                raise
            data = abi_arrays.array_arg(value, codes[1], where)
        align = array(codes[0]).itemsize
        count = len(data) // align
    ptr = inst.malloc(len(data), align)
    inst.write(ptr, data)
    _store_pair(inst, retptr, ptr, count)
    return None


def host_function(
    entry: Mapping[str, Any], provided: Mapping[str, Callable[..., Any]]
) -> Callable[..., Any]:
    """`host(inst, *wasm_args)` for the import described by `entry`, calling
    `provided[entry["name"]]` (looked up on every call, so provide() works
    whenever it is called before Rust first needs the function)."""
    name: str = entry["name"]
    kinds: list[str] = list(entry["params"])
    ret: str = entry["ret"]
    retptr = ret in RETPTR_RESULTS
    where = f"the value returned by the provided {name}()"

    def host(inst: Memory, *args: Any) -> Any:
        fn = provided.get(name)
        if fn is None:
            raise NotImplementedError(
                f"the JS import {name} is not provided: call loader.provide({name}=...) "
                f"with a Python callable {signature(entry)}"
            )
        i = 1 if retptr else 0
        values = []
        for kind in kinds:
            value, i = _decode(inst, kind, args, i)
            values.append(value)
        return _encode(inst, ret, fn(*values), args[0] if retptr else None, where)

    return host
