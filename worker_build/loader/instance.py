"""One wasm instance in its own store: the state the call path binds to, the
host imports, and what happens when a call fails.

Throwing a wasm exception from the host needs a wasm function that executes
`throw`, so a small helper module shares the store's `__wbindgen_wrapped_jstag`
and provides `__wbindgen_rethrow` / `__wbindgen_throw`.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

import wasmtime as wt

from worker_build.loader import abi_arrays, host_imports, rawcall
from worker_build.loader.errors import (
    CONSTANTS,
    JsError,
    PanicError,
    WasmError,
    as_exception,
    trap_reason,
)
from worker_build.loader.objects import Home, RustObject, wrap

I32, EXT = wt.ValType.i32(), wt.ValType.externref()
# The payload is also handed to the host ("note") before the throw, because the
# exception itself is left pending on the store (see rawcall.is_uncaught_exception).
HELPER_WAT = """(module
  (import "wb" "wrapped" (tag $wrapped (param externref)))
  (import "wb" "note" (func $note (param externref)))
  (import "wb" "error" (func $error (param i32 i32) (result externref)))
  (func $throw (export "rethrow") (param externref)
    (call $note (local.get 0))
    (throw $wrapped (local.get 0)))
  (func (export "throw_str") (param i32 i32)
    (call $throw (call $error (local.get 0) (local.get 1)))))"""


class Owner(Protocol):
    """What an instance needs from the library that creates it (runtime.Library).
    A protocol rather than an import, so this module does not depend on runtime."""

    lock: threading.RLock
    engine: wt.Engine
    module: wt.Module
    helper: wt.Module  # HELPER_WAT, compiled once
    intrinsics: dict[str, str]  # import name -> intrinsic it implements
    unwinds: bool  # the module imports __wbindgen_wrapped_jstag
    externref_init: list[tuple[int, str]]
    class_frees: dict[str, str]  # struct's JS class name -> its `__wbg_<name>_free` export
    user_imports: dict[str, dict[str, Any]]  # import name -> host_imports entry
    provided: dict[str, Callable[..., Any]]  # JS function name -> the user's callable
    classes: dict[str, type[RustObject]]  # struct's JS class name -> its Python class

    def abort_instance(self, inst: Instance, message: str, cause: BaseException | None) -> NoReturn:
        """Discard `inst` after a trap, replace it and raise AbortError."""

    def schedule_reset(self) -> None:
        """Make the next call start on a fresh instance."""


class Instance:
    """One wasm instance in its own store, with the state the call path binds."""

    def __init__(self, library: Owner, generation: int) -> None:
        self.library, self.generation = library, generation
        self.lock = library.lock
        self.store = store = wt.Store(library.engine)
        self.host_error: BaseException | None = None
        self.thrown: object = None  # payload of the last __wbindgen_rethrow
        self.trap = ctypes.c_void_p()
        self.trap_ref = ctypes.c_void_p(ctypes.addressof(self.trap))
        self._keep: list[Any] = []
        self.home = Home(generation, self.lock, self.free_object)
        self.mut_targets: dict[int, tuple[memoryview, str]] = {}  # see abi_arrays
        self._frees: dict[str, Callable[..., int]] = {}
        self.wrapped_tag: wt.Tag | None = None
        self._helper_instance: wt.Instance | None = None
        externs = [self._provide(imp) for imp in library.module.imports]
        instance = wt.Instance(store, library.module, externs)
        self.exports = instance.exports(store)
        memory = self.exports["memory"]
        assert isinstance(memory, wt.Memory)
        self.memory = memory
        self.base = rawcall.memory_base(store, memory)
        self.ctx_arg = ctypes.c_void_p(rawcall.context_address(store))
        self.read, self.write = self._memory_access()
        self.malloc = self._malloc_fn()
        self.free = self._free_fn()
        self._dealloc = self._dealloc_fn()
        self._table_alloc: Callable[..., int] | None = None
        self._drop_slice: Callable[..., int] | None = None
        start = self.exports.get("__wbindgen_start")
        if isinstance(start, wt.Func):
            try:
                start(store)
            except Exception as exc:
                cause, self.host_error = self.host_error or exc, None
                rawcall.forget_host_exception()
                reason = str(cause) if cause is not exc else trap_reason(str(exc))
                raise WasmError(
                    f"the module's start function (__wbindgen_start) failed, so it cannot run "
                    f"in Python: {reason}"
                ) from cause

    # ------------------------------------------------------------ raw calls

    def export_slots(self, name: str, nslots: int) -> tuple[Any, ...]:
        func = self.exports[name]
        assert isinstance(func, wt.Func)
        buf = (ctypes.c_uint8 * (rawcall.RAW_SLOT_SIZE * nslots))()
        self._keep += [func, buf]
        raw = memoryview(buf).cast("B")
        views = [raw.cast(fmt) for fmt in ("i", "I", "q", "Q", "f", "d")]
        fn = ctypes.c_void_p(rawcall.func_address(func))
        return (fn, ctypes.c_void_p(ctypes.addressof(buf)), ctypes.c_size_t(nslots), *views)

    def raw_env(self) -> tuple[Any, ...]:
        """What every raw call passes or checks: entry point, store context,
        trap out-pointer, the trap slot itself, and the failure handler."""
        return rawcall.CALL_UNCHECKED, self.ctx_arg, self.trap_ref, self.trap, self.fail

    def _memory_access(self) -> tuple[Callable[[int, int], bytes], Callable[[int, bytes], None]]:
        """read(ptr, size) and write(ptr, data) on linear memory, through a
        memoryview (much cheaper than ctypes calls) that is checked against the
        range, so a bad pointer from the module raises instead of crashing. The
        view covers the memory as it was; it is rebuilt when the memory grew."""
        memory, store, base = self.memory, self.store, self.base
        view: list[memoryview] = []

        def cover(ptr: int, size: int) -> memoryview:
            length = memory.data_len(store)
            if ptr + size > length:
                raise WasmError(
                    f"the module handed out [{ptr:#x}, {ptr + size:#x}), outside its "
                    f"{length}-byte linear memory"
                )
            view[:] = [memoryview((ctypes.c_uint8 * length).from_address(base)).cast("B")]
            return view[0]

        cover(0, 0)

        def read(ptr: int, size: int) -> bytes:
            v = view[0]
            if ptr + size > len(v):
                v = cover(ptr, size)
            return v[ptr : ptr + size].tobytes()

        def write(ptr: int, data: bytes) -> None:
            v = view[0]
            if ptr + len(data) > len(v):
                v = cover(ptr, len(data))
            v[ptr : ptr + len(data)] = data

        return read, write

    def _malloc_fn(self) -> Callable[[int, int], int]:
        fn, buf, n, _, u32, *_ = self.export_slots("__wbindgen_malloc", 2)
        call, ctx, tp, trap, fail = self.raw_env()

        def malloc(size: int, align: int = 1) -> int:
            u32[0], u32[4] = size, align
            e = call(ctx, fn, buf, n, tp)
            if e or trap:
                fail(e)
            return int(u32[0])

        return malloc

    def _free_fn(self) -> Callable[[int, int, int], None]:
        fn, buf, n, _, u32, *_ = self.export_slots("__wbindgen_free", 3)
        call, ctx, tp, trap, fail = self.raw_env()

        def free(ptr: int, size: int, align: int) -> None:
            u32[0], u32[4], u32[8] = ptr, size, align
            e = call(ctx, fn, buf, n, tp)
            if e or trap:
                fail(e)

        return free

    def _dealloc_fn(self) -> Callable[[int], None] | None:
        if "__externref_table_dealloc" not in self.exports:
            return None
        fn, buf, n, _, u32, *_ = self.export_slots("__externref_table_dealloc", 1)
        call, ctx, tp, trap, fail = self.raw_env()

        def dealloc(index: int) -> None:
            u32[0] = index
            e = call(ctx, fn, buf, n, tp)
            if e or trap:
                fail(e)

        return dealloc

    def _raw(self, export: str, nargs: int) -> Callable[..., int]:
        """A raw caller for an i32-only export taking `nargs` and returning at most one."""
        fn, buf, n, _, u32, *_ = self.export_slots(export, max(nargs, 1))
        call, ctx, tp, trap, fail = self.raw_env()

        def raw(*args: int) -> int:
            for i, value in enumerate(args):
                u32[4 * i] = value
            e = call(ctx, fn, buf, n, tp)
            if e or trap:
                fail(e)
            return int(u32[0])

        return raw

    def free_object(self, class_name: str, ptr: int, allow_delayed: int) -> None:
        """Drop an exported struct (`__wbg_<class>_free`); see objects.Home."""
        free = self._frees.get(class_name)
        if free is None:
            free = self._frees[class_name] = self._raw(self.library.class_frees[class_name], 2)
        free(ptr, allow_delayed)

    def _externrefs(self) -> wt.Table:
        table = self.exports["__wbindgen_externrefs"]
        assert isinstance(table, wt.Table)
        return table

    def pass_strings(self, items: list[str]) -> tuple[int, int]:
        """A `Vec<String>` argument: each string in a fresh externref table slot
        (`__externref_table_alloc`), their indices in linear memory."""
        alloc = self._table_alloc
        if alloc is None:
            alloc = self._table_alloc = self._raw("__externref_table_alloc", 0)
        table = self._externrefs()
        ptr = self.malloc(4 * len(items), 4)
        indices = bytearray()
        for item in items:
            index = alloc()
            table.set(self.store, index, item)
            indices += index.to_bytes(4, "little")
        self.write(ptr, bytes(indices))
        return ptr, len(items)

    def take_strings(self, ptr: int, count: int) -> list[Any]:
        """A `Vec<String>` result: the strings in the externref table slots whose
        indices are at `ptr`, which are then released (`__externref_drop_slice`)."""
        drop_slice = self._drop_slice
        if drop_slice is None:
            drop_slice = self._drop_slice = self._raw("__externref_drop_slice", 2)
        table, data = self._externrefs(), self.read(ptr, 4 * count)
        out = []
        for i in range(count):
            value = table.get(self.store, int.from_bytes(data[4 * i : 4 * i + 4], "little"))
            out.append(value.value if isinstance(value, wt.Val) else value)
        drop_slice(ptr, count)
        return out

    def take_error(self, index: int) -> BaseException:
        """The error value of a `Result` export, taken out of the externref table."""
        table = self.exports["__wbindgen_externrefs"]
        assert isinstance(table, wt.Table)
        value = table.get(self.store, index)
        if isinstance(value, wt.Val):  # how wasmtime-py returns a null reference
            value = value.value
        if self._dealloc is not None:
            self._dealloc(index)
        return as_exception(value)

    def fail(self, error: int | None) -> NoReturn:
        """Called when a raw call returned an error or trap: raise what it means.

        An exception that left wasm uncaught is a recoverable error (a Rust panic
        or an Err thrown by wasm-bindgen) when it is the one `__wbindgen_rethrow`
        threw: its payload was noted on the way out. Anything else aborts."""
        trap_address, self.trap.value = self.trap.value, None
        message, trap = rawcall.trap_message(trap_address, error)
        host_error, self.host_error = self.host_error, None
        thrown, self.thrown = self.thrown, None
        rawcall.forget_host_exception()
        if host_error is None and rawcall.is_uncaught_exception(self.store, trap):
            if thrown is not None:
                raise as_exception(thrown)
            message = "an uncaught wasm exception that is not a JS error"
        self.library.abort_instance(self, message, host_error or trap)

    # ------------------------------------------------------------ imports

    def _host(self, ty: wt.FuncType, fn: Callable[..., Any]) -> wt.Func:
        """A host function `fn(inst, *args)`; its exceptions are remembered for the
        abort report. It holds the instance weakly: wasmtime-py's global function
        registry keeps it until the store dies, which a strong reference prevents."""
        owner = weakref.ref(self)

        def host(*args: Any) -> Any:
            inst = owner()
            if inst is None:
                raise WasmError("host function called after its instance was released")
            try:
                return fn(inst, *args)
            except BaseException as exc:
                if inst.host_error is None:
                    inst.host_error = exc
                raise

        return wt.Func(self.store, ty, host)

    def string(self, ptr: int, size: int) -> str:
        return self.read(ptr, size).decode("utf-8", "replace")

    def _helper(self) -> wt.Instance:
        """The throwing helper, sharing this store's `__wbindgen_wrapped_jstag`."""
        if self._helper_instance is None:
            if self.wrapped_tag is None:
                self.wrapped_tag = wt.Tag(self.store, wt.TagType(wt.FuncType([EXT], [])))
            note = self._host(wt.FuncType([EXT], []), _note_thrown)
            error = self._host(wt.FuncType([I32, I32], [EXT]), _js_error)
            self._helper_instance = wt.Instance(
                self.store, self.library.helper, [self.wrapped_tag, note, error]
            )
        return self._helper_instance

    def _provide(self, imp: wt.ImportType) -> Any:
        ty, name = imp.type, imp.name or ""
        lib = self.library
        if isinstance(ty, wt.TagType):
            if name != "__wbindgen_wrapped_jstag":
                return wt.Tag(self.store, ty)
            if self.wrapped_tag is None:
                self.wrapped_tag = wt.Tag(self.store, ty)
            return self.wrapped_tag
        if not isinstance(ty, wt.FuncType):
            raise WasmError(f"the Python loader cannot provide the import {imp.module}.{name}")
        user = lib.user_imports.get(name)
        if user is not None:
            return self._host(ty, host_imports.host_function(user, lib.provided))
        which = lib.intrinsics.get(name)
        if which == "__wbindgen_rethrow":
            return self._helper().exports(self.store)["rethrow"]
        if which == "__wbindgen_throw" and lib.unwinds:
            return self._helper().exports(self.store)["throw_str"]
        if which and which.startswith("wrap:"):
            cls = lib.classes[which[5:]]
            return self._host(ty, lambda inst, ptr: wrap(cls, ptr & 0xFFFFFFFF, inst.home))
        if which and which.startswith("unwrap:"):
            return self._host(ty, _unwrapper(lib.classes[which[7:]]))
        impl = HOST_IMPORTS.get(which or "") or _missing_import(f"{imp.module}.{name}")
        return self._host(ty, impl)

    def init_externref_table(self) -> None:
        table = self.exports["__wbindgen_externrefs"]
        assert isinstance(table, wt.Table)
        for index, constant in self.library.externref_init:
            table.set(self.store, index, CONSTANTS[constant])

    def run_abort_hook(self) -> None:
        """What the JS glue does on an abort: flag the instance terminated and call
        the handler Rust registered with `set_on_abort` (best effort)."""
        try:
            flag = self.exports.get("__instance_terminated")
            hook = self.exports.get("__abort_handler")
            if isinstance(flag, wt.Global):
                address = int(flag.value(self.store))
                self.memory.write(self.store, (1).to_bytes(4, "little"), address)
            table = self.exports.get("__wbindgen_export")
            if isinstance(hook, wt.Global) and isinstance(table, wt.Table):
                address = int(hook.value(self.store))
                index = int.from_bytes(self.memory.read(self.store, address, address + 4), "little")
                func = table.get(self.store, index) if index else None
                if isinstance(func, wt.Func):
                    func(self.store)
        except BaseException:  # the instance is being discarded anyway
            pass
        finally:
            self.trap.value = None
            self.host_error = self.thrown = None
            rawcall.forget_host_exception()


