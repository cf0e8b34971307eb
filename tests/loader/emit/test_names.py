"""Names, type hints and docstrings of the generated loader.py (emit/names.py): Rust names
that would shadow Python keywords or the loader's own names, hints under the names the
loader gives the crate's types, and the docstring lines and call spec of a function."""

from __future__ import annotations

from worker_build.loader import emit
from worker_build.loader.codegen import FunctionSpec
from worker_build.loader.emit.names import (
    METHOD_RESERVED,
    Hints,
    docstring,
    python_name,
    render_call,
)
from worker_build.loader.glue import Glue
from worker_build.loader.glue.classes import Class
from worker_build.loader.glue.functions import Function, Param


def test_python_names_never_shadow_keywords_or_the_loaders_names() -> None:
    assert [python_name(n) for n in ("class", "array", "_wb_x", "ok")] == [
        "class_",
        "array_",
        "_wb_x_",
        "ok",
    ]
    assert python_name("free", METHOD_RESERVED) == "free_"


def test_docstrings_escape_backslashes_and_triple_quotes() -> None:
    assert docstring('Says "hi" \\ with """q"""') == (
        '    """Says "hi" \\\\ with \\"\\"\\"q\\"\\"\\""""'
    )
    assert docstring("a\n\n  b  \nc") == '    """a\n\n      b\n    c\n    """'


def test_hints_use_the_python_names_of_the_crates_types() -> None:
    hints = Hints({"Path": "Path_"})
    assert hints.param("struct_ref:Path") == "Path_"
    assert hints.result("opt_struct:Path") == "Path_ | None"
    assert hints.describe_param("int32", "number") == (
        "int (Rust i32/u32 or narrower, isize/usize; JS number)"
    )


def test_render_call_documents_the_call_and_specs_it_under_python_names() -> None:
    f = Function("parse", "parse_export", "", (Param("self", "Point", "struct_ref:Point"),
                 Param("from", "string", "str")), "number", "uint32", True)  # fmt: skip
    doc, spec = render_call(f, "Point.parse", Hints({"Point": "Point_"}), label="Point.parse()")
    assert doc == [
        "Args:",
        "    from_: str (Rust &str/String; JS string)",
        "Returns: int (Rust u32/usize)",
        "Raises: PanicError (Rust panic), AbortError (trap; the instance was reset), "
        "JsError (the Err value)",
    ]
    assert spec == FunctionSpec(
        "Point.parse", "parse_export", (("self", "struct_ref:Point"), ("from_", "str")),
        "uint32", True, "Point.parse()",
    )  # fmt: skip


def test_a_struct_named_like_a_loader_name_is_renamed() -> None:
    glue = Glue(functions=(), classes=(Class("array", "", "__wbg_array_free", ()),))
    rendered = emit.render_loader(glue, "index_bg.wasm")
    assert (
        rendered.classes == ["array_"] and "class array_(_wb_runtime.RustObject):" in rendered.text
    )
