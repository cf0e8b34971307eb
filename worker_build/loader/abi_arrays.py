"""Typed slices and Vecs of numbers, `&mut` slices and `Vec<String>` (see abi.py).

Numbers travel as `array.array` of the matching type code: an argument may be
any sequence of numbers, or any buffer (array, memoryview, numpy array) whose
elements already have the Rust layout, which is copied as it is; a result is a
fresh `array.array`. `Vec<u8>`/`&[u8]` stay `bytes` (abi.py). A `&mut [T]`
argument must be a writable buffer of that layout: Rust's changes are copied
back into it when the call returns, as the JS glue does for a typed array.
Linear memory is little-endian; on a big-endian host the bytes are swapped.

`Vec<String>` goes through the externref table, as in the glue: each string is
put in a fresh table slot and Rust reads it back with `__wbindgen_string_get`.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from typing import Any

from worker_build.loader.kinds import Kind, k

SWAP = sys.byteorder != "little"

# Rust element -> (array type code, size in bytes, JS typed array)
ELEMENTS: dict[str, tuple[str, int, str]] = {
    "i8": ("b", 1, "Int8Array"),
    "u8": ("B", 1, "Uint8Array"),
    "i16": ("h", 2, "Int16Array"),
    "u16": ("H", 2, "Uint16Array"),
    "i32": ("i", 4, "Int32Array"),
    "u32": ("I", 4, "Uint32Array"),
    "i64": ("q", 8, "BigInt64Array"),
    "u64": ("Q", 8, "BigUint64Array"),
    "f32": ("f", 4, "Float32Array"),
    "f64": ("d", 8, "Float64Array"),
}
for _code, _size, _ in ELEMENTS.values():
    assert array(_code).itemsize == _size, f"array({_code!r}) is not {_size} bytes here"

_SIGNED, _UNSIGNED, _FLOAT = "bhilqn", "BHILQN", "fd"


def _element_hint(element: str) -> str:
    return "float" if element.startswith("f") else "int"


def _rust(element: str) -> str:
    return "isize/i32" if element == "i32" else "usize/u32" if element == "u32" else element


def _kinds() -> tuple[dict[str, Kind], dict[str, Kind]]:
    params: dict[str, Kind] = {}
    results: dict[str, Kind] = {}
    for element in ELEMENTS:
        num = _element_hint(element)
        rust = _rust(element)
        if element != "u8":  # &[u8] and Vec<u8> are `bytes` (abi.py)
            params[f"array_{element}"] = k(
                f"array_{element}", "i32 i32", f"Sequence[{num}] | array[{num}]",
                f"&[{rust}]/Vec<{rust}>", allocates=True,
            )  # fmt: skip
            params[f"opt_array_{element}"] = k(
                f"opt_array_{element}", "i32 i32", f"Sequence[{num}] | array[{num}] | None",
                f"Option<Vec<{rust}>>", allocates=True,
            )  # fmt: skip
            results[f"array_{element}"] = k(
                f"array_{element}", "i32 i32", f"array[{num}]", f"Vec<{rust}>"
            )
            results[f"opt_array_{element}"] = k(
                f"opt_array_{element}", "i32 i32", f"array[{num}] | None", f"Option<Vec<{rust}>>"
            )
        params[f"mut_{element}"] = k(
            f"mut_{element}", "i32 i32 externref",
            "bytearray | memoryview" if element == "u8" else f"array[{num}] | memoryview",
            f"&mut [{rust}]", allocates=True,
        )  # fmt: skip
    params["strings"] = k("strings", "i32 i32", "Sequence[str]", "Vec<String>", allocates=True)
    results["strings"] = k("strings", "i32 i32", "list[str]", "Vec<String>")
    return params, results


PARAMS, RESULTS = _kinds()


def typed_array_ts(element: str) -> str:
    return ELEMENTS[element][2]


# ---------------------------------------------------------------- checks used by snippets


def _layout_matches(view: memoryview, code: str) -> bool:
    """Whether the buffer's elements are stored exactly as Rust's (type, size,
    byte order), so its bytes can be copied as they are."""
    fmt = view.format
    order = fmt[0] if fmt[:1] in ("@", "=", "<", ">", "!") else "@"
    char = fmt.lstrip("@=<>!")
    if len(char) != 1 or view.ndim > 1:
        return False
    if order in ("<", ">", "!") and (order == "<") == SWAP:
        return False  # explicitly the other byte order
    target = array(code)
    if view.itemsize != target.itemsize:
        return False
    family = _FLOAT if code in _FLOAT else _SIGNED if code in _SIGNED else _UNSIGNED
    return char in family


def array_arg(value: object, code: str, where: str) -> bytes:
    """The little-endian bytes of `value` as an array of type `code`."""
    if type(value) is array and value.typecode == code and not SWAP:
        return value.tobytes()
    try:
        view: memoryview | None = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        view = None
    if view is not None and _layout_matches(view, code) and not SWAP:
        return view.tobytes()
    if isinstance(value, (str, dict)) or (view is None and not isinstance(value, Iterable)):
        raise TypeError(
            f"{where} must be a sequence of numbers or an array('{code}'), "
            f"not {type(value).__name__}"
        )
    items: Any = view.tolist() if view is not None else value
    try:
        data = array(code, items)
    except (TypeError, OverflowError, ValueError) as exc:
        raise type(exc)(f"{where} cannot be an array('{code}'): {exc}") from None
    if SWAP:
        data.byteswap()
    return data.tobytes()


def array_result(code: str, data: bytes) -> array:  # type: ignore[type-arg]
    out = array(code)
    out.frombytes(data)
    if SWAP:
        out.byteswap()
    return out


def mut_arg(value: object, code: str, where: str) -> tuple[bytes, memoryview]:
    """The bytes to copy in, and a writable byte view of `value` to copy back into."""
    try:
        view = memoryview(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{where} must be a writable buffer of array('{code}') elements (an array, "
            f"bytearray or numpy array), not {type(value).__name__}"
        ) from None
    if view.readonly:
        raise TypeError(f"{where} must be writable (Rust changes it), not a read-only buffer")
    if not _layout_matches(view, code) or not view.c_contiguous:
        raise TypeError(
            f"{where} must hold contiguous array('{code}') elements "
            f"(got format {view.format!r}, {view.itemsize}-byte items)"
        )
    data = view.tobytes()
    if SWAP:
        swapped = array(code, data)
        swapped.byteswap()
        data = swapped.tobytes()
    return data, view.cast("B")


def copy_back(target: memoryview, code: str, data: bytes) -> None:
    """What `__wbindgen_copy_to_typed_array` does: Rust's bytes into the buffer."""
    if SWAP:
        swapped = array(code, data)
        swapped.byteswap()
        data = swapped.tobytes()
    target[: len(data)] = data


