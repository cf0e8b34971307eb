"""The undocumented parts of wasmtime-py the loader relies on, in one place.

`Func.__call__` costs about 35 µs a call (type introspection and value
conversion on every call); the C API's `wasmtime_func_call_unchecked`, reached
through the package's own ctypes library, costs about 1-2 µs. The loader calls
it with a per-export buffer of 16-byte `wasmtime_val_raw_t` slots that holds the
arguments in and the results out. It also takes uncaught wasm exceptions off
the store (`wasmtime_context_take_exception`) to read a Rust panic's payload.

None of this is wasmtime-py's documented API, so pyproject pins the exact
version and `check()` refuses any other (tests/test_loader_rawcall.py fails if
the entry points or layouts change).
"""

from __future__ import annotations

import ctypes
import importlib.metadata
from typing import Any

import wasmtime
from wasmtime import _bindings as bindings
from wasmtime import _ffi as ffi

PINNED_VERSION = "50.0.1"
RAW_SLOT_SIZE = 16  # sizeof(wasmtime_val_raw_t)


class RawCallUnavailable(RuntimeError):
    """The installed wasmtime does not have the layout the loader was written for."""


def installed_version() -> str:
    return importlib.metadata.version("wasmtime")


def check() -> None:
    """Raise RawCallUnavailable unless wasmtime is the pinned version with the
    entry points and struct layouts the loader uses."""
    version = installed_version()
    if version != PINNED_VERSION:
        raise RawCallUnavailable(
            f"the worker-build loader needs wasmtime=={PINNED_VERSION} (found {version}): "
            "it calls wasmtime's raw C entry points; "
            f"run `pip install wasmtime=={PINNED_VERSION}`"
        )
    problems = []
    for name in (
        "wasmtime_func_call_unchecked",
        "wasmtime_context_take_exception",
        "wasmtime_exnref_tag",
        "wasmtime_exnref_field",
        "wasmtime_exnref_unroot",
        "wasmtime_tag_eq",
    ):
        if not hasattr(bindings, name):
            problems.append(f"missing {name}")
    if ctypes.sizeof(bindings.wasmtime_val_raw_t) != RAW_SLOT_SIZE:
        problems.append("wasmtime_val_raw_t is not 16 bytes")
    if ctypes.sizeof(bindings.wasmtime_func_t) != 16:
        problems.append("wasmtime_func_t is not 16 bytes")
    if problems:
        raise RawCallUnavailable(
            f"wasmtime {version} does not match the loader's expectations: {', '.join(problems)}"
        )


def _raw_entry(name: str) -> Any:
    """A fresh handle on an exported C function, without argtypes: callers pass
    prepared ctypes objects, which skips per-call argument conversion. Loaded
    through PyDLL so the GIL stays held while wasm runs (no other thread can
    enter the store meanwhile; host callbacks re-enter Python on this thread)."""
    library = ctypes.PyDLL(ffi.dll._name)
    func = library[name]
    func.restype = ctypes.c_void_p
    return func


CALL_UNCHECKED = _raw_entry("wasmtime_func_call_unchecked")


def context_address(store: wasmtime.Store) -> int:
    address = ctypes.cast(store._context(), ctypes.c_void_p).value
    assert address is not None
    return address


def func_address(func: wasmtime.Func) -> int:
    """Address of the `wasmtime_func_t` inside a Func (keep the Func alive)."""
    return ctypes.addressof(func._func)


def memory_base(store: wasmtime.Store, memory: wasmtime.Memory) -> int:
    return ctypes.addressof(memory.data_ptr(store).contents)


def take_exception(store: wasmtime.Store) -> tuple[Any, Any] | None:
    """(exnref, tag) of the exception that left the last call, or None. The
    caller must pass the exnref to `release_exception`."""
    ctx = store._context()
    exn = bindings.wasmtime_exnref_t()
    if not bindings.wasmtime_context_take_exception(ctx, ctypes.byref(exn)):
        return None
    tag = bindings.wasmtime_tag_t()
    error = bindings.wasmtime_exnref_tag(ctx, ctypes.byref(exn), ctypes.byref(tag))
    if error:
        bindings.wasmtime_error_delete(error)
        return exn, None
    return exn, tag


def tag_is(store: wasmtime.Store, tag: Any, other: wasmtime.Tag) -> bool:
    if tag is None:
        return False
    return bool(
        bindings.wasmtime_tag_eq(store._context(), ctypes.byref(tag), ctypes.byref(other._tag))
    )


def exception_payload(store: wasmtime.Store, exn: Any) -> Any:
    """Field 0 of an exception whose tag carries one externref, as the Python object."""
    value = bindings.wasmtime_val_t()
    error = bindings.wasmtime_exnref_field(
        store._context(), ctypes.byref(exn), 0, ctypes.byref(value)
    )
    if error:
        bindings.wasmtime_error_delete(error)
        return None
    return wasmtime.Val._from_raw(store, value).value


def release_exception(exn: Any) -> None:
    bindings.wasmtime_exnref_unroot(ctypes.byref(exn))


def trap_message(
    trap_address: int | None, error_address: int | None
) -> tuple[str, Exception | None]:
    """Message and exception object of a failed raw call (frees the C objects)."""
    if trap_address:
        trap = wasmtime.Trap._from_ptr(
            ctypes.cast(trap_address, ctypes.POINTER(bindings.wasm_trap_t))
        )
        return trap.message, trap
    if error_address:
        err = wasmtime.WasmtimeError._from_ptr(
            ctypes.cast(error_address, ctypes.POINTER(bindings.wasmtime_error_t))
        )
        return str(err), err
    return "", None


def forget_host_exception() -> None:
    """wasmtime-py keeps the last exception a host function raised, to re-raise it
    from its own Func.__call__; the raw path reports it itself, so drop it."""
    from wasmtime import _func

    if hasattr(_func, "LAST_EXCEPTION"):
        _func.LAST_EXCEPTION = None
