"""Build time: write the generated `loader.py` from the parsed glue and the template.

Every exported function becomes a module-level Python function with the Rust
name, real parameter names, type hints and a docstring (the Rust doc comment
plus the mapping of each type); every exported struct a class and every enum
an `enum` class (classes.py; names.py gives names, hints and docstrings).
Supported functions and methods forward to the runtime's specialised calls;
unsupported ones raise NotImplementedError naming the type. The crate's JS
imports are listed for `provide()`.
"""

from __future__ import annotations

import pprint
from dataclasses import dataclass, field
from string import Template
from typing import Any

from worker_build import __version__
from worker_build.loader import host_imports
from worker_build.loader.codegen import FunctionSpec
from worker_build.loader.emit.classes import render_class, render_enum
from worker_build.loader.emit.names import RESERVED, Hints, docstring, python_name, render_call
from worker_build.loader.glue import Glue
from worker_build.loader.glue.functions import Function
from worker_build.loader.glue.imports import casts, class_wraps, externref_init
from worker_build.util import resources

TEMPLATE = "loader.py.tmpl"
SPEC_FORMAT = 2  # runtime.SPEC_FORMAT (not imported: the build does not load wasmtime)


@dataclass(frozen=True)
class Rendered:
    text: str
    functions: list[str]  # callable from Python: functions, and `Class.method`
    unsupported: list[str]  # "name: reason" for what raises NotImplementedError
    classes: list[str] = field(default_factory=list)  # Python class names of the structs
    enums: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)  # JS functions to provide(), with types
    unsupported_imports: list[str] = field(default_factory=list)  # "name: reason"


def _render_function(f: Function, pyname: str, hints: Hints) -> tuple[str, FunctionSpec | None]:
    params = [(python_name(p.name), p) for p in f.params]
    if not f.supported:
        signature = ", ".join(f"{n}: object" for n, _ in params)
        reason = f.problem or "unsupported"
        message = f"{f.name}() cannot be called from Python: {reason}"
        doc = [f.doc or f"`{f.name}` from the Rust crate.", "",
               f"Not supported by the Python loader: {reason}."]  # fmt: skip
        lines = [f"def {pyname}({signature}) -> NoReturn:", docstring("\n".join(doc)),
                 f"    raise NotImplementedError({message!r})"]  # fmt: skip
        return "\n".join(lines), None
    details, spec = render_call(f, pyname, hints)
    doc = [f.doc or f"`{f.name}` from the Rust crate.", "", *details]
    if f.name != pyname:
        doc.append(f"Exported from wasm as `{f.name}`.")
    signature = ", ".join(f"{n}: {hints.param(p.kind or '')}" for n, p in params)
    args = ", ".join(n for n, _ in params)
    lines = [
        f"def {pyname}({signature}) -> {hints.result(f.ret or 'none')}:",
        docstring("\n".join(doc)),
        f"    return _wb_impl.{pyname}({args})",
    ]
    return "\n".join(lines), spec


def _render_spec(spec: dict[str, Any]) -> str:
    """The spec as a Python literal, one function per line."""
    lines = ["{"]
    for key, value in spec.items():
        if isinstance(value, list) and value:
            lines.append(f"    {key!r}: [")
            lines += [f"        {item!r}," for item in value]
            lines.append("    ],")
        else:
            lines.append(f"    {key!r}: {value!r},")
    lines.append("}")
    return "\n".join(lines)


