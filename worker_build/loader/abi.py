"""How each supported wasm-bindgen type crosses the boundary between Python and wasm.

A *kind* names one wasm-bindgen encoding: the core wasm values it occupies, the
Python annotation, the Rust types it stands for, and the lines of Python that
move a value in (parameters) or out (results). The runtime pastes those lines
into one specialised function per export (see `runtime.compile_function`), so
the per-call work is a handful of memoryview stores and one raw wasm call.

Names the snippets may use (bound by the runtime for every instance):
  I32 U32 I64 U64 F32 F64  views of the export's argument/result buffer; value
                           slot `s` is at index 4*s (32-bit views) or 2*s (64-bit)
  malloc(n, align) free(p, n, align)  wasm-bindgen's allocator, as raw calls
  read(p, n) write(p, b)   linear memory through a memoryview, bounds-checked
  take_error(idx)          the exception stored in the externref table at idx
  home                     the instance's objects.Home (structs)
  mut_targets              {pointer: buffer} for `&mut` slices (abi_arrays)
  pass_strings(list) take_strings(p, n)   `Vec<String>` through the externref table
and the checking helpers below (`int_arg`, `str_arg`, ...), those of abi_arrays
and abi_classes, and the per-module type names of abi_classes (`C_Point`, ...).
`W` in a snippet is replaced by the literal "fn() argument 'x'" used in error
messages.

The glue does not record the exact Rust integer type of a 32-bit parameter
(i8..u32, isize, usize all look alike), so `int32` accepts the union range
[-2**31, 2**32) and leaves narrower types to Rust's own truncation, as the JS
glue does. Results are exact: the glue marks unsigned 32/64-bit returns.
"""

from __future__ import annotations

import struct

from worker_build.loader import abi_arrays, abi_classes
from worker_build.loader.kinds import Kind, split
from worker_build.loader.kinds import k as _k

MAX_SAFE_INTEGER = 9007199254740991.0  # the JS glue's "None" for Option<32-bit number>
NONE_24 = 0xFFFFFF  # the JS glue's "None" for Option<i8/u8/i16/u16/bool/char>

_F32 = struct.Struct("<f")


PARAMS: dict[str, Kind] = {
    k.name: k
    for k in (
        _k("int32", "i32", "int", "i32/u32 or narrower, isize/usize"),
        _k("float64", "f64", "float", "f64"),
        _k("float32", "f32", "float", "f32"),
        _k("int64", "i64", "int", "i64/u64"),
        _k("bool", "i32", "bool", "bool"),
        _k("char", "i32", "str", "char"),
        _k("str", "i32 i32", "str", "&str/String", allocates=True),
        _k("bytes", "i32 i32", "bytes", "&[u8]/Vec<u8>", allocates=True),
        _k("opt_int32", "f64", "int | None", "Option<i32/isize>"),
        _k("opt_uint32", "f64", "int | None", "Option<u32/usize>"),
        _k("opt_float32", "f64", "float | None", "Option<f32>"),
        _k("opt_int16", "i32", "int | None", "Option<i8/u8/i16/u16>"),
        _k("opt_float64", "i32 f64", "float | None", "Option<f64>"),
        _k("opt_int64", "i32 i64", "int | None", "Option<i64/u64>"),
        _k("opt_bool", "i32", "bool | None", "Option<bool>"),
        _k("opt_char", "i32", "str | None", "Option<char>"),
        _k("opt_str", "i32 i32", "str | None", "Option<String>", allocates=True),
        _k("opt_bytes", "i32 i32", "bytes | None", "Option<Vec<u8>>", allocates=True),
    )
}

RETURNS: dict[str, Kind] = {
    k.name: k
    for k in (
        _k("none", "", "None", "()"),
        _k("int32", "i32", "int", "i32 or narrower, isize"),
        _k("uint32", "i32", "int", "u32/usize"),
        _k("float64", "f64", "float", "f64"),
        _k("float32", "f32", "float", "f32"),
        _k("int64", "i64", "int", "i64"),
        _k("uint64", "i64", "int", "u64"),
        _k("bool", "i32", "bool", "bool"),
        _k("char", "i32", "str", "char"),
        _k("str", "i32 i32", "str", "String"),
        _k("bytes", "i32 i32", "bytes", "Vec<u8>"),
        _k("opt_num", "f64", "float | None", "Option<i32/u32/isize/usize/f32>"),
        _k("opt_int16", "i32", "int | None", "Option<i8/u8/i16/u16>"),
        _k("opt_float64", "i32 f64", "float | None", "Option<f64>"),
        _k("opt_int64", "i32 i64", "int | None", "Option<i64>"),
        _k("opt_uint64", "i32 i64", "int | None", "Option<u64>"),
        _k("opt_bool", "i32", "bool | None", "Option<bool>"),
        _k("opt_char", "i32", "str | None", "Option<char>"),
        _k("opt_str", "i32 i32", "str | None", "Option<String>"),
        _k("opt_bytes", "i32 i32", "bytes | None", "Option<Vec<u8>>"),
    )
}


PARAMS.update(abi_arrays.PARAMS)
RETURNS.update(abi_arrays.RESULTS)


