"""Reading one exported function's signature out of wasm-bindgen's JS glue (glue/functions.py:
parse_function, here through parse_glue): parameters mapped to the wasm call's arguments,
each one's kind, results, errors, and what is reported as unsupported. No real tools.
"""

from __future__ import annotations

import pytest

from tests.support.glue_function_samples import ADD, GLUE, SIGS
from worker_build.loader.glue import parse_glue


@pytest.fixture(scope="module")
def functions() -> dict[str, object]:
    glue = parse_glue(GLUE, SIGS)
    return {f.name: f for f in glue.functions}


def test_numbers(functions: dict) -> None:
    add = functions["add"]
    assert add.supported
    assert [(p.name, p.kind, p.ts) for p in add.params] == [
        ("a", "int32", "number"),
        ("b", "int32", "number"),
    ]
    assert add.ret == "int32" and not add.result
    assert add.doc == "Adds two integers."


def test_unsigned_return_and_multi_paragraph_doc(functions: dict) -> None:
    counter = functions["counter"]
    assert counter.ret == "uint32" and counter.params == ()
    assert counter.doc == "Counts.\n\nSecond paragraph."


def test_strings(functions: dict) -> None:
    greet = functions["greet"]
    assert greet.params[0].kind == "str" and greet.ret == "str"


def test_result(functions: dict) -> None:
    parse = functions["parse_u32"]
    assert parse.result and parse.ret == "uint32"


def test_hoisted_conversions_with_many_params(functions: dict) -> None:
    many = functions["many"]
    assert [p.kind for p in many.params] == ["int32", "float64", "str", "bool", "opt_uint32"]
    assert many.ret == "opt_uint64"


def test_several_allocating_parameters(functions: dict) -> None:
    two = functions["two"]
    assert [p.kind for p in two.params] == ["opt_str", "bytes"] and two.ret == "none"


def test_typed_array_parameter(functions: dict) -> None:
    f = functions["sum_f64s"]
    assert f.supported and f.params[0].kind == "array_f64"


def test_unsupported_parameter_and_return_are_named(functions: dict) -> None:
    f = functions["echo_any"]
    assert not f.supported
    assert f.problem == "parameter `a`: any (Rust JsValue); returns any (Rust JsValue)"


def test_struct_return(functions: dict) -> None:
    f = functions["make_thing"]
    assert f.supported and f.ret == "struct:Thing"


def test_wasm_type_mismatch_is_unsupported() -> None:
    # the glue says `number` but the export takes an i64: never guess
    glue = parse_glue(ADD, {"add": (("i64", "i32"), ("i32",))})
    assert not glue.functions[0].supported
    assert "parameter `a`: number" in (glue.functions[0].problem or "")


def test_missing_export_is_unsupported() -> None:
    glue = parse_glue(ADD, {})
    assert glue.functions[0].problem == "the glue does not call a wasm export the loader can find"
