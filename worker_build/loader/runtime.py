"""wasmtime host for wasm-bindgen modules: what a generated `loader.py` runs on.

Semantics follow the Worker (wasm-bindgen's JS glue with panic=unwind):

* A Rust panic is caught inside the export by `catch_unwind`, turned into a
  `PanicError` by the `__wbindgen_panic_error` import and thrown back out with
  `__wbindgen_rethrow` as a wasm exception tagged `__wbindgen_wrapped_jstag`.
  Frames in between (the export's stack-pointer wrapper) run their handlers, so
  the instance stays consistent and keeps its state. We raise the payload.
* Anything else leaving an export (a trap such as `unreachable` or OOM, an
  exception with another tag, an error raised by a host import) is a hard
  abort: the module's own abort hook runs, the instance is replaced by a fresh
  one, the `on_abort` callbacks run once, and `AbortError` is raised.

Throwing a wasm exception from the host needs a wasm function that executes
`throw`, so a five-line helper module shares the two host-created tags and
provides `__wbindgen_rethrow` / `__wbindgen_throw`.
"""

from __future__ import annotations

import copy
import ctypes
import re
import threading
import warnings
import weakref
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import wasmtime as wt

from worker_build.loader import rawcall
from worker_build.loader.codegen import FunctionSpec, compile_function

SPEC_FORMAT = 1


class WasmError(Exception):
    """Base of the errors a generated loader raises for the wasm module."""


class PanicError(WasmError):
    """A Rust panic; the message is the panic message. The instance keeps its state."""


class AbortError(WasmError):
    """A hard abort (trap): the instance was discarded and replaced by a fresh one."""


class JsError(WasmError):
    """An `Err(JsError)` (or other error value) returned or thrown by Rust."""

    def __init__(self, message: str, value: object = None) -> None:
        super().__init__(message)
        self.value = value if value is not None else message


class StaleInstanceError(WasmError):
    """An object tied to a wasm instance that has since been replaced."""


class LoaderWarning(UserWarning):
    """Something in the module the Python loader cannot provide (e.g. an import)."""


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()  # JS `undefined` in the externref table (None is JS `null`)
_CONSTANTS = {"undefined": UNDEFINED, "null": None, "true": True, "false": False}

_HASH = re.compile(r"_[0-9a-f]{16}$")
# The payload is also handed to the host ("note") before the throw, because the
# exception itself is left pending on the store (see rawcall.is_uncaught_exception).
_HELPER_WAT = """(module
  (import "wb" "wrapped" (tag $wrapped (param externref)))
  (import "wb" "note" (func $note (param externref)))
  (import "wb" "error" (func $error (param i32 i32) (result externref)))
  (func $throw (export "rethrow") (param externref)
    (call $note (local.get 0))
    (throw $wrapped (local.get 0)))
  (func (export "throw_str") (param i32 i32)
    (call $throw (call $error (local.get 0) (local.get 1)))))"""

I32, EXT = wt.ValType.i32(), wt.ValType.externref()
# intrinsic -> (params, results) it must have for our implementation to apply
_INTRINSIC_TYPES: dict[str, tuple[list[wt.ValType], list[wt.ValType]]] = {
    "__wbindgen_throw": ([I32, I32], []),
    "__wbindgen_rethrow": ([EXT], []),
    "__wbindgen_panic_error": ([EXT], [EXT]),
    "__wbindgen_rethrow_critical": ([EXT], []),
    "__wbindgen_init_externref_table": ([], []),
    "__wbindgen_reinit": ([], []),
    "Error": ([I32, I32], [EXT]),
    "cast:string": ([I32, I32], [EXT]),
}


def intrinsic_name(import_name: str, casts: dict[str, str]) -> str:
    """`__wbg___wbindgen_throw_<hash>` -> `__wbindgen_throw`, casts by the spec."""
    if import_name in casts:
        return "cast:" + casts[import_name]
    return _HASH.sub("", import_name.removeprefix("__wbg_"))


