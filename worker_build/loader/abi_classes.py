"""Exported Rust structs and enums as parameters and results (see abi.py).

Kinds here carry the type's JS name (and for optional enums the "none" value
the glue uses): `struct_ref:Point`, `opt_enum:Color:0`. A struct crosses as the
pointer wasm-bindgen gave it (objects.py holds it); a borrowed one (`&T`,
`&mut T`, a method's `&self`) keeps its Python object, an owned one (`T`, a
method's `self`, `Option<T>`) is moved into Rust, which leaves the Python object
empty, as `__destroy_into_raw` does in the glue. A C-style enum crosses as its
discriminant in an f64, a string enum as the index of its value in the glue's
`__wbindgen_enum_<Name>` list.

Snippets refer to the type through names the runtime binds per module:
`C_<Name>` (the class), `EV_<Name>` ({discriminant: member}), `SI_<Name>`
({value: index}) and `SM_<Name>` (the members in index order).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from worker_build.loader.kinds import Kind, k
from worker_build.loader.objects import Home, RustObject, init_check, object_arg, wrap

PARAM_BASES = frozenset(
    {"struct_ref", "struct_owned", "opt_struct_owned", "this", "enum", "opt_enum", "senum",
     "opt_senum", "objects"}
)  # fmt: skip
RESULT_BASES = frozenset(
    {"struct", "opt_struct", "ctor", "enum", "opt_enum", "senum", "opt_senum", "objects"}
)


def ident(name: str) -> str:
    """A Python identifier for a JS type name (JS allows `$`)."""
    return re.sub(r"\W", "_", name)


def param_kind(base: str, args: list[str]) -> Kind:
    name = args[0]
    full = ":".join([base, *args])
    table = {
        "struct_ref": ("i32", name, f"&{name} / &mut {name}"),
        "struct_owned": ("i32", name, f"{name} (moved into Rust)"),
        "opt_struct_owned": ("i32", f"{name} | None", f"Option<{name}> (moved into Rust)"),
        "this": ("", name, "the object being constructed"),
        "enum": ("f64", f"{name} | int", f"enum {name}"),
        "opt_enum": ("f64", f"{name} | int | None", f"Option<{name}>"),
        "senum": ("i32", f"{name} | str", f"string enum {name}"),
        "opt_senum": ("i32", f"{name} | str | None", f"Option<{name}> (string enum)"),
        "objects": ("i32 i32", f"Sequence[{name}]", f"Vec<{name}> (each moved into Rust)"),
    }
    wasm, hint, rust = table[base]
    return k(full, wasm, hint, rust, allocates=base == "objects")


def result_kind(base: str, args: list[str]) -> Kind:
    name = args[0]
    full = ":".join([base, *args])
    table = {
        "struct": ("i32", name, name),
        "opt_struct": ("i32", f"{name} | None", f"Option<{name}>"),
        "ctor": ("i32", "None", f"{name} (constructor)"),
        "enum": ("f64", name, f"enum {name}"),
        "opt_enum": ("f64", f"{name} | None", f"Option<{name}>"),
        "senum": ("i32", name, f"string enum {name}"),
        "opt_senum": ("i32", f"{name} | None", f"Option<{name}> (string enum)"),
        "objects": ("i32 i32", f"list[{name}]", f"Vec<{name}>"),
    }
    wasm, hint, rust = table[base]
    return k(full, wasm, hint, rust)


# ---------------------------------------------------------------- checks used by snippets


def enum_arg(value: object, by_value: dict[int, object], name: str, where: str) -> float:
    if isinstance(value, int) and not isinstance(value, bool) and value in by_value:
        return float(value)
    allowed = ", ".join(f"{getattr(m, 'name', m)}={v}" for v, m in by_value.items())
    raise ValueError(f"{where} must be a {name} ({allowed}), not {value!r}")


def senum_arg(value: object, index_of: dict[str, int], name: str, where: str) -> int:
    if isinstance(value, str):
        index = index_of.get(value)
        if index is not None:
            return index
    allowed = ", ".join(repr(v) for v in index_of)
    raise ValueError(f"{where} must be a {name} (one of {allowed}), not {value!r}")


def objects_arg(value: object, cls: type[RustObject], home: Home, where: str) -> list[object]:
    """A `Vec<Struct>` argument: every element checked like a single one. They go
    to Rust through the externref table, and its `__unwrap` takes each one."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{where} must be a sequence of {cls.__name__}, not {type(value).__name__}")
    items = list(value)
    for i, item in enumerate(items):
        object_arg(item, cls, home, f"{where}[{i}]")
    return items


