"""Scanning the glue as text (glue/js_text.py): blocks, JSDoc, brackets, arguments and
normalised expressions, on text in the shape wasm-bindgen writes."""

from __future__ import annotations

import pytest

from worker_build.loader.glue.js_text import (
    balanced,
    block_end,
    jsdoc_before,
    normalize,
    parse_jsdoc,
    split_args,
)


@pytest.mark.parametrize(
    ("expr", "param", "expected"),
    [
        ("a", "a", "$"),
        ("+a", "a", "$"),
        ("+(isLikeNone(e) ? Number.MAX_SAFE_INTEGER : (e) >>> 0)", "e",
         "isLikeNone($)?Number.MAX_SAFE_INTEGER:($)>>>0"),
        ("data.codePointAt(0)", "data", "$.codePointAt(0)"),
        ("x.a", "a", "x.a"),  # a property named like the parameter is not the parameter
    ],
)  # fmt: skip
def test_normalize(expr: str, param: str, expected: str) -> None:
    assert normalize(expr, param) == expected


def test_split_args() -> None:
    assert split_args("a, f(b, c), [d, e] , g") == ["a", "f(b, c)", "[d, e]", "g"]
    assert split_args("") == []


def test_balanced_skips_brackets_in_string_literals() -> None:
    text = 'f("a)", [1, (2)], `}`) tail'
    assert balanced(text, 1) == '"a)", [1, (2)], `}`'
    with pytest.raises(ValueError, match="unbalanced"):
        balanced("f(a, (b)", 1)


def test_block_end_is_the_closing_line_at_the_opening_indent() -> None:
    js = "export function f() {\n    if (x) {\n    }\n}\nrest"
    assert js[: block_end(js, js.index("{") + 1)].endswith("    }\n}")
    assert block_end("function g() {\n    x;\n", 14) == len("function g() {\n    x;\n")


def test_jsdoc_before_a_declaration() -> None:
    js = "/** Doc. */\nexport function f() {\n}\n"
    assert jsdoc_before(js, js.index("export")) == "/** Doc. */"
    assert jsdoc_before("x;\nexport", 3) == ""


def test_parse_jsdoc_description_params_and_returns() -> None:
    doc = (
        "/**\n * Adds.\n *\n * More.\n * @param {number} a\n"
        " * @param {string | null} [b]\n * @returns {number}\n */"
    )
    assert parse_jsdoc(doc) == ("Adds.\n\nMore.", {"a": "number", "b": "string | null"}, "number")