def _missing_import(qualified: str) -> Callable[..., NoReturn]:
    def missing(_inst: Instance, *_args: Any) -> NoReturn:
        raise NotImplementedError(f"import {qualified} is not implemented by the Python loader")

    return missing


def _unwrapper(cls: type[RustObject]) -> Callable[[Instance, object], int]:
    """`__wbg_<class>_unwrap`: the struct's pointer, taken out of its object (0 when
    it is not one of this instance's), as `__destroy_into_raw` does."""

    def unwrap(inst: Instance, obj: object) -> int:
        if not isinstance(obj, cls) or obj._wb_home is not inst.home:
            return 0
        ptr, obj._wb_ptr = obj._wb_ptr, 0
        return ptr

    return unwrap


def _note_thrown(inst: Instance, payload: object) -> None:
    inst.thrown = payload


def _js_error(inst: Instance, ptr: int, size: int) -> JsError:
    return JsError(inst.string(ptr, size))


def _throw_fatal(inst: Instance, ptr: int, size: int) -> NoReturn:
    """`__wbindgen_throw` in a module without unwinding: an error that aborts."""
    raise JsError(inst.string(ptr, size))


def _rethrow_critical(_inst: Instance, cause: object) -> NoReturn:
    raise as_exception(cause)


def _string_get(inst: Instance, retptr: int, value: object) -> None:
    """`JsValue::as_string`: (ptr, len) of a fresh UTF-8 copy at `retptr`, or 0."""
    ptr = size = 0
    if isinstance(value, str):
        data = value.encode("utf-8", "replace")
        size = len(data)
        ptr = inst.malloc(size, 1)
        inst.write(ptr, data)
    inst.write(retptr & 0xFFFFFFFF, ptr.to_bytes(4, "little") + size.to_bytes(4, "little"))


