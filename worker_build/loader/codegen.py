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
    name: str
    export: str
    params: tuple[tuple[str, str], ...]  # (name, abi.PARAMS key)
    ret: str  # abi.RETURNS key
    result: bool  # Result<T, E>

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FunctionSpec:
        return cls(
            name=d["name"],
            export=d["export"],
            params=tuple((p, k) for p, k in d["params"]),
            ret=d["ret"],
            result=bool(d["result"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "export": self.export,
            "params": [[p, k] for p, k in self.params],
            "ret": self.ret,
            "result": self.result,
        }

    @property
    def wasm_params(self) -> tuple[str, ...]:
        return tuple(t for _, k in self.params for t in abi.PARAMS[k].wasm)

    @property
    def wasm_results(self) -> tuple[str, ...]:
        extra = ("i32", "i32") if self.result else ()
        return abi.RETURNS[self.ret].wasm + extra

    @property
    def slots(self) -> int:
        return max(len(self.wasm_params), len(self.wasm_results), 1)


_W = re.compile(r"\bW\b")


def _indent(lines: list[str], depth: int) -> list[str]:
    return [" " * (4 * depth) + line for line in lines]


def function_source(spec: FunctionSpec) -> str:
    """Source of `make(inst)` returning the specialised call function."""
    prepare: list[str] = []
    stores: list[str] = []
    allocs: list[str] = []
    slot = 0
    for i, (pname, kind) in enumerate(spec.params):
        where = repr(f"{spec.name}() argument {pname!r}")
        var, tmp = f"a{i}", f"t{i}"
        prepare += [_W.sub(where, line) for line in abi.param_prepare(kind, var, tmp)]
        lines = [_W.sub(where, line) for line in abi.param_store(kind, var, tmp, slot)]
        (allocs if abi.PARAMS[kind].allocates else stores).extend(lines)
        slot += len(abi.PARAMS[kind].wasm)
    body = [*stores, *allocs]
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
        f"    def {local}({args}):",
        *_indent(prepare, 2),
        "        with lock:",
        *_indent(body, 3),
        f"    return {local}",
    ]
    return "\n".join(src) + "\n"


def compile_function(spec: FunctionSpec) -> Callable[[Any], Callable[..., Any]]:
    """The `make` factory for `spec`."""
    namespace: dict[str, Any] = {
        **abi.HELPERS,
    }
    code = compile(function_source(spec), f"<worker-build loader: {spec.name}>", "exec")
    exec(code, namespace)
    make: Callable[[Any], Callable[..., Any]] = namespace["make"]
    return make
