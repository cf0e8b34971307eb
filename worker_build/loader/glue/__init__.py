"""Build time: read what the loader needs out of wasm-bindgen's JS glue.

`parse_glue` reads the whole glue file into a `Glue`: the exported functions
(functions.py), classes and enums (classes.py) and imports (imports.py).
Nothing is guessed: what cannot be read is reported as unsupported with the
reason. This package never imports wasmtime; the generated loader's runtime
(worker_build.loader.runtime) is the only part of the loader that does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker_build.loader.glue.classes import Class, Enum, parse_classes, parse_enums, type_names
from worker_build.loader.glue.functions import Function, WasmSig, parse_function
from worker_build.loader.glue.imports import JsImport, classify_imports, parse_imports
from worker_build.loader.glue.js_text import block_end, jsdoc_before

_EXPORT_FN = re.compile(r"^export function (\w+)\s*\(([^)]*)\)\s*\{\s*$", re.M)


@dataclass(frozen=True)
class Glue:
    functions: tuple[Function, ...]
    classes: tuple[Class, ...] = ()
    enums: tuple[Enum, ...] = ()
    imports: dict[str, str] = field(default_factory=dict)  # import name -> JS definition
    js_imports: tuple[JsImport, ...] = ()  # the crate's own JS functions


def parse_glue(
    js: str,
    wasm_exports: Mapping[str, WasmSig],
    wasm_imports: Mapping[str, WasmSig] | None = None,
) -> Glue:
    """All exported functions, classes, enums and imports of the glue."""
    enums = parse_enums(js)
    types = type_names(js, enums)
    functions = []
    for match in _EXPORT_FN.finditer(js):
        name = match.group(1)
        if name.startswith("__wbg_") or name.startswith("__wbindgen"):
            continue  # __wbg_reset_state and other glue internals
        body = js[match.end() : block_end(js, match.end())]
        header = [p.strip() for p in match.group(2).split(",") if p.strip()]
        doc = jsdoc_before(js, match.start())
        functions.append(parse_function(name, header, doc, body, wasm_exports, types))
    imports = parse_imports(js)
    return Glue(
        tuple(functions),
        parse_classes(js, wasm_exports, types),
        enums,
        imports,
        classify_imports(imports, wasm_imports or {}),
    )
