"""The imports of wasm-bindgen's JS glue (the entries of its `import0` object).

Three sorts: wasm-bindgen's own intrinsics (`__wbindgen_*`, casts, `Error`),
which the runtime implements; the crate's `extern "C"` JS functions, which the
user implements in Python (host_imports.py) when every argument and the result
are of a kind listed there; and the rest, reported by name with the reason.
For a JS function the entry shows the call (`const ret = host_add(arg0, arg1)`)
with each argument's conversion, then how the result goes back: returned, or
written through a return pointer (the first wasm argument) for strings and
arrays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from worker_build.loader import host_imports
from worker_build.loader.glue.functions import WasmSig
from worker_build.loader.glue.js_text import balanced, split_args

_IMPORT_ENTRY = re.compile(r"^ {8}([\w$]+): ", re.M)
_HASHED = re.compile(r"^__wbg_(.+)_[0-9a-f]{16}$")
_GLUE_BUILTINS = frozenset({"Error"})  # JS functions wasm-bindgen itself imports
_FUNCTION = re.compile(r"function\s*\(([^)]*)\)\s*\{")
_CALL = re.compile(
    r"^\s*(?:const ret = )?(new\s+)?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\((.*)\);\s*$", re.M
)
_HELPERS = re.compile(
    r"^(getStringFromWasm0|getArray\w+FromWasm0|getDataViewMemory0|isLikeNone|_assert\w+"
    r"|pass\w+ToWasm0|takeFromExternrefTable0|addToExternrefTable0|String\.fromCodePoint"
    r"|BigInt\.asUintN|wasm\..*|__wbg_\w+)$"
)
_GET_ARRAY = re.compile(
    r"getArray(I8|U8|I16|U16|I32|U32|I64|U64|F32|F64)FromWasm0\((arg\d+),(arg\d+)\)"
)
_LOCAL = re.compile(r"^\s*(?:const|let|var)\s+(\w+)\s*=\s*(.+?);\s*$", re.M)
_PASS_RESULT = re.compile(
    r"pass(String|Array8|Array16|Array32|Array64|ArrayF32|ArrayF64)ToWasm0\(ret,"
)


@dataclass(frozen=True)
class JsImport:
    """A JS function the crate imports."""

    import_name: str  # the wasm import, hash suffix included
    name: str  # what the glue calls: `host_add`, `console.log`
    params: tuple[str, ...]  # host_imports parameter kinds
    ret: str  # host_imports result kind
    problem: str | None = None  # why Python cannot provide it

    @property
    def supported(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, object]:
        return {"import": self.import_name, "name": self.name, "params": list(self.params),
                "ret": self.ret}  # fmt: skip


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
_CASTS = {  # cast -> (runtime name, the body that proves it)
    "Ref(String)": ("string", "const ret = getStringFromWasm0(arg0, arg1);"),
    "F64": ("number", "const ret = arg0;"),
}


def casts(imports: Mapping[str, str]) -> dict[str, str]:
    """{import name: cast} for the cast intrinsics the runtime implements."""
    out = {}
    for name, definition in imports.items():
        comment = _CAST_COMMENT.search(definition)
        known = _CASTS.get(comment.group(1)) if comment else None
        if known is not None and known[1] in definition:
            out[name] = known[0]
    return out


_WRAP = re.compile(r"const ret = (\w+)\.__(wrap|unwrap)\(arg0\);\s*return ret;")


def class_wraps(imports: Mapping[str, str]) -> dict[str, str]:
    """{import name: "wrap:<class>" or "unwrap:<class>"} for `__wbg_<class>_new`
    (a struct's JS object from its pointer, for `Vec<Struct>` results) and
    `__wbg_<class>_unwrap` (the pointer taken out of it, for arguments)."""
    out = {}
    for name, definition in imports.items():
        found = _WRAP.search(definition)
        if found is None:
            continue
        cls, which = found.groups()
        suffix = "new" if which == "wrap" else "unwrap"
        if name == f"__wbg_{cls.lower()}_{suffix}":
            out[name] = f"{which}:{cls}"
    return out


def externref_init(imports: Mapping[str, str]) -> list[tuple[int, str]]:
    """The constants `__wbindgen_init_externref_table` puts into the table."""
    definition = imports.get("__wbindgen_init_externref_table", "")
    return [(int(i), c) for i, c in _TABLE_SET.findall(definition)]


# ------------------------------------------------------------------ the crate's JS functions


def js_function_name(import_name: str) -> str | None:
    """`__wbg_host_add_538fc4b6d9904dc4` -> `host_add`; None for wasm-bindgen's own."""
    match = _HASHED.match(import_name)
    if match is None or match.group(1).startswith("__wbindgen") or match.group(1) in _GLUE_BUILTINS:
        return None
    return match.group(1)


def _flat(expr: str) -> str:
    return re.sub(r"\s+", "", expr)


def _param_kind(expr: str, wasm: Mapping[str, str], body: str) -> tuple[str, list[str]] | str:
    """(kind, the wasm arguments it reads) for one argument of the call, or why not."""
    e = _flat(expr)
    plain = re.fullmatch(r"arg\d+", e)
    if plain:
        t = wasm.get(e)
        kinds = {"i32": "int32", "i64": "int64", "f64": "float64", "f32": "float32"}
        if t in kinds:
            return kinds[t], [e]
        return "a JS value (JsValue or an imported JS type)" if t == "externref" else f"{e}: {t}"
    unary = {
        r"(arg\d+)>>>0": "uint32",
        r"BigInt\.asUintN\(64,(arg\d+)\)": "uint64",
        r"(arg\d+)!==0": "bool",
        r"String\.fromCodePoint\((arg\d+)\)": "char",
    }
    for pattern, kind in unary.items():
        match = re.fullmatch(pattern, e)
        if match:
            return kind, [match.group(1)]
    string = re.fullmatch(r"getStringFromWasm0\((arg\d+),(arg\d+)\)", e)
    if string:
        a, b = string.groups()
        owned = re.search(rf"deferred(\d+)_0 = {a};", body) is not None
        return ("owned_str" if owned else "str"), [a, b]
    array = _GET_ARRAY.fullmatch(e.removesuffix(".slice()"))
    if array:
        element, a, b = array.group(1).lower(), array.group(2), array.group(3)
        owned = e.endswith(".slice()") and f"__wbindgen_free({a}," in _flat(body)
        base = "bytes" if element == "u8" else f"array_{element}"
        return (f"owned_{base}" if owned else base), [a, b]
    return f"an argument the loader cannot convert (`{expr.strip()}`)"


def _result_kind(after: str, wasm_results: tuple[str, ...]) -> str:
    """The result kind from the code after the call (empty when nothing is returned)."""
    a = _flat(after)
    passed = _PASS_RESULT.search(after)
    if passed and "setInt32((arg0>>>0)+4*1" in a and not wasm_results:
        which = passed.group(1)
        return {"String": "str", "Array8": "array_8", "Array16": "array_16",
                "Array32": "array_32", "Array64": "array_64", "ArrayF32": "array_f32",
                "ArrayF64": "array_f64"}[which]  # fmt: skip
    if a in ("", "}") and not wasm_results:
        return "none"
    if a.startswith("returnret;") and len(wasm_results) == 1:
        return {"i32": "int32", "i64": "int64", "f64": "float64", "f32": "float32"}.get(
            wasm_results[0], "a JS value (JsValue or an imported JS type)"
        )
    options = {
        "returnisLikeNone(ret)?Number.MAX_SAFE_INTEGER:(ret)>>>0;": "opt_uint32",
        "returnisLikeNone(ret)?Number.MAX_SAFE_INTEGER:(ret)>>0;": "opt_int32",
        "returnisLikeNone(ret)?Number.MAX_SAFE_INTEGER:Math.fround(ret);": "opt_float32",
    }
    for text, kind in options.items():
        if a.startswith(text) and wasm_results == ("f64",):
            return kind
    if re.match(r"constchar\d+=ret\.codePointAt\(0\);_assertChar\(char\d+\);returnchar\d+;", a):
        return "char"
    return "a result the loader cannot convert"


def classify_import(import_name: str, definition: str, sig: WasmSig | None) -> JsImport | None:
    """The crate's JS function behind `import_name` (None for wasm-bindgen's own)."""
    js_name = js_function_name(import_name)
    if js_name is None:
        return None
    functions = list(_FUNCTION.finditer(definition))
    if not functions or sig is None:
        return JsImport(import_name, js_name, (), "none", "the glue entry cannot be read")
    inner = functions[-1]
    arg_names = [a.strip() for a in inner.group(1).split(",") if a.strip()]
    body = balanced(definition, inner.end() - 1)
    wasm = dict(zip(arg_names, sig[0], strict=False))
    call = next((m for m in _CALL.finditer(body) if not _HELPERS.match(m.group(2))), None)
    if call is None:
        reason = "the glue entry calls no JS function"
        if re.search(r"\barg\d+\.[\w$]+(\s*=|;)", body):
            reason = "a property of an imported JS type"
        elif re.search(r"\b(const ret = |return )[A-Za-z_$][\w$.]*;", body):
            reason = "a JS value (a global or static), not a function"
        return JsImport(import_name, js_name, (), "none", reason)
    callee = call.group(2)

    def unsupported(reason: str) -> JsImport:
        return JsImport(import_name, callee, (), "none", reason)

    if call.group(1):
        return unsupported(f"a JS constructor (`new {callee}`)")
    if re.match(r"arg\d+\.", callee):
        return unsupported("a method or property of an imported JS type")
    ret = _result_kind(body[call.end() :], sig[1])
    problems = []
    used = ["arg0"] if ret in host_imports.RETPTR_RESULTS else []
    params = []
    locals_ = dict(_LOCAL.findall(body))
    for i, expr in enumerate(split_args(call.group(3)), 1):
        found = _param_kind(locals_.get(expr.strip(), expr), wasm, body)
        if isinstance(found, str):
            problems.append(f"parameter {i} is {found}")
            continue
        kind, reads = found
        params.append(kind)
        used += reads
    if ret not in host_imports.RESULTS:
        problems.append(f"returns {ret}")
    if problems:
        return unsupported("; ".join(problems))
    if used != arg_names:
        return unsupported("its arguments are not passed one after another")
    return JsImport(import_name, callee, tuple(params), ret)


def classify_imports(
    imports: Mapping[str, str], wasm_imports: Mapping[str, WasmSig]
) -> tuple[JsImport, ...]:
    found = []
    for name, definition in imports.items():
        entry = classify_import(name, definition, wasm_imports.get(name))
        if entry is not None:
            found.append(entry)
    return tuple(found)
