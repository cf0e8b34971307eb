"""Exported classes and enums in wasm-bindgen's glue (glue_classes), on snippets
in the shape of wasm-bindgen 0.2.130 `--target module` output. No real tools."""

from __future__ import annotations

import pytest

from worker_build.loader.glue import parse_glue
from worker_build.loader.glue_classes import Class

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


@pytest.fixture(scope="module")
def point() -> Class:
    glue = parse_glue("\n".join([ENUMS, POINT, CHILD, CONSUME]), SIGS)
    return glue.classes[0]


def methods(cls: Class) -> dict[tuple[str, str], tuple[list[tuple[str, str | None]], str | None]]:
    return {
        (m.role, m.function.name): (
            [(p.name, p.kind) for p in m.function.params],
            m.function.ret,
        )
        for m in cls.methods
    }


def test_class_members_and_kinds(point: Class) -> None:
    assert point.name == "Point" and point.doc == "A point." and point.free == "__wbg_point_free"
    assert point.problem is None
    assert methods(point) == {
        ("getter", "x"): ([("self", "struct_ref:Point")], "float64"),
        ("setter", "x"): ([("self", "struct_ref:Point"), ("arg0", "float64")], "none"),
        ("method", "length"): ([("self", "struct_ref:Point")], "float64"),
        ("method", "into_vec"): ([("self", "struct_owned:Point")], "array_f64"),
        ("constructor", "constructor"): (
            [("self", "this:Point"), ("x", "float64"), ("y", "float64")],
            "ctor:Point",
        ),
        ("static", "origin"): ([], "struct:Point"),
        ("method", "plus"): (
            [("self", "struct_ref:Point"), ("other", "struct_ref:Point")],
            "struct:Point",
        ),
        ("method", "poke"): ([("self", "struct_ref:Point"), ("v", None)], None),
    }
    poke = next(m.function for m in point.methods if m.function.name == "poke")
    assert poke.problem == "parameter `v`: any (Rust JsValue)"


def test_inheritance_is_reported() -> None:
    glue = parse_glue("\n".join([POINT, CHILD]), SIGS)
    child = glue.classes[1]
    assert child.problem == "it extends Point (class inheritance is not supported)"


def test_enums() -> None:
    glue = parse_glue("\n".join([ENUMS, POINT, CONSUME]), SIGS)
    color, mode = glue.enums
    assert color.name == "Color" and color.doc == "Colours."
    assert color.discriminants == [("Red", 1), ("Green", 2), ("Minus", -4)]
    assert mode.name == "Mode" and mode.is_string and mode.strings == ["fast", "a b"]
    consume = glue.functions[0]
    assert [p.kind for p in consume.params] == [
        "opt_struct_owned:Point", "opt_enum:Color:0", "senum:Mode",
    ]  # fmt: skip
    assert consume.ret == "opt_senum:Mode"


def test_a_string_enum_with_the_wrong_invalid_index_is_not_guessed() -> None:
    glue = parse_glue("\n".join([ENUMS, POINT, CONSUME.replace("|| 3", "|| 7")]), SIGS)
    assert glue.functions[0].problem == "parameter `m`: Mode (an exported Rust enum)"
