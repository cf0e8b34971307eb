"""Names, type hints and docstrings of the generated `loader.py` (the package's
render_loader and classes.py write it)."""

from __future__ import annotations

import keyword
import re
from collections.abc import Mapping

from worker_build.loader import abi
from worker_build.loader.codegen import FunctionSpec
from worker_build.loader.glue.functions import Function
from worker_build.loader.kinds import split

# Names the generated module defines or imports itself; a Rust item with one of
# these names gets a trailing underscore instead of shadowing it.
RESERVED = frozenset(
    {
        "AbortError",
        "FreedObjectError",
        "JS_IMPORTS",
        "JsError",
        "LoaderWarning",
        "NoReturn",
        "PanicError",
        "Sequence",
        "StaleInstanceError",
        "UNKNOWN_IMPORTS",
        "WasmError",
        "annotations",
        "array",
        "instance",
        "on_abort",
        "provide",
        "reset",
    }
)
# Attributes every struct class has (objects.RustObject)
METHOD_RESERVED = frozenset({"free", "mro"})

_TYPE_KINDS = frozenset(
    {"struct_ref", "struct_owned", "opt_struct_owned", "this", "enum", "opt_enum", "senum",
     "opt_senum", "struct", "opt_struct", "ctor", "objects"}
)  # fmt: skip


def python_name(name: str, reserved: frozenset[str] = RESERVED) -> str:
    if keyword.iskeyword(name) or name in reserved or name.startswith("_wb_"):
        return name + "_"
    return name


def docstring(text: str, indent: str = "    ") -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip("\n")
    lines = body.splitlines() or [""]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    inner = "\n".join((indent + line).rstrip() for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{inner}\n{indent}"""'


class Hints:
    """Python annotations of the abi kinds, with the crate's types under the
    names the loader gives them (`Point`, or `Path_` for a struct named Path)."""

    def __init__(self, py_names: Mapping[str, str]) -> None:
        self.py_names = py_names  # JS type name -> Python class name

    def _rename(self, kind: str, text: str) -> str:
        base, args = split(kind)
        if base in _TYPE_KINDS and args:
            py = self.py_names.get(args[0], args[0])
            return re.sub(rf"(?<![\w$]){re.escape(args[0])}(?![\w$])", py, text)
        return text

    def param(self, kind: str) -> str:
        return self._rename(kind, abi.param(kind).hint)

    def result(self, kind: str) -> str:
        return self._rename(kind, abi.result(kind).hint)

    def describe_param(self, kind: str, ts: str) -> str:
        k = abi.param(kind)
        return f"{self.param(kind)} (Rust {self._rename(kind, k.rust)}; JS {ts or '?'})"

    def describe_result(self, kind: str) -> str:
        k = abi.result(kind)
        return f"{self.result(kind)} (Rust {self._rename(kind, k.rust)})"


def render_call(
    f: Function, target: str, hints: Hints, *, label: str = ""
) -> tuple[list[str], FunctionSpec]:
    """(lines of the docstring's Args/Returns/Raises, the spec of the call that the
    runtime installs as `target`)."""
    doc = []
    shown = [p for p in f.params if p.name != "self"]
    if shown:
        doc.append("Args:")
        doc += [f"    {python_name(p.name)}: {hints.describe_param(p.kind or '', p.ts)}"
                for p in shown]  # fmt: skip
    if f.ret and not f.ret.startswith("ctor:"):
        doc.append(f"Returns: {hints.describe_result(f.ret)}")
    doc.append("Raises: PanicError (Rust panic), AbortError (trap; the instance was reset)")
    if f.result:
        doc[-1] += ", JsError (the Err value)"
    spec = FunctionSpec(
        name=target,
        export=f.export,
        params=tuple((python_name(p.name), p.kind or "") for p in f.params),
        ret=f.ret or "none",
        result=f.result,
        label=label,
    )
    return doc, spec
