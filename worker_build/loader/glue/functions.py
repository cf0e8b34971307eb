"""Read the exports' signatures out of wasm-bindgen's JS glue: functions and the
methods of classes (classes.py finds those), one at a time.

The glue is the only signature record a `--no-typescript` build leaves: each
exported function has a JSDoc block (the Rust doc comment plus `@param {T}` and
`@returns {T}` in TypeScript terms) and a body that shows how every argument is
encoded for the wasm call and how the result is decoded. A parameter or result
is supported only when its TypeScript type, the expression the glue passes, and
the core wasm types of the export (from the module) all match one encoding in
`abi`; anything else is reported as unsupported with the reason, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker_build.loader import abi, abi_arrays

WasmSig = tuple[tuple[str, ...], tuple[str, ...]]  # (params, results) of an export


@dataclass(frozen=True)
class Param:
    name: str
    ts: str  # TypeScript type from the JSDoc ("" when missing)
    kind: str | None  # abi parameter kind; None when unsupported


@dataclass(frozen=True)
class Function:
    name: str  # exported JS name: the Rust name unless `js_name` renamed it
    export: str  # the wasm export the glue calls
    doc: str  # the Rust doc comment
    params: tuple[Param, ...]
    returns_ts: str | None
    ret: str | None  # abi result kind; None when unsupported
    result: bool  # Result<T, E>: an Err is thrown by the glue
    problem: str | None = None  # why the loader cannot call it

    @property
    def supported(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class TypeNames:
    """The module's own types, as the glue names them (JS class and enum names)."""

    classes: frozenset[str] = frozenset()
    int_enums: frozenset[str] = frozenset()
    str_enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> values

    def describe(self, ts: str) -> str:
        return describe_ts(ts, tuple(self.classes), (*self.int_enums, *self.str_enums))


# ------------------------------------------------------------------ text helpers

# `const x = ...;`, and plain `x = ...;` (several allocating arguments are
# declared first with `let ptr0, len0, ptr1, len1;` and assigned in a try block)
_BINDING = re.compile(r"^\s*(?:(?:const|let|var)\s+)?(\w+)\s*=(?!=)\s*(.+?);\s*$", re.M)
_JSDOC_TAG = re.compile(r"@(param|returns?)\s+\{(.*)\}\s*(\[?[\w$]+\]?)?")
# exports the glue calls besides the one a function wraps (allocation, cleanup)
_INTRINSICS = re.compile(
    r"__wbindgen_(malloc|realloc|free|exn_store)$|__externref_\w+$|__wbg_\w+_free$"
)


def block_end(text: str, start: int, indent: str = "") -> int:
    """End of the block that starts at `start` (a line at `indent`): the first
    following line that is exactly `indent` + `}`."""
    match = re.compile(rf"^{indent}\}}\s*$", re.M).search(text, start)
    return match.end() if match else len(text)


def jsdoc_before(text: str, start: int) -> str:
    head = text[:start].rstrip()
    if not head.endswith("*/"):
        return ""
    opening = head.rfind("/**")
    return head[opening:] if opening >= 0 else ""


def parse_jsdoc(doc: str) -> tuple[str, dict[str, str], str | None]:
    """(description, {param: ts type}, returns ts type) of a `/** ... */` block."""
    lines = []
    for raw in doc.removeprefix("/**").removesuffix("*/").splitlines():
        line = raw.strip()
        line = line[1:] if line.startswith("*") else line
        lines.append(line[1:] if line.startswith(" ") else line)
    description: list[str] = []
    params: dict[str, str] = {}
    returns: str | None = None
    for line in lines:
        tag = _JSDOC_TAG.match(line.strip())
        if tag:
            if tag.group(1) == "param" and tag.group(3):
                params[tag.group(3).strip("[]")] = tag.group(2).strip()
            elif tag.group(1).startswith("return"):
                returns = tag.group(2).strip()
        elif not params and returns is None:
            description.append(line.rstrip())
    return "\n".join(description).strip("\n"), params, returns


