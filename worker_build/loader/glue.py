"""Read the exports' signatures out of wasm-bindgen's JS glue.

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

from worker_build.loader import abi

WasmSig = tuple[tuple[str, ...], tuple[str, ...]]  # (params, results) of an export


@dataclass(frozen=True)
class Param:
    name: str
    ts: str  # TypeScript type from the JSDoc ("" when missing)
    kind: str | None  # key of abi.PARAMS; None when unsupported


@dataclass(frozen=True)
class Function:
    name: str  # exported JS name: the Rust name unless `js_name` renamed it
    export: str  # the wasm export the glue calls
    doc: str  # the Rust doc comment
    params: tuple[Param, ...]
    returns_ts: str | None
    ret: str | None  # key of abi.RETURNS; None when unsupported
    result: bool  # Result<T, E>: an Err is thrown by the glue
    problem: str | None = None  # why the loader cannot call it

    @property
    def supported(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Glue:
    functions: tuple[Function, ...]
    classes: tuple[str, ...] = ()
    enums: tuple[str, ...] = ()
    imports: dict[str, str] = field(default_factory=dict)  # import name -> JS definition


# ------------------------------------------------------------------ text helpers

_EXPORT_FN = re.compile(r"^export function (\w+)\s*\(([^)]*)\)\s*\{\s*$", re.M)
_EXPORT_CLASS = re.compile(r"^export class (\w+)", re.M)
_EXPORT_ENUM = re.compile(r"^export const (\w+) = Object\.freeze\(", re.M)
# `const x = ...;`, and plain `x = ...;` (several allocating arguments are
# declared first with `let ptr0, len0, ptr1, len1;` and assigned in a try block)
_BINDING = re.compile(r"^\s*(?:(?:const|let|var)\s+)?(\w+)\s*=(?!=)\s*(.+?);\s*$", re.M)
_JSDOC_TAG = re.compile(r"@(param|returns?)\s+\{(.*)\}\s*(\[?[\w$]+\]?)?")
_INTRINSICS = ("__wbindgen_malloc", "__wbindgen_realloc", "__wbindgen_free")


def _block_end(text: str, start: int) -> int:
    """End of the top-level block that starts at `start` (a line at column 0):
    the first following line that is exactly `}`."""
    match = re.compile(r"^\}\s*$", re.M).search(text, start)
    return match.end() if match else len(text)


def _jsdoc_before(text: str, start: int) -> str:
    head = text[:start].rstrip()
    if not head.endswith("*/"):
        return ""
    opening = head.rfind("/**")
    return head[opening:] if opening >= 0 else ""


def _parse_jsdoc(doc: str) -> tuple[str, dict[str, str], str | None]:
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


def _balanced(text: str, open_at: int) -> str:
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
    if expr.startswith("(") and expr.endswith(")") and _balanced(expr, 0) == expr[1:-1]:
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
    if core in enums:
        return f"{ts} (an exported Rust enum)"
    rust = _TS_RUST.get(core, "")
    return f"{ts} (Rust {rust})" if rust else ts


def _classify_param(exprs: list[str], name: str, ts: str, wasm: tuple[str, ...]) -> str | None:
    pattern = tuple(normalize(e, name) for e in exprs)
    # an Option parameter before a required one is typed `T | null | undefined`
    ts = ts.removesuffix(" | undefined") if ts.endswith(" | null | undefined") else ts
    if pattern == ("$",) and len(wasm) == 1:
        kind = _PLAIN.get((ts, wasm[0]))
    else:
        kind = _PARAM_PATTERNS.get(pattern)
        if kind is not None and ts not in _PARAM_TS[kind]:
            kind = None
    if kind is not None and abi.PARAMS[kind].wasm != wasm:
        kind = None
    return kind


# ------------------------------------------------------------------ results

_RESULT_ERR = re.compile(
    r"if \(ret\[(\d+)\]\) \{[^}]*?throw takeFromExternrefTable0\(ret\[(\d+)\]\);", re.S
)


def _classify_return(ts: str | None, wasm: tuple[str, ...], after: str) -> str | None:
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
    return None


# ------------------------------------------------------------------ functions


def _parse_function(
    name: str,
    header_params: list[str],
    doc_block: str,
    body: str,
    wasm_exports: Mapping[str, WasmSig],
    classes: tuple[str, ...],
    enums: tuple[str, ...],
) -> Function:
    description, ts_params, returns_ts = _parse_jsdoc(doc_block)

    def fail(problem: str, params: tuple[Param, ...] | None = None) -> Function:
        if params is None:
            params = tuple(Param(p, ts_params.get(p, ""), None) for p in header_params)
        return Function(name, name, description, params, returns_ts, None, False, problem)

    call = re.search(rf"\bwasm\.({re.escape(name)})\(", body) or next(
        (m for m in re.finditer(r"\bwasm\.(\w+)\(", body) if m.group(1) not in _INTRINSICS),
        None,
    )
    if call is None or call.group(1) not in wasm_exports:
        return fail("the glue does not call a wasm export the loader can find")
    export = call.group(1)
    wasm_params, wasm_results = wasm_exports[export]
    bindings = dict(reversed(_BINDING.findall(body)))  # first binding of a name wins
    args = []
    for raw in split_args(_balanced(body, call.end() - 1)):
        seen = set()
        while re.fullmatch(r"\w+", raw) and raw in bindings and raw not in seen:
            seen.add(raw)
            raw = bindings[raw]
        args.append(raw)
    if len(args) != len(wasm_params):
        return fail(f"the glue passes {len(args)} values, the wasm export takes {len(wasm_params)}")

    # group the call's arguments by the JS parameter they come from
    groups: list[list[str]] = [[] for _ in header_params]
    current = -1
    for expr in args:
        owners = [
            i for i, p in enumerate(header_params)
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
    for pname, exprs in zip(header_params, groups, strict=True):
        ts = ts_params.get(pname, "")
        width = len(exprs)
        kind = (
            _classify_param(exprs, pname, ts, wasm_params[slot : slot + width]) if exprs else None
        )
        slot += width
        params.append(Param(pname, ts, kind))
        if kind is None:
            problems.append(f"parameter `{pname}`: {describe_ts(ts or '?', classes, enums)}")

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
    ret = _classify_return(returns_ts, results, after)
    if ret is None:
        problems.append(f"returns {describe_ts(returns_ts or '?', classes, enums)}")
    if problems:
        return fail("; ".join(problems), tuple(params))
    return Function(name, export, description, tuple(params), returns_ts, ret, is_result)


def parse_glue(js: str, wasm_exports: Mapping[str, WasmSig]) -> Glue:
    """All exported functions, classes, enums and import definitions of the glue."""
    classes = tuple(_EXPORT_CLASS.findall(js))
    enums = tuple(_EXPORT_ENUM.findall(js))
    functions = []
    for match in _EXPORT_FN.finditer(js):
        name = match.group(1)
        if name.startswith("__wbg_") or name.startswith("__wbindgen"):
            continue  # __wbg_reset_state and other glue internals
        body = js[match.end() : _block_end(js, match.end())]
        header = [p.strip() for p in match.group(2).split(",") if p.strip()]
        doc = _jsdoc_before(js, match.start())
        functions.append(_parse_function(name, header, doc, body, wasm_exports, classes, enums))
    return Glue(tuple(functions), classes, enums, parse_imports(js))


_IMPORT_ENTRY = re.compile(r"^ {8}([\w$]+): ", re.M)


def parse_imports(js: str) -> dict[str, str]:
    """{name: JS definition} for the entries of the glue's `import0` object."""
    start = js.find("const import0 = {")
    if start < 0:
        return {}
    end = js.find("\n    };", start)
    block = js[start : end if end > 0 else len(js)]
    entries = list(_IMPORT_ENTRY.finditer(block))
    out = {}
    for i, entry in enumerate(entries):
        stop = entries[i + 1].start() if i + 1 < len(entries) else len(block)
        out[entry.group(1)] = block[entry.end() : stop].strip().rstrip(",")
    return out


_CAST_COMMENT = re.compile(r"Cast intrinsic for `(.+?) -> Externref`")
_TABLE_SET = re.compile(r"table\.set\((\d+),\s*(undefined|null|true|false)\)")


def casts(imports: Mapping[str, str]) -> dict[str, str]:
    """{import name: cast} for the cast intrinsics the runtime implements."""
    out = {}
    for name, definition in imports.items():
        comment = _CAST_COMMENT.search(definition)
        if (
            comment
            and comment.group(1) == "Ref(String)"
            and "const ret = getStringFromWasm0(arg0, arg1);" in definition
        ):
            out[name] = "string"
    return out


def externref_init(imports: Mapping[str, str]) -> list[tuple[int, str]]:
    """The constants `__wbindgen_init_externref_table` puts into the table."""
    definition = imports.get("__wbindgen_init_externref_table", "")
    return [(int(i), c) for i, c in _TABLE_SET.findall(definition)]
