"""Exported functions and the imports object as wasm-bindgen writes them in its JS glue
(0.2.130 `--target module`: a JSDoc block, `export function`, the wasm call and the result
handling), with the wasm signatures of their exports; shared by the glue tests."""

from __future__ import annotations

GUARD = "    __wbg_call_guard();\n"


def fn(name: str, params: str, doc: list[str], body: str) -> str:
    jsdoc = "/**\n" + "".join(f" * {line}\n" for line in doc) + " */\n"
    return f"{jsdoc}export function {name}({params}) {{\n{body}}}\n"


ADD = fn(
    "add",
    "a, b",
    ["Adds two integers.", "@param {number} a", "@param {number} b", "@returns {number}"],
    f"    let ret;\n{GUARD}    try {{\n        ret = wasm.add(a, b);\n    }} catch(e) {{\n"
    "        __wbg_handle_catch(e);\n    }\n    return ret;\n",
)
COUNTER = fn(
    "counter",
    "",
    ["Counts.", "", "Second paragraph.", "@returns {number}"],
    "    let ret;\n    ret = wasm.counter();\n    return ret >>> 0;\n",
)
GREET = fn(
    "greet",
    "name",
    ["@param {string} name", "@returns {string}"],
    "    let deferred2_0;\n    let deferred2_1;\n    try {\n"
    "        const ptr0 = passStringToWasm0(name, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);\n"
    "        const len0 = WASM_VECTOR_LEN;\n        let ret;\n        ret = wasm.greet(ptr0, len0);\n"
    "        deferred2_0 = ret[0];\n        deferred2_1 = ret[1];\n"
    "        return getStringFromWasm0(ret[0], ret[1]);\n    } finally {\n"
    "        wasm.__wbindgen_free(deferred2_0, deferred2_1, 1);\n    }\n",
)
PARSE = fn(
    "parse_u32",
    "text",
    ["@param {string} text", "@returns {number}"],
    "    const ptr0 = passStringToWasm0(text, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);\n"
    "    const len0 = WASM_VECTOR_LEN;\n    let ret;\n    ret = wasm.parse_u32(ptr0, len0);\n"
    "    if (ret[2]) {\n        throw takeFromExternrefTable0(ret[1]);\n    }\n"
    "    return ret[0] >>> 0;\n",
)
MANY = fn(
    "many",
    "a, b, c, d, e",
    [
        "@param {number} a",
        "@param {number} b",
        "@param {string} c",
        "@param {boolean} d",
        "@param {number | null} [e]",
        "@returns {bigint | undefined}",
    ],
    "    const val2 = +a;\n    const val3 = +b;\n    const val4 = +d;\n"
    "    const val5 = +(isLikeNone(e) ? Number.MAX_SAFE_INTEGER : (e) >>> 0);\n"
    "    const ptr0 = passStringToWasm0(c, wasm.__wbindgen_malloc, wasm.__wbindgen_realloc);\n"
    "    const len0 = WASM_VECTOR_LEN;\n    let ret;\n"
    "    ret = wasm.many(val2, val3, ptr0, len0, val4, val5);\n"
    "    return ret[0] === 0 ? undefined : BigInt.asUintN(64, ret[1]);\n",
)
TWO_BUFFERS = fn(
    "two",
    "c, f",
    ["@param {string | null | undefined} c", "@param {Uint8Array} f"],
    "    let ptr0, len0, ptr1, len1;\n    try {\n"
    "        ptr0 = isLikeNone(c) ? 0 : passStringToWasm0(c, wasm.__wbindgen_malloc, "
    "wasm.__wbindgen_realloc);\n"
    "        len0 = WASM_VECTOR_LEN;\n"
    "        ptr1 = passArray8ToWasm0(f, wasm.__wbindgen_malloc);\n"
    "        len1 = WASM_VECTOR_LEN;\n    } catch (e) {\n"
    "        if (ptr1) { wasm.__wbindgen_free(ptr1, len1 * 1, 1); }\n        throw e;\n    }\n"
    "    wasm.two(ptr0, len0, ptr1, len1);\n",
)
SUM = fn(
    "sum_f64s",
    "values",
    ["@param {Float64Array | number[]} values", "@returns {number}"],
    "    const ptr0 = passArrayF64ToWasm0(values, wasm.__wbindgen_malloc);\n"
    "    const len0 = WASM_VECTOR_LEN;\n    let ret;\n    ret = wasm.sum_f64s(ptr0, len0);\n"
    "    return ret;\n",
)
ANY = fn(
    "echo_any",
    "a",
    ["@param {any} a", "@returns {any}"],
    "    let ret;\n    ret = wasm.echo_any(a);\n    return ret;\n",
)
THING = fn(
    "make_thing",
    "v",
    ["@param {number} v", "@returns {Thing}"],
    "    let ret;\n    ret = wasm.make_thing(v);\n    return Thing.__wrap(ret);\n",
)
IMPORTS = """function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_Error_208446807d0d1e30: function(arg0, arg1) {
            const ret = Error(getStringFromWasm0(arg0, arg1));
            return ret;
        },
        __wbindgen_generic_0000000000000001: function(arg0, arg1) {
            // Cast intrinsic for `Ref(String) -> Externref`.
            const ret = getStringFromWasm0(arg0, arg1);
            return ret;
        },
        __wbindgen_generic_0000000000000002: function(arg0) {
            // Cast intrinsic for `F64 -> Externref`.
            const ret = arg0;
            return ret;
        },
        __wbindgen_init_externref_table: function() {
            const table = wasm.__wbindgen_externrefs;
            const offset = table.grow(4);
            table.set(0, undefined);
            table.set(1024, undefined);
            table.set(1025, null);
            table.set(1026, true);
            table.set(1027, false);
        },
        __wbindgen_jstag: WebAssembly.JSTag,
    };
    return {
        __proto__: null,
        "./index_bg.js": import0,
    };
}
"""

SIGS = {
    "add": (("i32", "i32"), ("i32",)),
    "counter": ((), ("i32",)),
    "greet": (("i32", "i32"), ("i32", "i32")),
    "parse_u32": (("i32", "i32"), ("i32", "i32", "i32")),
    "many": (("i32", "f64", "i32", "i32", "i32", "f64"), ("i32", "i64")),
    "sum_f64s": (("i32", "i32"), ("f64",)),
    "make_thing": (("i32",), ("i32",)),
    "two": (("i32", "i32", "i32", "i32"), ()),
    "echo_any": (("externref",), ("externref",)),
}
RESET = "export function __wbg_reset_state () {\n    wasm.__wbindgen_start();\n}\n"
CLASS = "export class Thing {\n    free() {\n    }\n}\n"
ENUM = 'export const Color = Object.freeze({\n    Red: 1, "1": "Red",\n});\n'
GLUE = "\n".join(
    [CLASS, ENUM, RESET, ADD, COUNTER, GREET, PARSE, MANY, TWO_BUFFERS, SUM, ANY, THING, IMPORTS]
)