def balanced(text: str, open_at: int) -> str:
    """The text inside the bracket at `open_at` up to its matching close."""
    depth = 0
    quote = ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    raise ValueError("unbalanced brackets in the glue")


def split_args(args: str) -> list[str]:
    """Split a call's argument list at its top-level commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def _strip_plus_parens(expr: str) -> str:
    expr = expr.removeprefix("+")
    if expr.startswith("(") and expr.endswith(")") and balanced(expr, 0) == expr[1:-1]:
        expr = expr[1:-1]
    return expr


def normalize(expr: str, param: str) -> str:
    """Whitespace-free expression with the parameter's name replaced by `$`."""
    flat = _strip_plus_parens(re.sub(r"\s+", "", expr))
    return re.sub(rf"(?<![\w$.]){re.escape(param)}(?![\w$])", "$", flat)


# ------------------------------------------------------------------ parameters

_MALLOC_STR = "passStringToWasm0($,wasm.__wbindgen_malloc,wasm.__wbindgen_realloc)"
_MALLOC_U8 = "passArray8ToWasm0($,wasm.__wbindgen_malloc)"
_LEN = "WASM_VECTOR_LEN"

# normalized argument expressions -> parameter kind (plain `$` is decided by type)
_PARAM_PATTERNS: dict[tuple[str, ...], str] = {
    ("$.codePointAt(0)",): "char",
    (_MALLOC_STR, _LEN): "str",
    (_MALLOC_U8, _LEN): "bytes",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:($)>>0",): "opt_int32",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:($)>>>0",): "opt_uint32",
    ("isLikeNone($)?Number.MAX_SAFE_INTEGER:Math.fround($)",): "opt_float32",
    ("isLikeNone($)?0xFFFFFF:$",): "opt_int16",
    ("isLikeNone($)?0xFFFFFF:$?1:0",): "opt_bool",
    ("isLikeNone($)?0xFFFFFF:$.codePointAt(0)",): "opt_char",
    ("!isLikeNone($)", "isLikeNone($)?0:$"): "opt_float64",
    ("!isLikeNone($)", "isLikeNone($)?BigInt(0):$"): "opt_int64",
    ("isLikeNone($)?0:" + _MALLOC_STR, _LEN): "opt_str",
    ("isLikeNone($)?0:" + _MALLOC_U8, _LEN): "opt_bytes",
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
        if optional or rest != (_LEN,):
            return None
        if ts == "string[]":
            return "strings"
        return f"objects:{ts[:-2]}" if ts.endswith("[]") and ts[:-2] in classes else None
    match = _PASS_ARRAY.match(first)
    if match is None:
        return None
    if rest == (_LEN, "$") and not optional:  # &mut [T]: the typed array goes along
        element = _TS_ELEMENT.get(ts)
        kind = f"mut_{element}"
    elif rest == (_LEN,):
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


