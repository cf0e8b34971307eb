"""The abi kind of a parameter or result, from what wasm-bindgen's JS glue does
with it (functions.py finds the expressions; this module names the encoding).

A parameter or result is supported only when its TypeScript type, the expression
the glue passes (or the code that decodes the result), and the core wasm types of
the export all match one encoding in `abi`; anything else gets None, which
functions.py reports as unsupported with the reason, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker_build.loader import abi, abi_arrays
from worker_build.loader.glue.js_text import normalize


@dataclass(frozen=True)
class TypeNames:
    """The module's own types, as the glue names them (JS class and enum names)."""

    classes: frozenset[str] = frozenset()
    int_enums: frozenset[str] = frozenset()
    str_enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> values

    def describe(self, ts: str) -> str:
        return describe_ts(ts, tuple(self.classes), (*self.int_enums, *self.str_enums))


# ------------------------------------------------------------------ parameters

_MALLOC_STR = "passStringToWasm0($,wasm.__wbindgen_malloc,wasm.__wbindgen_realloc)"
_MALLOC_U8 = "passArray8ToWasm0($,wasm.__wbindgen_malloc)"
VECTOR_LEN = "WASM_VECTOR_LEN"  # the length the glue passes after a buffer's pointer

# normalized argument expressions -> parameter kind (plain `$` is decided by type)
_PARAM_PATTERNS: dict[tuple[str, ...], str] = {
    ("$.codePointAt(0)",): "char",
    (_MALLOC_STR, VECTOR_LEN): "str",
    (_MALLOC_U8, VECTOR_LEN): "bytes",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:($)>>0",): "opt_int32",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:($)>>>0",): "opt_uint32",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:Math.fround($)",): "opt_float32",
    ("isLikeNone($)?0xFFFFFF:$",): "opt_int16",
    ("isLikeNone($)?0xFFFFFF:$?1:0",): "opt_bool",
    ("isLikeNone($)?0xFFFFFF:$.codePointAt(0)",): "opt_char",
    ("!isLikeNone($)", "isLikeNone($)?0:$"): "opt_float64",
    ("!isLikeNone($)", "isLikeNone($)?BigInt(0):$"): "opt_int64",
    ("isLikeNone($)?0:" + _MALLOC_STR, VECTOR_LEN): "opt_str",
    ("isLikeNone($)?0:" + _MALLOC_U8, VECTOR_LEN): "opt_bytes",
}
_PLAIN = {
    ("number", "i32"): "int32",
    ("number", "f64"): "float64",
    ("number", "f32"): "float32",
    ("bigint", "i64"): "int64",
    ("boolean", "i32"): "bool",
}
# TypeScript types each kind may carry (a mismatch means we misread the glue)
_PARAM_TS = {
    "char": {"string"},
    "str": {"string"},
    "bytes": {"Uint8Array | number[]", "Uint8Array"},
    "opt_int32": {"number | null"},
    "opt_uint32": {"number | null"},
    "opt_float32": {"number | null"},
    "opt_int16": {"number | null"},
    "opt_bool": {"boolean | null"},
    "opt_char": {"string | null"},
    "opt_float64": {"number | null"},
    "opt_int64": {"bigint | null"},
    "opt_str": {"string | null"},
    "opt_bytes": {"Uint8Array | number[] | null"},
}

_TS_RUST = {
    "any": "JsValue",
    "string[]": "Vec<String>",
    "Float64Array": "Vec<f64>/&[f64]",
    "Float32Array": "Vec<f32>/&[f32]",
    "Int8Array": "Vec<i8>/&[i8]",
    "Int16Array": "Vec<i16>/&[i16]",
    "Uint16Array": "Vec<u16>/&[u16]",
    "Int32Array": "Vec<i32>/&[i32]",
    "Uint32Array": "Vec<u32>/&[u32]",
    "BigInt64Array": "Vec<i64>/&[i64]",
    "BigUint64Array": "Vec<u64>/&[u64]",
    "Uint8ClampedArray": "Clamped<Vec<u8>>",
    "Function": "js_sys::Function",
    "bigint": "i128/u128",
    "Uint8Array": "&mut [u8]",
}


def describe_ts(ts: str, classes: tuple[str, ...] = (), enums: tuple[str, ...] = ()) -> str:
    """A TypeScript type with the Rust type it most likely came from."""
    core = re.sub(r"\s*\|\s*(null|undefined|number\[\])", "", ts).strip()
    if core.startswith("Promise<"):
        return f"{ts} (an async fn)"
    if core in classes:
        return f"{ts} (an exported Rust struct)"
    if core.endswith("[]") and core[:-2] in classes:
        return f"{ts} (Rust Vec<{core[:-2]}>)"
    if core in enums:
        return f"{ts} (an exported Rust enum)"
    rust = _TS_RUST.get(core, "")
    return f"{ts} (Rust {rust})" if rust else ts