def _copy_to_typed_array(inst: Instance, ptr: int, size: int, _target: object) -> None:
    """End of a `&mut [T]` argument: Rust's bytes back into the caller's buffer
    (found by pointer: the generated call passes null for the typed array)."""
    entry = inst.mut_targets.pop(ptr & 0xFFFFFFFF, None)
    if entry is None:
        raise NotImplementedError("__wbindgen_copy_to_typed_array for a JS typed array")
    target, code = entry
    abi_arrays.copy_back(target, code, inst.read(ptr & 0xFFFFFFFF, size & 0xFFFFFFFF))


HOST_IMPORTS: dict[str, Callable[..., Any]] = {
    "__wbindgen_throw": _throw_fatal,
    "__wbindgen_panic_error": lambda _inst, msg: PanicError(str(msg)),
    "__wbindgen_rethrow_critical": _rethrow_critical,
    "__wbindgen_init_externref_table": lambda inst: inst.init_externref_table(),
    "__wbindgen_reinit": lambda inst: inst.library.schedule_reset(),
    "Error": _js_error,
    "cast:string": lambda inst, ptr, size: inst.string(ptr, size),
    "cast:number": lambda _inst, value: value,
    "__wbindgen_string_get": _string_get,
    "__wbindgen_copy_to_typed_array": _copy_to_typed_array,
    "__wbindgen_is_null": lambda _inst, value: int(value is None),
}