def render_loader(glue: Glue, wasm_file: str) -> Rendered:
    taken = {python_name(f.name) for f in glue.functions}
    py_names = {}
    for name in [*(c.name for c in glue.classes), *(e.name for e in glue.enums)]:
        py_names[name] = python_name(name, RESERVED | taken)
    hints = Hints(py_names)

    blocks: list[str] = []
    specs: list[dict[str, Any]] = []
    functions: list[str] = []
    unsupported: list[str] = []
    summary: list[str] = []
    for e in glue.enums:
        blocks.append(render_enum(e, py_names[e.name]))
        summary.append(f"    enum {py_names[e.name]}")
    class_entries, class_impls = [], []
    for c in glue.classes:
        rendered = render_class(c, py_names[c.name], hints)
        blocks.append(rendered.text)
        specs += [s.to_dict() for s in rendered.specs]
        functions += rendered.callable
        unsupported += rendered.unsupported
        summary.append(f"    class {py_names[c.name]}: " + (", ".join(rendered.members) or "-"))
        if c.free is not None and c.problem is None:
            class_entries.append({"name": c.name, "free": c.free})
            class_impls.append(f"_wb_{py_names[c.name]} = _wb_library.class_impls[{c.name!r}]")
    for f in glue.functions:
        pyname = python_name(f.name)
        text, spec = _render_function(f, pyname, hints)
        if spec is not None:
            specs.append(spec.to_dict())
            functions.append(pyname)
        else:
            unsupported.append(f"{f.name}: {f.problem}")
        blocks.append(text)
        summary.append(f"    {pyname}" + ("" if spec else " (not supported)"))

    imports = [j for j in glue.js_imports if j.supported]
    unsupported_imports = [f"{j.name}: {j.problem}" for j in glue.js_imports if not j.supported]
    signatures = {j.name: host_imports.signature(j.to_dict()) for j in imports}
    if signatures:
        summary += ["", "JS functions to implement in Python with provide(name=callable):"]
        summary += [f"    {sig}" for sig in signatures.values()]
    if unsupported_imports:
        summary += ["", "JS imports the Python loader cannot provide (calling them aborts):"]
        summary += [f"    {u}" for u in unsupported_imports]
    loader_spec = {
        "format": SPEC_FORMAT,
        "functions": specs,
        "classes": class_entries,
        "enums": [
            {
                "name": e.name,
                "kind": "str" if e.is_string else "int",
                "values": [list(v) if isinstance(v, tuple) else v for v in e.values],
            }
            for e in glue.enums
        ],
        "imports": [j.to_dict() for j in imports],
        "unsupported_imports": [
            {"import": j.import_name, "name": j.name, "reason": j.problem}
            for j in glue.js_imports
            if not j.supported
        ],
        "casts": casts(glue.imports),
        "class_wraps": class_wraps(glue.imports),
        "externref_init": [list(pair) for pair in externref_init(glue.imports)],
    }
    names = [python_name(f.name) for f in glue.functions] + list(py_names.values())
    api = {"AbortError", "FreedObjectError", "JsError", "LoaderWarning", "PanicError",
           "StaleInstanceError", "WasmError", "JS_IMPORTS", "UNKNOWN_IMPORTS", "instance",
           "on_abort", "provide", "reset"}  # fmt: skip
    struct_names = {c.name: py_names[c.name] for c in glue.classes if c.problem is None}
    text = Template(resources.template(TEMPLATE).read_text()).substitute(
        version=__version__,
        wasm_file=repr(wasm_file),
        wasm_name=wasm_file,
        summary="\n".join(summary) or "    (no exported functions)",
        spec=_render_spec(loader_spec),
        definitions="\n\n\n".join(blocks) if blocks else "# (the crate exports no functions)",
        classes="{" + ", ".join(f"{js!r}: {py}" for js, py in struct_names.items()) + "}",
        enums="{" + ", ".join(f"{e.name!r}: {py_names[e.name]}" for e in glue.enums) + "}",
        class_impls="\n".join(class_impls),
        js_imports=pprint.pformat(signatures, width=96, sort_dicts=False),
        all=pprint.pformat(sorted({*names, *api}), width=96),
    )
    return Rendered(
        text,
        functions,
        unsupported,
        classes=[py_names[c.name] for c in glue.classes],
        enums=[py_names[e.name] for e in glue.enums],
        imports=list(signatures.values()),
        unsupported_imports=unsupported_imports,
    )
