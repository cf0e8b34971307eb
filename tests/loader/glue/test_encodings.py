"""The abi kind of a parameter or result from the glue's expressions, TypeScript type and
the export's wasm types (glue/encodings.py), and the Rust type a TypeScript type names."""

from __future__ import annotations

from worker_build.loader.glue.encodings import (
    TypeNames,
    classify_param,
    classify_return,
    describe_ts,
)

POINT = TypeNames(classes=frozenset({"Point"}))
MODE = TypeNames(str_enums={"Mode": ("a", "b")})


def test_describe_ts() -> None:
    assert describe_ts("Int32Array | number[]") == "Int32Array | number[] (Rust Vec<i32>/&[i32])"
    assert describe_ts("Promise<number>") == "Promise<number> (an async fn)"
    assert describe_ts("Color", enums=("Color",)) == "Color (an exported Rust enum)"
    assert describe_ts("Mystery") == "Mystery"
    assert POINT.describe("Point[]") == "Point[] (Rust Vec<Point>)"


def test_a_parameter_kind_needs_expression_type_and_wasm_type_to_agree() -> None:
    assert classify_param(["c.codePointAt(0)"], "c", "string", ("i32",), TypeNames()) == "char"
    assert classify_param(["c.codePointAt(0)"], "c", "string", ("f64",), TypeNames()) is None
    assert classify_param(["c"], "c", "string", ("i32",), TypeNames()) is None
    assert classify_param(["p.__wbg_ptr"], "p", "Point", ("i32",), POINT) == "struct_ref:Point"


def test_a_string_enum_parameter_needs_the_enums_value_count() -> None:
    index = "(__wbindgen_enum_Mode.indexOf(m) + 1 || {}) - 1"
    assert classify_param([index.format(3)], "m", "Mode", ("i32",), MODE) == "senum:Mode"
    assert classify_param([index.format(4)], "m", "Mode", ("i32",), MODE) is None


def test_result_kinds_from_the_code_after_the_call() -> None:
    assert classify_return("number", ("i32",), "return ret >>> 0;", TypeNames()) == "uint32"
    assert classify_return("number", ("i32",), "return ret;", TypeNames()) == "int32"
    wrap = "return Point.__wrap(ret);"
    assert classify_return("Point", ("i32",), wrap, POINT) == "struct:Point"
    hole = "return ret === 0 ? undefined : Point.__wrap(ret);"
    assert classify_return("Point | undefined", ("i32",), hole, POINT) == "opt_struct:Point"
    assert classify_return("any", ("externref",), "return ret;", TypeNames()) is None