HELPERS = {
    "objects_arg": objects_arg,
    "enum_arg": enum_arg,
    "senum_arg": senum_arg,
    "object_arg": object_arg,
    "init_check": init_check,
    "wrap": wrap,
}


# ---------------------------------------------------------------- snippets


def _check(var: str, cls: str) -> list[str]:
    return [
        f"if type({var}) is not {cls} or {var}._wb_home is not home or not {var}._wb_ptr:",
        f"    object_arg({var}, {cls}, home, W)",
    ]


def param_prepare(base: str, args: list[str], var: str, tmp: str) -> list[str]:
    cls = "C_" + ident(args[0])
    if base in ("struct_ref", "struct_owned"):
        return _check(var, cls)
    if base == "opt_struct_owned":
        return [f"if {var} is not None:", *("    " + line for line in _check(var, cls))]
    if base == "this":
        return [f"init_check({var}, W)"]
    if base == "objects":
        return [f"{tmp} = objects_arg({var}, {cls}, home, W)"]
    return []


def param_store(base: str, args: list[str], var: str, tmp: str, slot: int) -> list[str]:
    a, b = 4 * slot, 2 * slot
    if base == "objects":
        return [f"U32[{a}], U32[{a + 4}] = pass_strings({tmp})"]
    name = args[0]
    encode = {
        "enum": f"enum_arg({var}, EV_{ident(name)}, {name!r}, W)",
        "senum": f"senum_arg({var}, SI_{ident(name)}, {name!r}, W)",
    }
    if base == "enum":
        return [f"F64[{b}] = {encode['enum']}"]
    if base == "opt_enum":
        return [f"F64[{b}] = {float(args[1])!r} if {var} is None else {encode['enum']}"]
    if base == "senum":
        return [f"I32[{a}] = {encode['senum']}"]
    if base == "opt_senum":
        return [f"I32[{a}] = {int(args[1])} if {var} is None else {encode['senum']}"]
    return []


def param_final(base: str, var: str, slot: int) -> list[str]:
    """Lines run last before the call: pointers are read (and owned ones taken)
    only once every argument is checked and copied, as the glue does."""
    a = 4 * slot
    if base == "struct_ref":
        return [f"U32[{a}] = {var}._wb_ptr"]
    if base == "struct_owned":
        return [f"U32[{a}] = {var}._wb_ptr", f"{var}._wb_ptr = 0"]
    if base == "opt_struct_owned":
        return [
            f"if {var} is None:",
            f"    U32[{a}] = 0",
            "else:",
            f"    U32[{a}] = {var}._wb_ptr",
            f"    {var}._wb_ptr = 0",
        ]
    return []


def result_lines(base: str, args: list[str]) -> list[str]:
    name = ident(args[0])
    if base == "struct":
        return [f"return wrap(C_{name}, U32[0], home)"]
    if base == "opt_struct":
        return ["p = U32[0]", f"return None if p == 0 else wrap(C_{name}, p, home)"]
    if base == "ctor":  # the object being constructed is the first argument
        return ["a0._wb_ptr = U32[0]", "a0._wb_home = home", "return None"]
    if base == "enum":
        return [f"return EV_{name}[F64[0]]"]
    if base == "opt_enum":
        return ["v = F64[0]", f"return None if v == {float(args[1])!r} else EV_{name}[v]"]
    if base == "senum":
        return [f"return SM_{name}[I32[0]]"]
    if base == "opt_senum":
        return ["i = I32[0]", f"return SM_{name}[i] if 0 <= i < len(SM_{name}) else None"]
    if base == "objects":  # each struct was wrapped by `__wbg_<name>_new` into the table
        return ["p = U32[0]", "n = U32[4]", "r = take_strings(p, n)", "free(p, 4 * n, 4)",
                "return r"]  # fmt: skip
    raise KeyError(f"unknown result kind {base!r}")