def param(kind: str) -> Kind:
    """The parameter kind `kind` (KeyError when unknown)."""
    base, args = split(kind)
    if base in abi_classes.PARAM_BASES and args:
        return abi_classes.param_kind(base, args)
    return PARAMS[kind]


def result(kind: str) -> Kind:
    """The result kind `kind` (KeyError when unknown)."""
    base, args = split(kind)
    if base in abi_classes.RESULT_BASES and args:
        return abi_classes.result_kind(base, args)
    return RETURNS[kind]


# ---------------------------------------------------------------- checks used by snippets


def _type_name(value: object) -> str:
    return type(value).__name__


def int_arg(value: object, lo: int, hi: int, where: str) -> int:
    """`value` as an int in [lo, hi], or TypeError/OverflowError naming the argument."""
    if not isinstance(value, int):
        raise TypeError(f"{where} must be int, not {_type_name(value)}")
    if not lo <= value <= hi:
        raise OverflowError(f"{where} = {value} is out of range [{lo}, {hi}]")
    return int(value)


def high_unsigned(value: object, bits: int, where: str) -> int:
    """`value` checked against the union of the signed and unsigned ranges of
    `bits`, as the two's-complement bit pattern to store in an unsigned view.
    Used after a signed store failed (the value was too large or not an int)."""
    mask = (1 << bits) - 1
    return int_arg(value, -(1 << (bits - 1)), mask, where) & mask


def float_arg(value: object, where: str) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{where} must be float, not {_type_name(value)}")


def fround(value: object, where: str) -> float:
    """Round to the nearest f32 like JS `Math.fround` (out-of-range values become inf)."""
    number = float_arg(value, where)
    try:
        return float(_F32.unpack(_F32.pack(number))[0])
    except OverflowError:
        return number * float("inf")


def bool_arg(value: object, where: str) -> int:
    if value is True:
        return 1
    if value is False:
        return 0
    raise TypeError(f"{where} must be bool, not {_type_name(value)}")


def char_arg(value: object, where: str) -> int:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a one-character str, not {_type_name(value)}")
    if len(value) != 1:
        raise ValueError(f"{where} must be exactly one character, got {len(value)}")
    code = ord(value)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"{where} is a lone surrogate (U+{code:04X}), not a Rust char")
    return code