_TS_ELEMENT = {ts: element for element, (_, _, ts) in abi_arrays.ELEMENTS.items()}
_PASS_ARRAY = re.compile(r"passArray(8|16|32|64|F32|F64)ToWasm0\(\$,wasm\.__wbindgen_malloc\)$")
_PASS_STRINGS = "passArrayJsValueToWasm0($,wasm.__wbindgen_malloc)"
_ENUM_INDEX = re.compile(r"\(__wbindgen_enum_(\w+)\.indexOf\(\$\)\+1\|\|(\d+)\)-1$")
_SOME = re.compile(r"isLikeNone\(\$\)\?(\d+|0x[0-9A-Fa-f]+):\(?(.*?)\)?$")


def _array_width(element: str) -> str:
    size = abi_arrays.ELEMENTS[element][1]
    return element.upper() if element.startswith("f") else str(8 * size)


def _classify_array(pattern: tuple[str, ...], ts: str, classes: frozenset[str]) -> str | None:
    """Typed slices and Vecs of numbers (other than u8), `&mut [T]`, `Vec<String>`."""
    first, rest = pattern[0], pattern[1:]
    optional = first.startswith("isLikeNone($)?0:")
    first = first.removeprefix("isLikeNone($)?0:")
    if first == _PASS_STRINGS:
        if optional or rest != (VECTOR_LEN,):
            return None
        if ts == "string[]":
            return "strings"
        return f"objects:{ts[:-2]}" if ts.endswith("[]") and ts[:-2] in classes else None
    match = _PASS_ARRAY.match(first)
    if match is None:
        return None
    if rest == (VECTOR_LEN, "$") and not optional:  # &mut [T]: the typed array goes along
        element = _TS_ELEMENT.get(ts)
        kind = f"mut_{element}"
    elif rest == (VECTOR_LEN,):
        core = ts.removesuffix(" | null") if optional else ts
        if not (core.endswith(" | number[]") or core.endswith(" | bigint[]")):
            return None
        element = _TS_ELEMENT.get(core.rsplit(" | ", 1)[0])
        if element == "u8":
            return None  # `bytes` (a pattern of its own)
        kind = f"{'opt_' if optional else ''}array_{element}"
    else:
        return None
    if element is None or _array_width(element) != match.group(1):
        return None
    return kind


def _classify_user_type(pattern: tuple[str, ...], ts: str, types: TypeNames) -> str | None:
    """Exported structs and enums."""
    if len(pattern) != 1:
        return None
    expr = pattern[0]
    core = ts.removesuffix(" | null")
    optional = core != ts
    if core in types.classes:
        if expr == "$.__wbg_ptr" and not optional:
            return f"struct_ref:{core}"
        if expr == "$.__destroy_into_raw()" and not optional:
            return f"struct_owned:{core}"
        if expr == "isLikeNone($)?0:$.__destroy_into_raw()" and optional:
            return f"opt_struct_owned:{core}"
        return None
    some = _SOME.match(expr) if optional else None
    inner = some.group(2) if some else expr
    if core in types.int_enums and inner == "$":
        return f"opt_enum:{core}:{int(some.group(1), 0)}" if some else f"enum:{core}"
    index = _ENUM_INDEX.match(inner)
    values = types.str_enums.get(core)
    if values is not None and index and index.group(1) == core:
        if int(index.group(2)) != len(values) + 1:
            return None
        return f"opt_senum:{core}:{int(some.group(1), 0)}" if some else f"senum:{core}"
    return None


def classify_param(
    exprs: list[str], name: str, ts: str, wasm: tuple[str, ...], types: TypeNames
) -> str | None:
    pattern = tuple(normalize(e, name) for e in exprs)
    # an Option parameter before a required one is typed `T | null | undefined`
    ts = ts.removesuffix(" | undefined") if ts.endswith(" | null | undefined") else ts
    if pattern == ("$",) and len(wasm) == 1 and (ts, wasm[0]) in _PLAIN:
        kind: str | None = _PLAIN[(ts, wasm[0])]
    elif pattern in _PARAM_PATTERNS and ts in _PARAM_TS[_PARAM_PATTERNS[pattern]]:
        kind = _PARAM_PATTERNS[pattern]
    else:
        kind = _classify_array(pattern, ts, types.classes) or _classify_user_type(
            pattern, ts, types
        )
    if kind is not None and abi.param(kind).wasm != wasm:
        kind = None
    return kind


