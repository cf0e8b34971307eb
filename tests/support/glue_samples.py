"""Class and enum glue as wasm-bindgen writes it, shared by the glue and emit tests."""

from __future__ import annotations

GUARD = "__wbg_call_guard();"


STALE = (
    "        if (this.__wbg_inst !== undefined && this.__wbg_inst !== __wbg_instance_id) {\n"
    "            throw new Error('Invalid stale object from previous Wasm instance');\n"
    "        }\n"
)


def call(expr: str, assign: bool = True) -> str:
    target = "ret = " if assign else ""
    return (
        f"        let ret;\n        {GUARD}\n        try {{\n            {target}{expr};\n"
        "        } catch(e) {\n            __wbg_handle_catch(e);\n        }\n"
    )


POINT = f"""/**
 * A point.
 */
export class Point {{
    static __wrap(ptr) {{
        const obj = Object.create(Point.prototype);
        obj.__wbg_ptr = ptr;
        return obj;
    }}
    __destroy_into_raw() {{
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        return ptr;
    }}
    free() {{
        const ptr = this.__destroy_into_raw();
        {GUARD}
        try {{
            wasm.__wbg_point_free(ptr, 0);
        }} catch(e) {{
            __wbg_handle_catch(e);
        }}
    }}
    /**
     * @returns {{number}}
     */
    get x() {{
{STALE}{call("wasm.__wbg_get_point_x(this.__wbg_ptr)")}        return ret;
    }}
    /**
     * @param {{number}} arg0
     */
    set x(arg0) {{
{STALE}{call("wasm.__wbg_set_point_x(this.__wbg_ptr, arg0)", False)}    }}
    /**
     * Length.
     * @returns {{number}}
     */
    length() {{
{STALE}{call("wasm.point_length(this.__wbg_ptr)")}        return ret;
    }}
    /**
     * @returns {{Float64Array}}
     */
    into_vec() {{
{STALE}        const ptr = this.__destroy_into_raw();
{call("wasm.point_into_vec(ptr)")}        var v1 = getArrayF64FromWasm0(ret[0], ret[1]).slice();
        wasm.__wbindgen_free(ret[0], ret[1] * 8, 8);
        return v1;
    }}
    /**
     * A point at (x, y).
     * @param {{number}} x
     * @param {{number}} y
     */
    constructor(x, y) {{
{call("wasm.point_new(x, y)")}        this.__wbg_ptr = ret;
        return this;
    }}
    /**
     * @returns {{Point}}
     */
    static origin() {{
{call("wasm.point_origin()")}        return Point.__wrap(ret);
    }}
    /**
     * @param {{Point}} other
     * @returns {{Point}}
     */
    plus(other) {{
{STALE}        _assertClass(other, Point);
{call("wasm.point_plus(this.__wbg_ptr, other.__wbg_ptr)")}        return Point.__wrap(ret);
    }}
    /**
     * @param {{any}} v
     */
    poke(v) {{
{call("wasm.point_poke(this.__wbg_ptr, v)", False)}    }}
    toJSON() {{
        return {{ x: this.x }};
    }}
}}
if (Symbol.dispose) Point.prototype[Symbol.dispose] = Point.prototype.free;
"""


CHILD = "export class Child extends Point {\n    free() {\n        wasm.__wbg_child_free(1, 0);\n    }\n}\n"


ENUMS = """/**
 * Colours.
 * @enum {1 | 2 | -4}
 */
export const Color = Object.freeze({
    Red: 1, "1": "Red",
    Green: 2, "2": "Green",
    Minus: -4, "-4": "Minus",
});
const __wbindgen_enum_Mode = ["fast", "a b"];
"""


CONSUME = """/**
 * @param {Point | null} [p]
 * @param {Color | null} [c]
 * @param {Mode} m
 * @returns {Mode | undefined}
 */
export function consume(p, c, m) {
    let ptr0 = 0;
    if (!isLikeNone(p)) {
        _assertClass(p, Point);
        ptr0 = p.__destroy_into_raw();
    }
    let ret;
    ret = wasm.consume(ptr0, isLikeNone(c) ? 0 : c, (__wbindgen_enum_Mode.indexOf(m) + 1 || 3) - 1);
    return __wbindgen_enum_Mode[ret];
}
"""


SIGS = {
    "__wbg_point_free": (("i32", "i32"), ()),
    "__wbg_child_free": (("i32", "i32"), ()),
    "__wbg_get_point_x": (("i32",), ("f64",)),
    "__wbg_set_point_x": (("i32", "f64"), ()),
    "point_length": (("i32",), ("f64",)),
    "point_into_vec": (("i32",), ("i32", "i32")),
    "point_new": (("f64", "f64"), ("i32",)),
    "point_origin": ((), ("i32",)),
    "point_plus": (("i32", "i32"), ("i32",)),
    "point_poke": (("i32", "externref"), ()),
    "consume": (("i32", "f64", "i32"), ("i32",)),
}
