"""The imports of wasm-bindgen's glue (glue/imports.py): the entries of its import
object, the intrinsics the runtime implements (casts, the externref table), and for
the crate's JS imports which JS function each entry calls and how its arguments and
result are converted. The entries follow the shape of wasm-bindgen 0.2.130 output
(the crate's wrapped in `wrapError`)."""

from __future__ import annotations

import pytest

from tests.support.glue_function_samples import IMPORTS
from worker_build.loader.glue.imports import (
    casts,
    classify_import,
    externref_init,
    js_function_name,
    parse_imports,
)


def entry(args: str, body: str) -> str:
    return (
        f"function() {{ return wrapError(function ({args}) {{\n{body}\n        }}, arguments); }}"
    )


RETPTR = (
    "            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 1, len1, true);\n"
    "            getDataViewMemory0().setInt32((arg0 >>> 0) + 4 * 0, ptr1, true);"
)
CASES = [
    ("host_add", (("i32", "i32"), ("i32",)), "arg0, arg1",
     "const ret = host_add(arg0, arg1);\nreturn ret;", ("int32", "int32"), "int32"),
    ("host_mix", (("i32", "i64", "i64", "f32"), ("f64",)), "arg0, arg1, arg2, arg3",
     "const ret = host_mix(arg0 >>> 0, arg1, BigInt.asUintN(64, arg2), arg3);\nreturn ret;",
     ("uint32", "int64", "uint64", "float32"), "float64"),
    ("host_flag", (("i32", "i32"), ("f64",)), "arg0, arg1",
     "const ret = host_flag(arg0 !== 0, String.fromCodePoint(arg1));\n"
     "return isLikeNone(ret) ? Number.MAX_SAFE_INTEGER : (ret) >>> 0;",
     ("bool", "char"), "opt_uint32"),
    ("host_log", (("i32", "i32"), ()), "arg0, arg1",
     "host_log(getStringFromWasm0(arg0, arg1));", ("str",), "none"),
    ("console.log", (("i32", "i32"), ()), "arg0, arg1",
     "console.log(getStringFromWasm0(arg0, arg1));", ("str",), "none"),
    ("host_greeting", (("i32", "i32", "i32"), ()), "arg0, arg1, arg2",
     "const ret = host_greeting(getStringFromWasm0(arg1, arg2));\n"
     "const ptr1 = passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);\n"
     "const len1 = WASM_VECTOR_LEN;\n" + RETPTR, ("str",), "str"),
    ("host_scale", (("i32", "i32", "i32", "f64"), ()), "arg0, arg1, arg2, arg3",
     "const ret = host_scale(getArrayF64FromWasm0(arg1, arg2), arg3);\n"
     "const ptr1 = passArrayF64ToWasm0(ret, wasm.__wbindgen_malloc);\n"
     "const len1 = WASM_VECTOR_LEN;\n" + RETPTR, ("array_f64", "float64"), "array_f64"),
    ("host_sum", (("i32", "i32"), ("i32",)), "arg0, arg1",
     "var v0 = getArrayI32FromWasm0(arg0, arg1).slice();\n"
     "wasm.__wbindgen_free(arg0, arg1 * 4, 4);\nconst ret = host_sum(v0);\nreturn ret;",
     ("owned_array_i32",), "int32"),
    ("host_upper", (("i32", "i32", "i32"), ()), "arg0, arg1, arg2",
     "let deferred0_0;\nlet deferred0_1;\ntry {\ndeferred0_0 = arg1;\ndeferred0_1 = arg2;\n"
     "const ret = host_upper(getStringFromWasm0(arg1, arg2));\n"
     "const ptr1 = passStringToWasm0(ret, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);\n"
     "const len1 = WASM_VECTOR_LEN;\n" + RETPTR + "\n} finally {\n"
     "wasm.__wbindgen_free(deferred0_0, deferred0_1, 1);\n}", ("owned_str",), "str"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "sig", "args", "body", "params", "ret"), CASES)
def test_supported_imports(
    name: str,
    sig: tuple,
    args: str,
    body: str,
    params: tuple,
    ret: str,  # type: ignore[type-arg]
) -> None:
    found = classify_import(
        f"__wbg_{name.replace('.', '')}_0123456789abcdef", entry(args, body), sig
    )
    assert found is not None and found.problem is None
    assert (found.name, found.params, found.ret) == (name, params, ret)


@pytest.mark.parametrize(
    ("body", "sig", "problem"),
    [
        ("const ret = host_any(arg0);\nreturn ret;", (("externref",), ("externref",)),
         "parameter 1 is a JS value (JsValue or an imported JS type); returns a JS value"),
        ("const ret = arg0.size();\nreturn ret;", (("externref",), ("i32",)),
         "a method or property of an imported JS type"),
        ("const ret = new Thing(arg0);\nreturn ret;", (("i32",), ("externref",)),
         "a JS constructor (`new Thing`)"),
    ],
)  # fmt: skip
def test_unsupported_imports_say_why(body: str, sig: tuple, problem: str) -> None:  # type: ignore[type-arg]
    found = classify_import("__wbg_thing_0123456789abcdef", entry("arg0", body), sig)
    assert found is not None and found.problem is not None
    assert found.problem.startswith(problem)


def test_wasm_bindgen_own_imports_are_not_the_crates() -> None:
    assert js_function_name("__wbg___wbindgen_throw_4c88d8bf264fd984") is None
    assert js_function_name("__wbg_Error_208446807d0d1e30") is None
    assert js_function_name("__wbindgen_init_externref_table") is None
    assert js_function_name("__wbg_host_add_538fc4b6d9904dc4") == "host_add"


def test_properties_and_values_are_told_apart_from_calls() -> None:
    prop = classify_import(
        "__wbg_body_0123456789abcdef",
        entry("arg0", "const ret = arg0.body;\nreturn ret;"),
        (("externref",), ("externref",)),
    )
    assert prop is not None and prop.problem == "a property of an imported JS type"
    value = classify_import(
        "__wbg_CONFIG_0123456789abcdef",
        entry("", "const ret = CONFIG;\nreturn ret;"),
        ((), ("externref",)),
    )
    assert value is not None and value.problem == "a JS value (a global or static), not a function"


def test_imports_casts_and_table_constants() -> None:
    imports = parse_imports(IMPORTS)
    assert set(imports) >= {"__wbg_Error_208446807d0d1e30", "__wbindgen_jstag"}
    assert imports["__wbindgen_jstag"] == "WebAssembly.JSTag"
    assert casts(imports) == {
        "__wbindgen_generic_0000000000000001": "string",
        "__wbindgen_generic_0000000000000002": "number",
    }
    assert externref_init(imports) == [
        (0, "undefined"),
        (1024, "undefined"),
        (1025, "null"),
        (1026, "true"),
        (1027, "false"),
    ]
