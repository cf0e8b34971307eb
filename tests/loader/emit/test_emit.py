"""The generated loader.py (emit/__init__.py: render_loader), executed against a stand-in
runtime (no wasm, no tools)."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from worker_build.loader import emit, runtime
from worker_build.loader.glue import Glue
from worker_build.loader.glue.classes import Class
from worker_build.loader.glue.functions import Function, Param
from worker_build.util import resources

ADD = Function("add", "add", "Adds two integers.", (Param("a", "number", "int32"),
               Param("b", "number", "int32")), "number", "int32", False)  # fmt: skip
GREET = Function("greet", "greet", 'Says "hi" \\ with """quotes"""', (Param("name", "string", "str"),),
                 "string", "str", False)  # fmt: skip
PARSE = Function("parse_u32", "parse_u32", "", (Param("text", "string", "str"),), "number",
                 "uint32", True)  # fmt: skip
LAMBDA = Function("lambda", "lambda", "", (Param("from", "number", "int32"),), None, "none", False)
RESET = Function("reset", "reset", "", (), None, "none", False)
SUM = Function(
    "sum_f64s", "sum_f64s", "Sums.", (Param("values", "Float64Array | number[]", None),),
    "number", None, False, "parameter `values`: Float64Array | number[] (Rust Vec<f64>/&[f64])",
)  # fmt: skip
GLUE = Glue(
    functions=(ADD, GREET, PARSE, LAMBDA, RESET, SUM),
    classes=(Class("Thing", "", None, (), "the glue has no free() the loader can call"),),
    imports={
        "__wbindgen_generic_0000000000000001": "function(arg0, arg1) {\n"
        "// Cast intrinsic for `Ref(String) -> Externref`.\n"
        "const ret = getStringFromWasm0(arg0, arg1);\nreturn ret;\n}",
        "__wbindgen_init_externref_table": "function() {\ntable.set(1025, null);\n}",
    },
)


class StandIn:
    """What `runtime.load` returns, recording how the loader uses it."""

    def __init__(self, path: Path, spec: dict[str, Any], **kwargs: Any) -> None:
        self.path, self.spec, self.kwargs = path, spec, kwargs
        self.class_impls: dict[str, Any] = {}
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.unknown_imports = ["./index_bg.js.__wbg_log_0000000000000000"]
        self.impl = types.SimpleNamespace(
            **{
                f["name"]: (lambda n: lambda *a: self.calls.append((n, a)) or f"{n}-result")(
                    f["name"]
                )
                for f in spec["functions"]
            }
        )

    def on_abort(self, cb: Any) -> Any:
        return cb

    def provide(self, *args: Any, **kwargs: Any) -> None: ...

    def reset(self) -> None: ...

    def instance(self) -> None: ...


@pytest.fixture
def rendered() -> emit.Rendered:
    return emit.render_loader(GLUE, "loader_bg.wasm")


@pytest.fixture
def module(rendered: emit.Rendered, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setattr(runtime, "load", StandIn)
    path = tmp_path / "loader.py"
    path.write_text(rendered.text)
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "loader"}
    exec(compile(rendered.text, str(path), "exec"), namespace)
    return types.SimpleNamespace(**namespace)


def test_summary_lists(rendered: emit.Rendered) -> None:
    assert rendered.functions == ["add", "greet", "parse_u32", "lambda_", "reset_"]
    assert rendered.unsupported == [
        "class Thing: the glue has no free() the loader can call",
        "sum_f64s: parameter `values`: Float64Array | number[] (Rust Vec<f64>/&[f64])",
    ]


def test_signatures_have_names_and_hints(rendered: emit.Rendered) -> None:
    tree = ast.parse(rendered.text)
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    add = defs["add"]
    assert [a.arg for a in add.args.args] == ["a", "b"]
    assert [ast.unparse(a.annotation) for a in add.args.args if a.annotation] == ["int", "int"]
    assert add.returns is not None and ast.unparse(add.returns) == "int"
    assert ast.unparse(defs["sum_f64s"].returns) == "NoReturn"  # type: ignore[arg-type]
    assert [a.arg for a in defs["lambda_"].args.args] == ["from_"]


def test_calls_forward_to_the_runtime(module: Any) -> None:
    assert module.add(1, b=2) == "add-result"
    assert module.greet(name="x") == "greet-result"
    assert module._wb_library.calls == [("add", (1, 2)), ("greet", ("x",))]
    assert module._wb_library.path.name == "loader_bg.wasm"


def test_spec_carries_kinds_casts_and_table(module: Any) -> None:
    spec = module._wb_library.spec
    assert spec["functions"][0] == {
        "name": "add",
        "export": "add",
        "params": [["a", "int32"], ["b", "int32"]],
        "ret": "int32",
        "result": False,
    }
    assert spec["functions"][2]["result"] is True
    assert spec["casts"] == {"__wbindgen_generic_0000000000000001": "string"}
    assert spec["externref_init"] == [[1025, "null"]]


def test_unsupported_function_raises_naming_the_type(module: Any) -> None:
    with pytest.raises(NotImplementedError, match=r"Float64Array \| number\[\] \(Rust Vec<f64>"):
        module.sum_f64s([1.0])
    assert "Not supported by the Python loader" in module.sum_f64s.__doc__


def test_docstrings(module: Any) -> None:
    assert module.add.__doc__.startswith("Adds two integers.")
    assert "a: int (Rust i32/u32 or narrower" in module.add.__doc__
    assert module.greet.__doc__.startswith('Says "hi" \\ with """quotes"""')
    assert "JsError" in module.parse_u32.__doc__
    assert "Exported from wasm as `reset`." in module.reset_.__doc__


def test_api_names(module: Any) -> None:
    assert module.PanicError is runtime.PanicError
    assert module.AbortError is runtime.AbortError
    assert module.JsError is runtime.JsError
    assert module.UNKNOWN_IMPORTS == ("./index_bg.js.__wbg_log_0000000000000000",)
    assert callable(module.on_abort) and callable(module.reset)
    assert set(module.__all__) >= {"add", "sum_f64s", "on_abort", "PanicError", "AbortError"}


def test_no_functions() -> None:
    text = emit.render_loader(Glue(functions=()), "index_bg.wasm").text
    compile(text, "loader.py", "exec")
    assert "(no exported functions)" in text


def test_template_ships_with_the_package() -> None:
    assert resources.template(emit.TEMPLATE).is_file()


def test_the_spec_format_is_the_runtimes() -> None:
    assert emit.SPEC_FORMAT == runtime.SPEC_FORMAT


def test_reading_the_glue_and_writing_the_loader_do_not_load_wasmtime() -> None:
    probe = (
        "import sys; import worker_build.loader.emit, worker_build.loader.glue; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'wasmtime'))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