# ------------------------------------------------------------------ results

_GET_ARRAY = re.compile(r"getArray(I8|U8|I16|U16|I32|U32|I64|U64|F32|F64)FromWasm0\(")
_HOLE = re.compile(r"ret(?:\[\d+\])? === (\d+) \? undefined : ")


def _classify_user_return(
    ts: str, wasm: tuple[str, ...], after: str, types: TypeNames
) -> str | None:
    """Typed arrays, `Vec<String>`, exported structs and enums."""
    core = ts.removesuffix(" | undefined")
    optional = core != ts
    frees = "__wbindgen_free(" in after
    array = _GET_ARRAY.search(after)
    if array and wasm == ("i32", "i32") and frees:
        element = array.group(1).lower()
        if element != "u8" and core == abi_arrays.typed_array_ts(element):
            if not optional:
                return f"array_{element}"
            return f"opt_array_{element}" if "!== 0" in after else None
    if wasm == ("i32", "i32") and "getArrayJsValueFromWasm0(" in after and frees:
        if ts == "string[]":
            return "strings"
        if ts.endswith("[]") and ts[:-2] in types.classes:
            return f"objects:{ts[:-2]}"
    hole = _HOLE.search(after)
    if core in types.classes and wasm == ("i32",) and f"{core}.__wrap(" in after:
        if not optional:
            return f"struct:{core}"
        return f"opt_struct:{core}" if hole and hole.group(1) == "0" else None
    if core in types.int_enums and wasm == ("f64",):
        if not optional:
            return f"enum:{core}"
        return f"opt_enum:{core}:{hole.group(1)}" if hole else None
    if core in types.str_enums and wasm == ("i32",) and f"__wbindgen_enum_{core}[ret" in after:
        return f"{'opt_' if optional else ''}senum:{core}"
    return None


def classify_return(
    ts: str | None, wasm: tuple[str, ...], after: str, types: TypeNames
) -> str | None:
    t = ts or ""
    has = after.__contains__
    frees = "__wbindgen_free(" in after
    table: list[tuple[bool, str]] = [
        (t == "" and wasm == (), "none"),
        (t == "number" and wasm == ("i32",) and ">>> 0" in after, "uint32"),
        (t == "number" and wasm == ("i32",) and ">>> 0" not in after, "int32"),
        (t == "number" and wasm == ("f64",), "float64"),
        (t == "number" and wasm == ("f32",), "float32"),
        (t == "bigint" and wasm == ("i64",) and has("BigInt.asUintN(64,"), "uint64"),
        (t == "bigint" and wasm == ("i64",) and not has("BigInt.asUintN"), "int64"),
        (t == "boolean" and wasm == ("i32",) and has("!== 0"), "bool"),
        (t == "string" and wasm == ("i32",) and has("String.fromCodePoint("), "char"),
        (t == "string" and wasm == ("i32", "i32") and has("getStringFromWasm0(") and frees, "str"),
        (t == "Uint8Array" and wasm == ("i32", "i32") and has("getArrayU8FromWasm0(") and frees,
         "bytes"),
        (t == "number | undefined" and wasm == ("f64",) and has("=== Number.MAX_SAFE_INTEGER"),
         "opt_num"),
        (t == "number | undefined" and wasm == ("i32",) and has("=== 0xFFFFFF"), "opt_int16"),
        (t == "number | undefined" and wasm == ("i32", "f64") and has("[0] === 0"), "opt_float64"),
        (t == "bigint | undefined" and wasm == ("i32", "i64") and has("[0] === 0")
         and not has("BigInt.asUintN"), "opt_int64"),
        (t == "bigint | undefined" and wasm == ("i32", "i64") and has("BigInt.asUintN(64,"),
         "opt_uint64"),
        (t == "boolean | undefined" and wasm == ("i32",) and has("=== 0xFFFFFF"), "opt_bool"),
        (t == "string | undefined" and wasm == ("i32",) and has("String.fromCodePoint("),
         "opt_char"),
        (t == "string | undefined" and wasm == ("i32", "i32") and has("getStringFromWasm0(")
         and frees, "opt_str"),
        (t == "Uint8Array | undefined" and wasm == ("i32", "i32")
         and has("getArrayU8FromWasm0(") and frees, "opt_bytes"),
    ]  # fmt: skip
    for matched, kind in table:
        if matched:
            return kind
    return _classify_user_return(t, wasm, after, types)
