"""Classes and enums in the generated loader.py (emit/classes.py): the Python API they
get, executed against a stand-in for the runtime's calls."""

from __future__ import annotations

import ast
import types
from typing import Any

import pytest

from tests.support.glue_samples import CONSUME, ENUMS, POINT, SIGS
from worker_build.loader import emit, runtime
from worker_build.loader.emit.classes import render_enum
from worker_build.loader.glue import parse_glue
from worker_build.loader.glue.classes import Class, Enum

GLUE = parse_glue("\n".join([ENUMS, POINT, CONSUME]), SIGS)


@pytest.fixture
def module(monkeypatch: pytest.MonkeyPatch) -> Any:
    calls: list[tuple[str, tuple[Any, ...]]] = []

    class Impl:
        def __init__(self, cls: str) -> None:
            self.cls = cls

        def __getattr__(self, name: str) -> Any:
            return lambda *a: calls.append((f"{self.cls}.{name}", a)) or f"{name}-result"

    class StandIn:
        def __init__(self, path: Any, spec: dict[str, Any], **kwargs: Any) -> None:
            self.spec, self.kwargs, self.calls = spec, kwargs, calls
            self.impl = Impl("")
            self.class_impls = {c["name"]: Impl(c["name"]) for c in spec["classes"]}
            self.unknown_imports: list[str] = []
            self.on_abort = self.reset = self.instance = self.provide = print

    monkeypatch.setattr(runtime, "load", StandIn)
    text = emit.render_loader(GLUE, "index_bg.wasm").text
    namespace: dict[str, Any] = {"__file__": "/x/loader.py", "__name__": "loader"}
    exec(compile(text, "loader.py", "exec"), namespace)
    return types.SimpleNamespace(**namespace)


def test_struct_class_api(module: Any) -> None:
    point = module.Point
    assert issubclass(point, runtime.RustObject) and point._wb_class == "Point"
    assert point.__doc__.startswith("A point.")
    p = point(1.0, 2.0)
    assert module._wb_library.calls[-1] == ("Point._wb_new", (p, 1.0, 2.0))
    assert p.length() == "length-result"
    assert p.x == "_wb_get_x-result"
    p.x = 5
    assert module._wb_library.calls[-1] == ("Point._wb_set_x", (p, 5))
    assert point.origin() == "origin-result"
    assert isinstance(point.__dict__["origin"], staticmethod)
    with pytest.raises(NotImplementedError, match=r"Point.poke cannot be called from Python: "
                       r"parameter `v`: any \(Rust JsValue\)"):  # fmt: skip
        p.poke(1)
    assert not hasattr(point, "toJSON")


def test_spec_lists_classes_methods_and_enums(module: Any) -> None:
    spec = module._wb_library.spec
    assert spec["classes"] == [{"name": "Point", "free": "__wbg_point_free"}]
    names = {f["name"]: f for f in spec["functions"]}
    assert names["Point._wb_set_x"]["params"] == [["self", "struct_ref:Point"],
                                                  ["value", "float64"]]  # fmt: skip
    assert names["Point._wb_new"]["label"] == "Point()"
    assert spec["enums"] == [
        {"name": "Color", "kind": "int", "values": [["Red", 1], ["Green", 2], ["Minus", -4]]},
        {"name": "Mode", "kind": "str", "values": ["fast", "a b"]},
    ]
    assert module._wb_library.kwargs["classes"] == {"Point": module.Point}
    assert module._wb_library.kwargs["enums"] == {"Color": module.Color, "Mode": module.Mode}


def test_enums(module: Any) -> None:
    assert [(c.name, c.value) for c in module.Color] == [("Red", 1), ("Green", 2), ("Minus", -4)]
    assert [(m.name, m.value) for m in module.Mode] == [("FAST", "fast"), ("A_B", "a b")]
    assert module.Mode("fast") == "fast"  # a str too


def test_string_enum_member_names_stay_valid_and_distinct() -> None:
    text = render_enum(Enum("M", "", ("a-b", "a b", "1x", "", "name", "class")), "M")
    members = [n.targets[0].id for n in ast.parse(text).body[0].body  # type: ignore[attr-defined]
               if isinstance(n, ast.Assign)]  # fmt: skip
    assert members == ["A_B", "A_B_2", "V_1X", "EMPTY", "NAME_", "CLASS"]


def test_a_class_without_constructor_or_with_a_problem() -> None:
    bare = Class("Handle", "", "__wbg_handle_free", ())
    glue = type(GLUE)(functions=(), classes=(bare, Class("Kid", "", None, (), "it extends X")))
    text = emit.render_loader(glue, "index_bg.wasm").text
    namespace: dict[str, Any] = {}
    exec(compile(text.split("\n# `runtime.import_loader")[0], "loader.py", "exec"), namespace)
    with pytest.raises(TypeError, match="Handle has no #\\[wasm_bindgen\\(constructor\\)\\]"):
        namespace["Handle"]()
    with pytest.raises(NotImplementedError, match="Kid cannot be used from Python: it extends X"):
        namespace["Kid"]()
