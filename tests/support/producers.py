"""Producers sections written independently of the code under test, and read back by
wasm-tools (an independent reader)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.wasmgen import I32, body, export, functype, module, name, vec

WASM_TOOLS = Path(sys.executable).parent / "wasm-tools"


SDK = ("sdk", "workers-rs", "0.8.7")


def payload(fields: list[tuple[str, list[tuple[str, str]]]]) -> bytes:
    """A producers payload written independently of the code under test."""
    return vec(name(f) + vec(name(n) + name(v) for n, v in values) for f, values in fields)


def small_module(*customs: tuple[str, bytes]) -> bytes:
    """One exported (i32) -> i32 function, then the given custom sections."""
    return module(
        types=[functype([I32], [I32])],
        exports=[export("id", 0, 0)],
        bodies=[body(b"\x20\x00\x0b")],
        customs=customs,
    )


BINDGEN_FIELDS = [("processed-by", [("rustc", "1.96.0"), ("walrus", "0.27.3"),
                                    ("wasm-bindgen", "0.2.130")])]  # fmt: skip


def wasm_tools_producers(path: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        [str(WASM_TOOLS), "metadata", "show", "--json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {field: values for field, values in json.loads(out)["module"]["producers"] or []}


def validate(path: Path) -> None:
    subprocess.run([str(WASM_TOOLS), "validate", str(path)], check=True, capture_output=True)
