"""Exported Rust structs (`export class`) and enums in wasm-bindgen's JS glue.

A class has a `free()` that calls `__wbg_<name>_free`, a `constructor` when Rust
marked one, methods (`static` when they take no receiver), and `get`/`set`
accessors for getters, setters and public fields. Each method body is read like
a function (functions.parse_function), its receiver as parameter `self`.
A C-style enum is an `Object.freeze` of names and discriminants; a string enum
has no export, only the list `__wbindgen_enum_<Name>` of its values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from worker_build.loader.glue.encodings import TypeNames
from worker_build.loader.glue.functions import Function, WasmSig, parse_function
from worker_build.loader.glue.js_text import block_end, jsdoc_before, parse_jsdoc

_CLASS = re.compile(r"^export class (\w+)(?: extends ([\w$.]+))? \{\s*$", re.M)
_INT_ENUM = re.compile(r"^export const (\w+) = Object\.freeze\(\{(.*?)\}\);", re.M | re.S)
_INT_ENUM_ENTRY = re.compile(r"^\s*(\w+): (-?\d+),", re.M)
_STR_ENUM = re.compile(r"^const __wbindgen_enum_(\w+) = (\[.*?\]);", re.M)
_METHOD = re.compile(r"^    (static )?(?:(get|set) )?(\w+)\(([^)]*)\) \{\s*$", re.M)
_FREE = re.compile(r"\bwasm\.(__wbg_\w+_free)\(")
_GLUE_METHODS = frozenset({"__wrap", "__destroy_into_raw", "__unwrap", "free"})


@dataclass(frozen=True)
class Method:
    role: str  # "constructor", "method", "static", "getter" or "setter"
    function: Function  # name: the JS method (or accessor) name


@dataclass(frozen=True)
class Class:
    name: str
    doc: str
    free: str | None  # the `__wbg_<name>_free` export
    methods: tuple[Method, ...]
    problem: str | None = None  # why the loader cannot provide the class at all


@dataclass(frozen=True)
class Enum:
    name: str
    doc: str
    values: tuple[tuple[str, int], ...] | tuple[str, ...]  # (name, discriminant) or values

    @property
    def is_string(self) -> bool:
        return bool(self.values) and isinstance(self.values[0], str)

    @property
    def discriminants(self) -> list[tuple[str, int]]:
        return [v for v in self.values if isinstance(v, tuple)]

    @property
    def strings(self) -> list[str]:
        return [v for v in self.values if isinstance(v, str)]


def parse_enums(js: str) -> tuple[Enum, ...]:
    enums: list[Enum] = []
    for match in _INT_ENUM.finditer(js):
        doc, _, _ = parse_jsdoc(jsdoc_before(js, match.start()))
        doc = "\n".join(line for line in doc.splitlines() if not line.startswith("@enum"))
        entries = tuple((n, int(v)) for n, v in _INT_ENUM_ENTRY.findall(match.group(2) + "\n"))
        enums.append(Enum(match.group(1), doc, entries))
    for match in _STR_ENUM.finditer(js):
        values = json.loads(match.group(2))
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            enums.append(Enum(match.group(1), "", tuple(values)))
    return tuple(enums)


def type_names(js: str, enums: tuple[Enum, ...]) -> TypeNames:
    return TypeNames(
        classes=frozenset(m.group(1) for m in _CLASS.finditer(js)),
        int_enums=frozenset(e.name for e in enums if not e.is_string),
        str_enums={e.name: tuple(e.strings) for e in enums if e.is_string},
    )


def _role(static: bool, accessor: str | None, name: str) -> str:
    if name == "constructor":
        return "constructor"
    if accessor:
        return "getter" if accessor == "get" else "setter"
    return "static" if static else "method"


def parse_classes(
    js: str, wasm_exports: Mapping[str, WasmSig], types: TypeNames
) -> tuple[Class, ...]:
    classes = []
    for match in _CLASS.finditer(js):
        name, parent = match.group(1), match.group(2)
        doc, _, _ = parse_jsdoc(jsdoc_before(js, match.start()))
        body = js[match.end() : block_end(js, match.end())]
        free = _FREE.search(body)
        methods = []
        for m in _METHOD.finditer(body):
            static, accessor, method, header = m.group(1), m.group(2), m.group(3), m.group(4)
            method_body = body[m.end() : block_end(body, m.end(), "    ")]
            if method in _GLUE_METHODS or method.startswith("__wbg"):
                continue
            if method in ("toJSON", "toString") and "wasm." not in method_body:
                continue  # `inspectable` conveniences built from the getters
            function = parse_function(
                method,
                [p.strip() for p in header.split(",") if p.strip()],
                jsdoc_before(body, m.start()),
                method_body,
                wasm_exports,
                types,
                this_class=None if static else name,
                constructor=method == "constructor",
            )
            methods.append(Method(_role(bool(static), accessor, method), function))
        problem = None
        if parent:
            problem = f"it extends {parent} (class inheritance is not supported)"
        elif free is None or free.group(1) not in wasm_exports:
            problem = "the glue has no free() the loader can call"
        classes.append(Class(name, doc, free.group(1) if free else None, tuple(methods), problem))
    return tuple(classes)