def strings_arg(value: object, where: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{where} must be a sequence of str, not {type(value).__name__}")
    items = list(value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{where}[{i}] must be str, not {type(item).__name__}")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"{where}[{i}] is not valid Unicode for Rust (lone surrogate)"
            ) from None
    return items


HELPERS = {
    "array_arg": array_arg,
    "array_result": array_result,
    "mut_arg": mut_arg,
    "strings_arg": strings_arg,
}


# ---------------------------------------------------------------- snippets


def param_prepare(base: str, var: str, tmp: str) -> list[str] | None:
    """Checks and encodings that touch no wasm state; None: not a kind of this module."""
    if base.startswith("array_"):
        return [f"{tmp} = array_arg({var}, {ELEMENTS[base[6:]][0]!r}, W)"]
    if base.startswith("opt_array_"):
        code = ELEMENTS[base[10:]][0]
        return [f"{tmp} = None if {var} is None else array_arg({var}, {code!r}, W)"]
    if base.startswith("mut_"):
        return [f"{tmp}, m_{tmp} = mut_arg({var}, {ELEMENTS[base[4:]][0]!r}, W)"]
    if base == "strings":
        return [f"{tmp} = strings_arg({var}, W)"]
    return None


def _copy_in(tmp: str, size: int, a: int, a2: int) -> list[str]:
    return [
        f"n_{tmp} = len({tmp})",
        f"p_{tmp} = malloc(n_{tmp}, {size})",
        f"write(p_{tmp}, {tmp})",
        f"U32[{a}] = p_{tmp}",
        f"U32[{a2}] = n_{tmp} // {size}",
    ]


def param_store(base: str, tmp: str, slot: int) -> list[str] | None:
    a, a2 = 4 * slot, 4 * (slot + 1)
    if base.startswith("array_"):
        return _copy_in(tmp, ELEMENTS[base[6:]][1], a, a2)
    if base.startswith("opt_array_"):
        copy = _copy_in(tmp, ELEMENTS[base[10:]][1], a, a2)
        return [f"if {tmp} is None:", f"    U32[{a}] = 0", f"    U32[{a2}] = 0", "else:"] + [
            "    " + line for line in copy
        ]
    if base.startswith("mut_"):
        # The typed array itself goes to Rust as an externref, only to be handed
        # back to __wbindgen_copy_to_typed_array with the same pointer: pass null
        # and let that import find the buffer by pointer.
        return [
            *_copy_in(tmp, ELEMENTS[base[4:]][1], a, a2),
            f"U64[{2 * (slot + 2)}] = 0",
            f"mut_targets[p_{tmp}] = (m_{tmp}, {ELEMENTS[base[4:]][0]!r})",
        ]
    if base == "strings":
        return [f"U32[{a}], U32[{a2}] = pass_strings({tmp})"]
    return None


def result_lines(base: str) -> list[str] | None:
    if base.startswith("array_") or base.startswith("opt_array_"):
        code, size, _ = ELEMENTS[base.rsplit("_", 1)[1]]
        lines = [
            "p = U32[0]",
            "n = U32[4]",
            f"r = array_result({code!r}, read(p, n * {size}))",
            f"free(p, n * {size}, {size})",
            "return r",
        ]
        return ["if U32[0] == 0:", "    return None", *lines] if base.startswith("opt_") else lines
    if base == "strings":
        return [
            "p = U32[0]",
            "n = U32[4]",
            "r = take_strings(p, n)",
            "free(p, 4 * n, 4)",
            "return r",
        ]
    return None