def _reason(message: str) -> str:
    """The informative line of a wasmtime trap message."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("wasm trap:"):
            return line
    return lines[-1] if lines else "trap"


def _as_exception(payload: object) -> BaseException:
    """A fresh exception for an error value that crossed wasm as an externref.

    Never the object itself: wasmtime-py keeps externref objects in a global
    registry until the store's GC releases them, and a raised exception gets a
    traceback whose frames reference the instance and its store, which would
    keep the store alive forever.
    """
    if isinstance(payload, JsError):
        return JsError(str(payload), payload.value)
    if isinstance(payload, BaseException):
        fresh = copy.copy(payload)
        fresh.__traceback__ = fresh.__cause__ = fresh.__context__ = None
        return fresh
    return JsError(str(payload), payload)


class InstanceHandle:
    """The live wasm instance; refuses use once a reset replaced it."""

    def __init__(self, library: Library, inst: _Instance) -> None:
        self._library, self._inst = library, inst

    @property
    def generation(self) -> int:
        return self._inst.generation

    @property
    def alive(self) -> bool:
        return self._inst is self._library._current

    def _live(self) -> _Instance:
        if not self.alive:
            raise StaleInstanceError(
                f"this object belongs to wasm instance #{self._inst.generation}, which was "
                f"replaced by #{self._library.generation} after an abort or reset; "
                "get a new one with instance()"
            )
        return self._inst

    @property
    def memory_size(self) -> int:
        """Size of the linear memory in bytes."""
        inst = self._live()
        with self._library._lock:
            return int(inst.memory.data_len(inst.store))

    def read_memory(self, address: int, size: int) -> bytes:
        inst = self._live()
        with self._library._lock:
            if address < 0 or size < 0:
                raise IndexError(f"negative address or size: {address}, {size}")
            return inst.read(address, size)


class _Instance:
    """One wasm instance in its own store, with the state the call path binds."""

    def __init__(self, library: Library, generation: int) -> None:
        self.library, self.generation = library, generation
        self.lock = library._lock
        self.store = store = wt.Store(library.engine)
        self.host_error: BaseException | None = None
        self.thrown: object = None  # payload of the last __wbindgen_rethrow
        self.trap = ctypes.c_void_p()
        self.trap_ref = ctypes.c_void_p(ctypes.addressof(self.trap))
        self._keep: list[Any] = []
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
        start = self.exports.get("__wbindgen_start")
        if isinstance(start, wt.Func):
            try:
                start(store)
            except Exception as exc:
                cause, self.host_error = self.host_error or exc, None
                rawcall.forget_host_exception()
                reason = str(cause) if cause is not exc else _reason(str(exc))
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

    def _malloc_fn(self) -> Callable[[int], int]:
        fn, buf, n, _, u32, *_ = self.export_slots("__wbindgen_malloc", 2)
        call, ctx, tp, trap, fail = self.raw_env()

        def malloc(size: int) -> int:
            u32[0], u32[4] = size, 1
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

    def take_error(self, index: int) -> BaseException:
        """The error value of a `Result` export, taken out of the externref table."""
        table = self.exports["__wbindgen_externrefs"]
        assert isinstance(table, wt.Table)
        value = table.get(self.store, index)
        if isinstance(value, wt.Val):  # how wasmtime-py returns a null reference
            value = value.value
        if self._dealloc is not None:
            self._dealloc(index)
        return _as_exception(value)

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
                raise _as_exception(thrown)
            message = "an uncaught wasm exception that is not a JS error"
        self.library._abort(self, message, host_error or trap)

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
        which = lib.intrinsics.get(name)
        if which == "__wbindgen_rethrow":
            return self._helper().exports(self.store)["rethrow"]
        if which == "__wbindgen_throw" and lib.unwinds:
            return self._helper().exports(self.store)["throw_str"]
        impl = _HOST_IMPORTS.get(which or "") or _missing_import(f"{imp.module}.{name}")
        return self._host(ty, impl)

    def init_externref_table(self) -> None:
        table = self.exports["__wbindgen_externrefs"]
        assert isinstance(table, wt.Table)
        for index, constant in self.library.externref_init:
            table.set(self.store, index, _CONSTANTS[constant])

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
    def missing(_inst: _Instance, *_args: Any) -> NoReturn:
        raise NotImplementedError(f"import {qualified} is not implemented by the Python loader")

    return missing


def _note_thrown(inst: _Instance, payload: object) -> None:
    inst.thrown = payload


def _js_error(inst: _Instance, ptr: int, size: int) -> JsError:
    return JsError(inst.string(ptr, size))


def _throw_fatal(inst: _Instance, ptr: int, size: int) -> NoReturn:
    """`__wbindgen_throw` in a module without unwinding: an error that aborts."""
    raise JsError(inst.string(ptr, size))


def _rethrow_critical(_inst: _Instance, cause: object) -> NoReturn:
    raise _as_exception(cause)


_HOST_IMPORTS: dict[str, Callable[..., Any]] = {
    "__wbindgen_throw": _throw_fatal,
    "__wbindgen_panic_error": lambda _inst, msg: PanicError(str(msg)),
    "__wbindgen_rethrow_critical": _rethrow_critical,
    "__wbindgen_init_externref_table": lambda inst: inst.init_externref_table(),
    "__wbindgen_reinit": lambda inst: inst.library._schedule_reset(),
    "Error": _js_error,
    "cast:string": lambda inst, ptr, size: inst.string(ptr, size),
}


class Library:
    """A wasm-bindgen module loaded with wasmtime, as described by a loader spec."""

    def __init__(self, wasm_path: Path, spec: dict[str, Any]) -> None:
        rawcall.check()
        if spec.get("format") != SPEC_FORMAT:
            raise WasmError(
                f"loader spec format {spec.get('format')!r} is not {SPEC_FORMAT}: "
                "rebuild with the installed worker-build"
            )
        config = wt.Config()
        config.wasm_exceptions = True
        config.memory_may_move = False  # `base` is cached per instance
        self.engine = wt.Engine(config)
        self.module = wt.Module.from_file(self.engine, str(wasm_path))
        self.helper = wt.Module(self.engine, _HELPER_WAT)
        casts: dict[str, str] = dict(spec.get("casts", {}))
        self.externref_init = [(int(i), str(c)) for i, c in spec.get("externref_init", [])]
        self.intrinsics: dict[str, str] = {}
        self.unknown_imports: list[str] = []
        self.unwinds = False
        for imp in self.module.imports:
            name = imp.name or ""
            if name == "__wbindgen_wrapped_jstag":
                self.unwinds = True
            which = intrinsic_name(name, casts)
            expected = _INTRINSIC_TYPES.get(which)
            ty = imp.type
            if isinstance(ty, wt.FuncType) and expected is not None and _same(ty, expected):
                self.intrinsics[name] = which
            elif not isinstance(ty, wt.TagType):
                self.unknown_imports.append(f"{imp.module}.{name}")
        if self.unknown_imports:
            warnings.warn(
                f"{wasm_path.name}: {len(self.unknown_imports)} import(s) not implemented by the "
                f"Python loader (calling them aborts the instance): "
                + ", ".join(self.unknown_imports),
                LoaderWarning,
                stacklevel=3,
            )
        self.functions = [FunctionSpec.from_dict(f) for f in spec.get("functions", [])]
        self._check_signatures()
        self._makers = {f.name: compile_function(f) for f in self.functions}
        self._lock = threading.RLock()
        self._handlers: list[Callable[[], object]] = []
        self.generation = 0
        self._current: _Instance | None = None
        self._pending_reset = False
        self.impl = SimpleNamespace()
        self._install(self._new_instance())

    def _check_signatures(self) -> None:
        types = {e.name: e.type for e in self.module.exports}
        for f in self.functions:
            ty = types.get(f.export)
            actual = (
                (tuple(map(_valtype, ty.params)), tuple(map(_valtype, ty.results)))
                if isinstance(ty, wt.FuncType)
                else None
            )
            if actual != (f.wasm_params, f.wasm_results):
                raise WasmError(
                    f"export {f.export} has wasm type {actual}, the loader expected "
                    f"{(f.wasm_params, f.wasm_results)}: the loader does not match this module"
                )

    # ------------------------------------------------------------ lifecycle

    def _new_instance(self) -> _Instance:
        self.generation += 1
        return _Instance(self, self.generation)

    def _install(self, inst: _Instance) -> None:
        self._current = inst
        self._pending_reset = False
        for name, make in self._makers.items():
            setattr(self.impl, name, make(inst))

    def reset(self) -> None:
        """Replace the instance with a fresh one (like the glue's `__wbg_reset_state`)."""
        with self._lock:
            self._current = None
            self._install(self._new_instance())

    def _schedule_reset(self) -> None:
        """`schedule_reinit()` from Rust: the next call starts on a fresh instance."""
        self._pending_reset = True
        for name in self._makers:
            setattr(self.impl, name, self._reset_first(name))

    def _reset_first(self, name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            with self._lock:
                if self._pending_reset:
                    self.reset()
            return getattr(self.impl, name)(*args)

        return call

    def _abort(self, inst: _Instance, message: str, cause: BaseException | None) -> NoReturn:
        inst.run_abort_hook()
        reason = _reason(message) if message else repr(cause)
        if isinstance(cause, NotImplementedError):
            reason = str(cause)
        try:
            self.reset()
        except BaseException as exc:
            self._schedule_reset()
            raise AbortError(
                f"wasm instance aborted ({reason}); creating a fresh one failed"
            ) from exc
        for handler in list(self._handlers):
            try:
                handler()
            except Exception as exc:
                warnings.warn(
                    f"on_abort handler {handler!r} raised {exc!r}", LoaderWarning, stacklevel=2
                )
        raise AbortError(
            f"wasm instance aborted ({reason}); it was replaced by a fresh instance"
        ) from cause

    # ------------------------------------------------------------ public helpers

    def on_abort(self, callback: Callable[[], object]) -> Callable[[], object]:
        """Run `callback()` after each hard abort, once the fresh instance is in place."""
        with self._lock:
            self._handlers.append(callback)
        return callback

    def instance(self) -> InstanceHandle:
        with self._lock:
            if self._pending_reset or self._current is None:
                self.reset()
            assert self._current is not None
            return InstanceHandle(self, self._current)


def _valtype(t: wt.ValType) -> str:
    for name in ("i32", "i64", "f32", "f64", "externref", "funcref"):
        if t == getattr(wt.ValType, name)():
            return name
    return str(t)


def _same(ty: wt.FuncType, expected: tuple[list[wt.ValType], list[wt.ValType]]) -> bool:
    params, results = expected
    return list(ty.params) == params and list(ty.results) == results


def load(wasm_path: str | Path, spec: dict[str, Any]) -> Library:
    return Library(Path(wasm_path), spec)