def _classify_param(
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

_RESULT_ERR = re.compile(
    r"if \(ret\[(\d+)\]\) \{[^}]*?throw takeFromExternrefTable0\(ret\[(\d+)\]\);", re.S
)


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


def _classify_return(
    ts: str | None, wasm: tuple[str, ...], after: str, types: TypeNames = TypeNames()
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


# ------------------------------------------------------------------ functions


def _bindings(body: str) -> dict[str, str]:
    """{local: expression} of the body's assignments; the first binding of a name
    wins, except `let ptr0 = 0;` later set to `p.__destroy_into_raw()` in an
    `if (!isLikeNone(p))` block (an `Option<Struct>` argument)."""
    bindings: dict[str, str] = {}
    for name, expr in _BINDING.findall(body):
        taken = re.fullmatch(r"(\w+)\.__destroy_into_raw\(\)", expr.strip())
        if name not in bindings:
            bindings[name] = expr
        elif bindings[name].strip() == "0" and taken:
            bindings[name] = f"isLikeNone({taken.group(1)}) ? 0 : {expr}"
    return bindings


def parse_function(
    name: str,
    header_params: list[str],
    doc_block: str,
    body: str,
    wasm_exports: Mapping[str, WasmSig],
    types: TypeNames = TypeNames(),
    *,
    this_class: str | None = None,
    constructor: bool = False,
) -> Function:
    """One exported function, or a method of `this_class` (its receiver becomes
    the first parameter, `self`; a constructor gets the object being built)."""
    description, ts_params, returns_ts = parse_jsdoc(doc_block)
    receiver = this_class is not None and not constructor
    js_params = ["this", *header_params] if receiver else list(header_params)
    if receiver:
        ts_params["this"] = this_class or ""

    def py(pname: str) -> str:
        return "self" if pname == "this" else pname

    def fail(problem: str, params: tuple[Param, ...] | None = None) -> Function:
        if params is None:
            params = tuple(Param(py(p), ts_params.get(p, ""), None) for p in js_params)
        return Function(name, name, description, params, returns_ts, None, False, problem)

    call = re.search(rf"\bwasm\.({re.escape(name)})\(", body) or next(
        (m for m in re.finditer(r"\bwasm\.(\w+)\(", body) if not _INTRINSICS.match(m.group(1))),
        None,
    )
    if call is None or call.group(1) not in wasm_exports:
        return fail("the glue does not call a wasm export the loader can find")
    export = call.group(1)
    wasm_params, wasm_results = wasm_exports[export]
    bindings = _bindings(body)
    args = []
    for raw in split_args(balanced(body, call.end() - 1)):
        seen = set()
        while re.fullmatch(r"\w+", raw) and raw in bindings and raw not in seen:
            seen.add(raw)
            raw = bindings[raw]
        args.append(raw)
    if len(args) != len(wasm_params):
        return fail(f"the glue passes {len(args)} values, the wasm export takes {len(wasm_params)}")

    # group the call's arguments by the JS parameter they come from
    groups: list[list[str]] = [[] for _ in js_params]
    current = -1
    for expr in args:
        owners = [
            i for i, p in enumerate(js_params)
            if re.search(rf"(?<![\w$.]){re.escape(p)}(?![\w$])", expr)
        ]  # fmt: skip
        if len(owners) == 1 and owners[0] >= current:
            current = owners[0]
        elif not (owners == [] and current >= 0 and re.sub(r"\s", "", expr) == _LEN):
            return fail(f"cannot map the wasm argument `{expr}` to one parameter")
        groups[current].append(expr)

    params: list[Param] = []
    problems: list[str] = []
    slot = 0
    for pname, exprs in zip(js_params, groups, strict=True):
        ts = ts_params.get(pname, "")
        width = len(exprs)
        kind = (
            _classify_param(exprs, pname, ts, wasm_params[slot : slot + width], types)
            if exprs
            else None
        )
        slot += width
        params.append(Param(py(pname), ts, kind))
        if kind is None:
            what = "the receiver" if pname == "this" else f"parameter `{pname}`"
            problems.append(f"{what}: {types.describe(ts or '?')}")

    after = body[call.end() :]
    is_result = False
    results = wasm_results
    err = _RESULT_ERR.search(after)
    if err:
        flag, index = int(err.group(1)), int(err.group(2))
        n = len(wasm_results)
        if n >= 2 and (flag, index) == (n - 1, n - 2) and wasm_results[-2:] == ("i32", "i32"):
            is_result, results = True, wasm_results[:-2]
        else:
            problems.append("an error return the loader cannot decode")
    if constructor:
        built = re.search(r"this\.__wbg_ptr = ret(\[0\])?;", after)
        ret = f"ctor:{this_class}" if built and results == ("i32",) else None
        params.insert(0, Param("self", this_class or "", f"this:{this_class}"))
    else:
        ret = _classify_return(returns_ts, results, after, types)
    if ret is None:
        problems.append(f"returns {types.describe(returns_ts or '?')}")
    if problems:
        return fail("; ".join(problems), tuple(params))
    return Function(name, export, description, tuple(params), returns_ts, ret, is_result)
