"""Write the generated `loader.py` from the parsed glue and the template.

Every exported function becomes a module-level Python function with the Rust
name, real parameter names, type hints and a docstring (the Rust doc comment
plus the mapping of each type). Supported ones forward to the runtime's
specialised call; unsupported ones raise NotImplementedError naming the type.
"""

from __future__ import annotations

import keyword
import pprint
from dataclasses import dataclass
from string import Template
from typing import Any

from worker_build import __version__, resources
from worker_build.loader import abi
from worker_build.loader.codegen import FunctionSpec
from worker_build.loader.glue import Function, Glue, casts, externref_init

TEMPLATE = "loader.py.tmpl"

# Names the generated module defines itself; a Rust function with one of these
# names gets a trailing underscore instead of shadowing it.
RESERVED = frozenset(
    {
        "AbortError",
        "JsError",
        "LoaderWarning",
        "NoReturn",
        "PanicError",
        "Path",
        "StaleInstanceError",
        "UNKNOWN_IMPORTS",
        "WasmError",
        "annotations",
        "instance",
        "on_abort",
        "reset",
    }
)


@dataclass(frozen=True)
class Rendered:
    text: str
    functions: list[str]  # Python names of the callable functions
    unsupported: list[str]  # "name: reason" for the ones that raise NotImplementedError


def python_name(name: str) -> str:
    if keyword.iskeyword(name) or name in RESERVED or name.startswith("_wb_"):
        return name + "_"
    return name


def _docstring(text: str, indent: str = "    ") -> str:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').strip("\n")
    lines = body.splitlines() or [""]
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    inner = "\n".join((indent + line).rstrip() for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{inner}\n{indent}"""'


def _describe_param(kind: str, ts: str) -> str:
    k = abi.PARAMS[kind]
    return f"{k.hint} (Rust {k.rust}; JS {ts or '?'})"


def _render_supported(f: Function, pyname: str) -> tuple[str, FunctionSpec]:
    params = [(python_name(p.name), p) for p in f.params]
    ret = abi.RETURNS[f.ret or "none"]
    signature = ", ".join(f"{n}: {abi.PARAMS[p.kind or ''].hint}" for n, p in params)
    doc = [f.doc or f"`{f.name}` from the Rust crate.", ""]
    if params:
        doc.append("Args:")
        doc += [f"    {n}: {_describe_param(p.kind or '', p.ts)}" for n, p in params]
    doc.append(f"Returns: {ret.hint} (Rust {ret.rust})")
    doc.append("Raises: PanicError (Rust panic), AbortError (trap; the instance was reset)")
    if f.result:
        doc[-1] += ", JsError (the Err value)"
    if f.name != pyname:
        doc.append(f"Exported from wasm as `{f.name}`.")
    args = ", ".join(n for n, _ in params)
    text = "\n".join(
        [
            f"def {pyname}({signature}) -> {ret.hint}:",
            _docstring("\n".join(doc)),
            f"    return _wb_impl.{pyname}({args})",
        ]
    )
    spec = FunctionSpec(
        name=pyname,
        export=f.export,
        params=tuple((n, p.kind or "") for n, p in params),
        ret=f.ret or "none",
        result=f.result,
    )
    return text, spec


def _render_unsupported(f: Function, pyname: str, reason: str) -> str:
    params = ", ".join(f"{python_name(p.name)}: object" for p in f.params)
    message = f"{f.name}() cannot be called from Python: {reason}"
    doc = [
        f.doc or f"`{f.name}` from the Rust crate.",
        "",
        f"Not supported by the Python loader: {reason}.",
    ]
    return "\n".join(
        [
            f"def {pyname}({params}) -> NoReturn:",
            _docstring("\n".join(doc)),
            f"    raise NotImplementedError({message!r})",
        ]
    )


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
    blocks: list[str] = []
    specs: list[dict[str, Any]] = []
    functions: list[str] = []
    unsupported: list[str] = []
    for f in glue.functions:
        pyname = python_name(f.name)
        if f.supported:
            text, spec = _render_supported(f, pyname)
            specs.append(spec.to_dict())
            functions.append(pyname)
        else:
            text = _render_unsupported(f, pyname, f.problem or "unsupported")
            unsupported.append(f"{f.name}: {f.problem}")
        blocks.append(text)
    unsupported += [f"class {c}: exported Rust structs are not supported" for c in glue.classes]
    unsupported += [f"enum {e}: exported Rust enums are not supported" for e in glue.enums]
    loader_spec = {
        "format": 1,
        "functions": specs,
        "casts": casts(glue.imports),
        "externref_init": [list(pair) for pair in externref_init(glue.imports)],
    }
    names = [python_name(f.name) for f in glue.functions]
    summary = "\n".join(f"    {n}" for n in names) or "    (no exported functions)"
    text = Template(resources.template(TEMPLATE).read_text()).substitute(
        version=__version__,
        wasm_file=repr(wasm_file),
        wasm_name=wasm_file,
        summary=summary,
        spec=_render_spec(loader_spec),
        functions="\n\n\n".join(blocks) if blocks else "# (the crate exports no functions)",
        all=pprint.pformat(
            sorted({*names, "AbortError", "JsError", "LoaderWarning", "PanicError",
                    "StaleInstanceError", "WasmError", "instance", "on_abort", "reset"}),
            width=96,
        ),
    )  # fmt: skip
    return Rendered(text, functions, unsupported)
