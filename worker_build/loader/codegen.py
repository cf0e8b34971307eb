"""Assemble one specialised Python function per export from the `abi` snippets.

The source is compiled once per loaded module; `make(inst)` then binds it to an
instance (its buffer views, raw call arguments, allocator) and is called again
for every fresh instance after a reset. The generated function takes its
arguments positionally under internal names (`a0`, `a1`, ...), so a Rust
parameter named like one of the bound helpers cannot shadow it; the public
function in the generated loader has the real names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker_build.loader import abi


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # where the runtime installs it: `add`, or `Point.length` on a class
    export: str
    params: tuple[tuple[str, str], ...]  # (name, abi parameter kind)
    ret: str  # abi result kind
    result: bool  # Result<T, E>
    label: str = ""  # how messages name it (default: `name()`)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FunctionSpec:
        return cls(
            name=d["name"],
            export=d["export"],
            params=tuple((p, k) for p, k in d["params"]),
            ret=d["ret"],
            result=bool(d["result"]),
            label=d.get("label", ""),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "export": self.export,
            "params": [[p, k] for p, k in self.params],
            "ret": self.ret,
            "result": self.result,
        }
        if self.label:
            d["label"] = self.label
        return d

    @property
    def wasm_params(self) -> tuple[str, ...]:
        return tuple(t for _, k in self.params for t in abi.param(k).wasm)

    @property
    def wasm_results(self) -> tuple[str, ...]:
        extra = ("i32", "i32") if self.result else ()
        return abi.result(self.ret).wasm + extra

    @property
    def slots(self) -> int:
        return max(len(self.wasm_params), len(self.wasm_results), 1)


_W = re.compile(r"\bW\b")


def _indent(lines: list[str], depth: int) -> list[str]:
    return [" " * (4 * depth) + line for line in lines]


def function_source(spec: FunctionSpec, *, objects: bool = False) -> str:
    """Source of `make(inst)` returning the specialised call function. With
    `objects` (the module exports structs), each call first frees what
    finalizers queued (see objects.py)."""
    prepare: list[str] = []
    stores: list[str] = []
    allocs: list[str] = []
    final: list[str] = []
    slot = 0
    label = spec.label or f"{spec.name}()"
    for i, (pname, kind) in enumerate(spec.params):
        where = repr(label if pname == "self" else f"{label} argument {pname!r}")
        var, tmp = f"a{i}", f"t{i}"
        prepare += [_W.sub(where, line) for line in abi.param_prepare(kind, var, tmp)]
        lines = [_W.sub(where, line) for line in abi.param_store(kind, var, tmp, slot)]
        (allocs if abi.param(kind).allocates else stores).extend(lines)
        final += abi.param_final(kind, var, slot)
        slot += len(abi.param(kind).wasm)
    body = ["if pending:", "    drain()"] if objects else []
    body += [*stores, *allocs, *final]
    body += [
        "e = call(ctx, fn, buf, nslots, tp)",
        "if e or trap:",
        "    fail(e)",
    ]
    if spec.result:
        body += abi.error_check_lines(len(spec.wasm_results))
    body += abi.result_lines(spec.ret)
    args = ", ".join(f"a{i}" for i in range(len(spec.params)))
    local = "wasm_" + re.sub(r"\W", "_", spec.name)  # cannot shadow a bound helper
    src = [
        "def make(inst):",
        f"    fn, buf, nslots, I32, U32, I64, U64, F32, F64 = inst.export_slots("
        f"{spec.export!r}, {spec.slots})",
        "    call, ctx, tp, trap, fail = inst.raw_env()",
        "    lock = inst.lock",
        "    malloc, free, read, write = inst.malloc, inst.free, inst.read, inst.write",
        "    take_error = inst.take_error",
        "    home = inst.home",
        "    pending, drain = home.pending, home.drain",
        "    mut_targets = inst.mut_targets",
        "    pass_strings, take_strings = inst.pass_strings, inst.take_strings",
        f"    def {local}({args}):",
        *_indent(prepare, 2),
        "        with lock:",
        *_indent(body, 3),
        f"    return {local}",
    ]
    return "\n".join(src) + "\n"


def compile_function(
    spec: FunctionSpec, types: dict[str, Any] | None = None
) -> Callable[[Any], Callable[..., Any]]:
    """The `make` factory for `spec`; `types` holds the module's struct classes and
    enum tables under the names abi_classes snippets use (`C_Point`, ...)."""
    namespace: dict[str, Any] = {**abi.HELPERS, **(types or {})}
    objects = any(name.startswith("C_") for name in types or {})
    source = function_source(spec, objects=objects)
    code = compile(source, f"<worker-build loader: {spec.name}>", "exec")
    exec(code, namespace)
    make: Callable[[Any], Callable[..., Any]] = namespace["make"]
    return make
