"""Python classes for the crate's exported structs and enums in `loader.py`.

A struct becomes a subclass of `runtime.RustObject` whose methods forward to the
runtime's calls in `_wb_<Class>` (a namespace the runtime refills after each
reset): `__init__` for the Rust constructor, static methods, methods, and
properties for getters, setters and public fields. A C-style enum becomes an
`IntEnum`; a string enum an `Enum` whose members are also `str`.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from worker_build.loader.codegen import FunctionSpec
from worker_build.loader.emit.names import (
    METHOD_RESERVED,
    Hints,
    docstring,
    python_name,
    render_call,
)
from worker_build.loader.glue.classes import Class, Enum, Method


@dataclass(frozen=True)
class RenderedClass:
    text: str
    specs: list[FunctionSpec]
    callable: list[str]  # "Class.member" of what works
    unsupported: list[str]  # "Class.member: reason"
    members: list[str]  # for the module docstring


def _member_name(value: str, used: set[str]) -> str:
    """An enum member name for a string value: `"text/plain"` -> `TEXT_PLAIN`."""
    name = re.sub(r"\W+", "_", value).strip("_").upper() or "EMPTY"
    if name[0].isdigit():
        name = "V_" + name
    if keyword.iskeyword(name) or name in ("MRO", "NAME", "VALUE"):
        name += "_"
    base, n = name, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    used.add(name)
    return name


def render_enum(e: Enum, pyname: str) -> str:
    if e.is_string:
        used: set[str] = set()
        doc = e.doc or f"The string enum `{e.name}` (members are also `str`)."
        members = [f"    {_member_name(v, used)} = {v!r}" for v in e.strings]
        head = f"class {pyname}(str, _wb_enum.Enum):"
    else:
        doc = e.doc or f"The enum `{e.name}`."
        members = [f"    {python_name(n, frozenset({'mro'}))} = {v}" for n, v in e.discriminants]
        head = f"class {pyname}(_wb_enum.IntEnum):"
    return "\n".join([head, docstring(doc), "", *members])


def _impl_name(method: Method, pyname: str) -> str:
    role = method.role
    if role == "constructor":
        return "_wb_new"
    if role in ("getter", "setter"):
        return f"_wb_{'get' if role == 'getter' else 'set'}_{pyname}"
    return pyname


def _label(cls: str, method: Method, pyname: str) -> str:
    return {
        "constructor": f"{cls}()",
        "getter": f"{cls}.{pyname}",
        "setter": f"{cls}.{pyname} setter:",
    }.get(method.role, f"{cls}.{pyname}()")


def _method_lines(
    c: Class, pyname: str, method: Method, name: str, hints: Hints
) -> tuple[list[str], FunctionSpec | None, str | None]:
    """(lines of the member, its call spec, why it is not supported)."""
    f = method.function
    role = method.role
    params = [(python_name(p.name), p) for p in f.params if p.name != "self"]
    if role == "setter":
        params = [("value", p) for _, p in params]
    default = (
        f"Creates a {pyname} (the Rust constructor)."
        if role == "constructor"
        else f"`{c.name}.{f.name}` from the Rust crate."
    )
    doc = [f.doc or default, ""]
    decorator = {"static": "@staticmethod", "getter": "@property",
                 "setter": f"@{name}.setter"}.get(role)  # fmt: skip
    selfish = [] if role == "static" else ["self"]
    defname = "__init__" if role == "constructor" else name
    if not f.supported:
        reason = f.problem or "unsupported"
        signature = ", ".join([*selfish, *(f"{n}: object" for n, _ in params)])
        doc.append(f"Not supported by the Python loader: {reason}.")
        where = f"{c.name}()" if role == "constructor" else f"{c.name}.{f.name}"
        message = f"{where} cannot be called from Python: {reason}"
        lines = [f"def {defname}({signature}) -> NoReturn:", docstring("\n".join(doc)),
                 f"    raise NotImplementedError({message!r})"]  # fmt: skip
        return ([decorator] if decorator else []) + lines, None, reason
    target = _impl_name(method, name)
    details, spec = render_call(f, f"{c.name}.{target}", hints, label=_label(pyname, method, name))
    if role == "setter":  # the value's parameter is named after the Rust one
        spec = FunctionSpec(spec.name, spec.export, (spec.params[0], ("value", spec.params[1][1])),
                            spec.ret, spec.result, spec.label)  # fmt: skip
    doc += (
        details if role != "setter" else [f"Sets {name}: {hints.param(params[0][1].kind or '')}."]
    )
    if f.name != name:
        doc.append(f"Exported from wasm as `{c.name}.{f.name}`.")
    signature = ", ".join([*selfish, *(f"{n}: {hints.param(p.kind or '')}" for n, p in params)])
    returns = "None" if role in ("constructor", "setter") else hints.result(f.ret or "none")
    args = ", ".join([*selfish, *(n for n, _ in params)])
    call = f"_wb_{pyname}.{target}({args})"
    lines = [
        f"def {defname}({signature}) -> {returns}:",
        docstring("\n".join(doc)),
        f"    {call}" if returns == "None" else f"    return {call}",
    ]
    return ([decorator] if decorator else []) + lines, spec, None


def render_class(c: Class, pyname: str, hints: Hints) -> RenderedClass:
    doc = c.doc or f"The Rust struct `{c.name}`."
    lines = [f"class {pyname}(_wb_runtime.RustObject):"]
    specs: list[FunctionSpec] = []
    ok: list[str] = []
    unsupported: list[str] = []
    members: list[str] = []
    if c.problem is not None:
        note = f"Not supported by the Python loader: {c.problem}."
        message = f"{c.name} cannot be used from Python: {c.problem}"
        lines += [
            docstring(f"{doc}\n\n{note}"),
            "",
            "    __slots__ = ()",
            f"    _wb_class = {c.name!r}",
            "",
            "    def __init__(self, *args: object, **kwargs: object) -> NoReturn:",
            f"        raise NotImplementedError({message!r})",
        ]
        return RenderedClass("\n".join(lines), [], [], [f"class {c.name}: {c.problem}"], [])
    lines += [
        docstring(
            f"{doc}\n\nA Rust struct owned by the wasm instance: free() (or leaving a `with` "
            "block) drops it\nnow, otherwise it is dropped after this object is garbage-"
            "collected. Methods of an\nobject whose instance was reset raise "
            "StaleInstanceError."
        ),
        "",
        "    __slots__ = ()",
        f"    _wb_class = {c.name!r}",
    ]
    roles = {m.role for m in c.methods}
    if "constructor" not in roles:
        message = (
            f"{c.name} has no #[wasm_bindgen(constructor)]: get one from a function "
            "or static method that returns it"
        )
        lines += [
            "",
            "    def __init__(self) -> NoReturn:",
            f"        raise TypeError({message!r})",
        ]
    order = {"constructor": 0, "static": 1, "getter": 2, "setter": 3, "method": 4}
    getters = {m.function.name for m in c.methods if m.role == "getter"}
    for method in sorted(c.methods, key=lambda m: (order[m.role], m.function.name)):
        name = python_name(method.function.name, frozenset(METHOD_RESERVED))
        if method.role == "setter" and method.function.name not in getters:
            message = f"{pyname}.{name} can only be set"
            lines += ["", "    @property", f"    def {name}(self) -> NoReturn:",
                      f"        raise AttributeError({message!r})"]  # fmt: skip
        member, spec, problem = _method_lines(c, pyname, method, name, hints)
        lines += ["", *("    " + line for chunk in member for line in chunk.split("\n"))]
        shown = "__init__" if method.role == "constructor" else name
        label = f"{pyname}.{shown}" + (" (setter)" if method.role == "setter" else "")
        if spec is None:
            unsupported.append(f"{label}: {problem}")
            members.append(f"{shown} (not supported)")
        else:
            specs.append(spec)
            ok.append(label)
            if method.role != "setter":
                members.append(shown)
    lines = [line.rstrip() if line.strip() else "" for line in lines]
    return RenderedClass("\n".join(lines), specs, ok, unsupported, members)
