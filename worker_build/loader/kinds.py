"""`Kind`: one wasm-bindgen encoding of a value (see abi.py for how they are used)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    wasm: tuple[str, ...]  # core wasm types, in order
    hint: str  # Python annotation
    rust: str  # the Rust types this encoding stands for
    allocates: bool = False  # a parameter copied into linear memory with malloc


def k(name: str, wasm: str, hint: str, rust: str, allocates: bool = False) -> Kind:
    return Kind(name, tuple(wasm.split()), hint, rust, allocates)


def split(kind: str) -> tuple[str, list[str]]:
    """`struct_ref:Point` -> ("struct_ref", ["Point"]): a kind with its arguments."""
    base, *args = kind.split(":")
    return base, args