def str_arg(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{where} must be str, not {_type_name(value)}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{where} is not valid Unicode for Rust (lone surrogate)") from exc


def bytes_arg(value: object, where: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{where} must be bytes, bytearray or memoryview, not {_type_name(value)}")


HELPERS = {
    "int_arg": int_arg,
    "high_unsigned": high_unsigned,
    "float_arg": float_arg,
    "fround": fround,
    "bool_arg": bool_arg,
    "char_arg": char_arg,
    "str_arg": str_arg,
    "bytes_arg": bytes_arg,
    "MAX_SAFE": MAX_SAFE_INTEGER,
    "NONE_24": NONE_24,
    **abi_arrays.HELPERS,
    **abi_classes.HELPERS,
}

I32_MIN, U32_MAX = -(2**31), 2**32 - 1


# ---------------------------------------------------------------- parameter snippets


def param_prepare(kind: str, var: str, tmp: str) -> list[str]:
    """Checks and encodings that touch no wasm state (run before any allocation)."""
    base, args = split(kind)
    if base in abi_classes.PARAM_BASES and args:
        return abi_classes.param_prepare(base, args, var, tmp)
    lines = abi_arrays.param_prepare(kind, var, tmp)
    if lines is not None:
        return lines
    if kind == "str":
        return [f"{tmp} = str_arg({var}, W)"]
    if kind == "bytes":
        return [f"{tmp} = bytes_arg({var}, W)"]
    if kind == "opt_str":
        return [f"{tmp} = None if {var} is None else str_arg({var}, W)"]
    if kind == "opt_bytes":
        return [f"{tmp} = None if {var} is None else bytes_arg({var}, W)"]
    return []


def param_store(kind: str, var: str, tmp: str, slot: int) -> list[str]:
    """Lines writing the parameter into its slot(s); allocating kinds call malloc."""
    base, args = split(kind)
    if base in abi_classes.PARAM_BASES and args:
        return abi_classes.param_store(base, args, var, tmp, slot)
    lines = abi_arrays.param_store(kind, tmp, slot)
    if lines is not None:
        return lines
    a, b = 4 * slot, 2 * slot  # 32-bit / 64-bit view index of the slot
    a2, b2 = 4 * (slot + 1), 2 * (slot + 1)
    if kind == "int32":
        return [
            "try:",
            f"    I32[{a}] = {var}",
            "except (TypeError, ValueError):",
            f"    U32[{a}] = high_unsigned({var}, 32, W)",
        ]
    if kind == "int64":
        return [
            "try:",
            f"    I64[{b}] = {var}",
            "except (TypeError, ValueError):",
            f"    U64[{b}] = high_unsigned({var}, 64, W)",
        ]
    if kind == "float64":
        return [f"F64[{b}] = float_arg({var}, W)"]
    if kind == "float32":
        return [f"F32[{a}] = fround({var}, W)"]
    if kind == "bool":
        return [f"I32[{a}] = bool_arg({var}, W)"]
    if kind == "char":
        return [f"U32[{a}] = char_arg({var}, W)"]
    if kind in ("str", "bytes"):
        return [
            f"n_{tmp} = len({tmp})",
            f"p_{tmp} = malloc(n_{tmp}, 1)",
            f"write(p_{tmp}, {tmp})",
            f"U32[{a}] = p_{tmp}",
            f"U32[{a2}] = n_{tmp}",
        ]
    if kind in ("opt_str", "opt_bytes"):
        return [
            f"if {tmp} is None:",
            f"    U32[{a}] = 0",
            f"    U32[{a2}] = 0",
            "else:",
            f"    n_{tmp} = len({tmp})",
            f"    p_{tmp} = malloc(n_{tmp}, 1)",
            f"    write(p_{tmp}, {tmp})",
            f"    U32[{a}] = p_{tmp}",
            f"    U32[{a2}] = n_{tmp}",
        ]
    if kind == "opt_int32":
        check = f"int_arg({var}, {I32_MIN}, {2**31 - 1}, W)"
        return [f"F64[{b}] = MAX_SAFE if {var} is None else {check}"]
    if kind == "opt_uint32":
        return [f"F64[{b}] = MAX_SAFE if {var} is None else int_arg({var}, 0, {U32_MAX}, W)"]
    if kind == "opt_float32":
        return [f"F64[{b}] = MAX_SAFE if {var} is None else fround({var}, W)"]
    if kind == "opt_int16":
        return [f"I32[{a}] = NONE_24 if {var} is None else int_arg({var}, -32768, 65535, W)"]
    if kind == "opt_bool":
        return [f"I32[{a}] = NONE_24 if {var} is None else bool_arg({var}, W)"]
    if kind == "opt_char":
        return [f"U32[{a}] = NONE_24 if {var} is None else char_arg({var}, W)"]
    if kind == "opt_float64":
        return [
            f"I32[{a}] = {var} is not None",
            f"F64[{b2}] = 0.0 if {var} is None else float_arg({var}, W)",
        ]
    if kind == "opt_int64":
        return [
            f"I32[{a}] = {var} is not None",
            f"U64[{b2}] = 0 if {var} is None else high_unsigned({var}, 64, W)",
        ]
    raise KeyError(f"unknown parameter kind {kind!r}")


def param_final(kind: str, var: str, slot: int) -> list[str]:
    """Lines run just before the call, after every argument is stored."""
    base, args = split(kind)
    if base in abi_classes.PARAM_BASES and args:
        return abi_classes.param_final(base, var, slot)
    return []


# ---------------------------------------------------------------- result snippets


def _owned_buffer(a: int, decode: str) -> list[str]:
    return [
        f"p = U32[{a}]",
        f"n = U32[{a + 4}]",
        f"r = read(p, n){decode}",
        "free(p, n, 1)",
        "return r",
    ]


def result_lines(kind: str) -> list[str]:
    """Lines that turn the result slots (starting at slot 0) into the return value."""
    base, args = split(kind)
    if base in abi_classes.RESULT_BASES and args:
        return abi_classes.result_lines(base, args)
    lines = abi_arrays.result_lines(kind)
    if lines is not None:
        return lines
    if kind == "none":
        return ["return None"]
    simple = {
        "int32": "I32[0]",
        "uint32": "U32[0]",
        "float64": "F64[0]",
        "float32": "F32[0]",
        "int64": "I64[0]",
        "uint64": "U64[0]",
        "bool": "I32[0] != 0",
        "char": "chr(U32[0])",
        "opt_num": "None if F64[0] == MAX_SAFE else F64[0]",
        "opt_int16": "None if I32[0] == NONE_24 else I32[0]",
        "opt_bool": "None if I32[0] == NONE_24 else I32[0] != 0",
        "opt_char": "None if U32[0] == NONE_24 else chr(U32[0])",
        "opt_float64": "None if I32[0] == 0 else F64[2]",
        "opt_int64": "None if I32[0] == 0 else I64[2]",
        "opt_uint64": "None if I32[0] == 0 else U64[2]",
    }
    if kind in simple:
        return [f"return {simple[kind]}"]
    if kind == "str":
        return _owned_buffer(0, ".decode('utf-8')")
    if kind == "bytes":
        return _owned_buffer(0, "")
    if kind == "opt_str":
        return ["if U32[0] == 0:", "    return None", *_owned_buffer(0, ".decode('utf-8')")]
    if kind == "opt_bytes":
        return ["if U32[0] == 0:", "    return None", *_owned_buffer(0, "")]
    raise KeyError(f"unknown result kind {kind!r}")


def error_check_lines(n_results: int) -> list[str]:
    """For `Result<T, E>`: the last slot is the is-error flag, the one before the
    externref-table index of the error value."""
    flag, index = n_results - 1, n_results - 2
    return [f"if I32[{4 * flag}]:", f"    raise take_error(U32[{4 * index}])"]
