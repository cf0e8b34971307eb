"""Exported classes and enums in wasm-bindgen's glue (glue/classes.py), on snippets
in the shape of wasm-bindgen 0.2.130 `--target module` output. No real tools."""

from __future__ import annotations

import pytest

from tests.support.glue_samples import CHILD, CONSUME, ENUMS, POINT, SIGS
from worker_build.loader.glue import parse_glue
from worker_build.loader.glue.classes import Class


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
