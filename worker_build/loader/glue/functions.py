"""Read the exports' signatures out of wasm-bindgen's JS glue: functions and the
methods of classes (classes.py finds those), one at a time.

The glue is the only signature record a `--no-typescript` build leaves: each
exported function has a JSDoc block (the Rust doc comment plus `@param {T}` and
`@returns {T}` in TypeScript terms) and a body that shows how every argument is
encoded for the wasm call and how the result is decoded. `parse_function` maps
the call's arguments to the JS parameters they come from and asks encodings.py
for each one's abi kind; what has none is reported as unsupported with the
reason, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from worker_build.loader.glue.encodings import (
    VECTOR_LEN,
    TypeNames,
    classify_param,
    classify_return,
)
from worker_build.loader.glue.js_text import balanced, parse_jsdoc, split_args

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


# `const x = ...;`, and plain `x = ...;` (several allocating arguments are
# declared first with `let ptr0, len0, ptr1, len1;` and assigned in a try block)
_BINDING = re.compile(r"^\s*(?:(?:const|let|var)\s+)?(\w+)\s*=(?!=)\s*(.+?);\s*$", re.M)
# exports the glue calls besides the one a function wraps (allocation, cleanup)
_INTRINSICS = re.compile(
    r"__wbindgen_(malloc|realloc|free|exn_store)$|__externref_\w+$|__wbg_\w+_free$"
)
_RESULT_ERR = re.compile(
    r"if \(ret\[(\d+)\]\) \{[^}]*?throw takeFromExternrefTable0\(ret\[(\d+)\]\);", re.S
)


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
    types: TypeNames,
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
        elif not (owners == [] and current >= 0 and re.sub(r"\s", "", expr) == VECTOR_LEN):
            return fail(f"cannot map the wasm argument `{expr}` to one parameter")
        groups[current].append(expr)

    params: list[Param] = []
    problems: list[str] = []
    slot = 0
    for pname, exprs in zip(js_params, groups, strict=True):
        ts = ts_params.get(pname, "")
        width = len(exprs)
        kind = (
            classify_param(exprs, pname, ts, wasm_params[slot : slot + width], types)
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
        ret = classify_return(returns_ts, results, after, types)
    if ret is None:
        problems.append(f"returns {types.describe(returns_ts or '?')}")
    if problems:
        return fail("; ".join(problems), tuple(params))
    return Function(name, export, description, tuple(params), returns_ts, ret, is_result)
