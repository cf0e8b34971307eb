"""A loader runtime over a fake wasm memory, for ABI tests without wasmtime."""

from __future__ import annotations

import ctypes
import threading
from typing import Any

from worker_build.loader import abi, abi_arrays
from worker_build.loader.codegen import FunctionSpec, compile_function
from worker_build.loader.kinds import split
from worker_build.loader.objects import Home

MEMORY = 1 << 16


class FakeWasm:
    def __init__(self, spec: FunctionSpec, *, error_index: int | None = None) -> None:
        self.spec = spec
        self.memory = (ctypes.c_uint8 * MEMORY)()
        self.base = ctypes.addressof(self.memory)
        self.next = 16
        self.allocated: list[tuple[int, int]] = []
        self.freed: list[tuple[int, int, int]] = []
        self.lock = threading.RLock()
        self.trap = ctypes.c_void_p()
        self.error_index = error_index
        self.calls = 0
        self.views: Any = None
        self.objects_freed: list[tuple[str, int, int]] = []
        self.home = Home(1, self.lock, lambda c, p, d: self.objects_freed.append((c, p, d)))
        self.mut_targets: dict[int, tuple[memoryview, str]] = {}
        self.table: dict[int, object] = {}

    # what the generated code binds
    def export_slots(self, name: str, nslots: int) -> tuple[Any, ...]:
        assert name == self.spec.export
        buf = (ctypes.c_uint8 * (16 * nslots))()
        raw = memoryview(buf).cast("B")
        self.views = [raw.cast(f) for f in ("i", "I", "q", "Q", "f", "d")]
        self._keep = buf
        return ("fn", ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_size_t(nslots), *self.views)

    def raw_env(self) -> tuple[Any, ...]:
        return self.call, "ctx", "tp", self.trap, self.fail

    def malloc(self, size: int, align: int = 1) -> int:
        self.next += -self.next % align
        ptr = self.next
        self.next += max(size, 1)
        self.allocated.append((ptr, size))
        return ptr

    def pass_strings(self, items: list[str]) -> tuple[int, int]:
        ptr = self.malloc(4 * len(items), 4)
        for i, item in enumerate(items):
            index = 2000 + len(self.table)
            self.table[index] = item
            self.write(ptr + 4 * i, index.to_bytes(4, "little"))
        return ptr, len(items)

    def take_strings(self, ptr: int, count: int) -> list[object]:
        data = self.read(ptr, 4 * count)
        return [self.table.pop(int.from_bytes(data[4 * i : 4 * i + 4], "little"))
                for i in range(count)]  # fmt: skip

    def free(self, ptr: int, size: int, align: int) -> None:
        self.freed.append((ptr, size, align))

    def take_error(self, index: int) -> BaseException:
        return ValueError(f"error value at {index}")

    def fail(self, error: object) -> None:
        raise RuntimeError(f"call failed: {error}")

    def read(self, ptr: int, size: int) -> bytes:
        return bytes(self.memory[ptr : ptr + size])

    def write(self, ptr: int, data: bytes) -> None:
        assert ptr + len(data) <= MEMORY
        ctypes.memmove(self.base + ptr, data, len(data))

    # the "wasm export": echo every parameter slot into the result slots
    def call(self, ctx: object, fn: object, buf: object, nslots: object, tp: object) -> int | None:
        self.calls += 1
        _, u32, _, u64, f32, f64 = self.views
        slots: list[Any] = []
        slot = 0
        for _, kind in self.spec.params:
            for t in abi.param(kind).wasm:
                slots.append({"i32": u32[4 * slot], "i64": u64[2 * slot], "f32": f32[4 * slot],
                              "f64": f64[2 * slot], "externref": None}[t])  # fmt: skip
                slot += 1
            base = split(kind)[0]
            if base.startswith("mut_"):  # "Rust" flips the low bit of each byte, copies back
                ptr, n = slots[-3], slots[-2]
                size = n * abi_arrays.ELEMENTS[base[4:]][1]
                for i in range(size):
                    self.memory[ptr + i] ^= 1
                target, code = self.mut_targets.pop(ptr)
                abi_arrays.copy_back(target, code, self.read(ptr, size))
                del slots[-1]
            elif base in ("str", "bytes", "opt_str", "opt_bytes", "strings") or "array_" in base:
                width = 4 if base == "strings" else 1
                if "array_" in base:
                    width = abi_arrays.ELEMENTS[base.rsplit("_", 1)[1]][1]
                ptr, size = slots[-2], slots[-1] * width
                if ptr != 0:
                    copy = self.malloc(size, width)
                    ctypes.memmove(self.base + copy, self.base + ptr, size)
                    slots[-2] = copy
        results = list(abi.result(self.spec.ret).wasm)
        if self.spec.result:
            results += ["i32", "i32"]
            slots = [*slots[: len(results) - 2], 7, 1 if self.error_index else 0]
        for i, t in enumerate(results):
            value = slots[i] if i < len(slots) else 0
            if t == "i32":
                u32[4 * i] = value
            elif t == "i64":
                u64[2 * i] = value
            elif t == "f32":
                f32[4 * i] = value
            else:
                f64[2 * i] = value
        return None


def make(
    params: list[str],
    ret: str,
    *,
    result: bool = False,
    types: dict[str, Any] | None = None,
    **kw: Any,
) -> tuple[Any, FakeWasm]:
    spec = FunctionSpec(
        name="f",
        export="f",
        params=tuple((f"p{i}", k) for i, k in enumerate(params)),
        ret=ret,
        result=result,
    )
    fake = FakeWasm(spec, **kw)
    return compile_function(spec, types)(fake), fake
