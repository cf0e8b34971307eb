"""The undocumented parts of wasmtime-py the loader relies on, in one place.

`Func.__call__` costs about 35 µs a call (type introspection and value
conversion on every call); the C API's `wasmtime_func_call_unchecked`, reached
through the package's own ctypes library, costs about 1-2 µs. The loader calls
it with a per-export buffer of 16-byte `wasmtime_val_raw_t` slots that holds the
arguments in and the results out; a failed call leaves a `wasm_trap_t` or a
`wasmtime_error_t` pointer, wrapped here into wasmtime-py's own objects.

None of this is wasmtime-py's documented API, so pyproject pins the exact
version and `check()` refuses any other (tests/loader/test_rawcall.py fails if
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
        "wasmtime_context_has_exception",
        "wasm_trap_t",
        "wasmtime_error_t",
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


def is_uncaught_exception(store: wasmtime.Store, trap: Exception | None) -> bool:
    """Whether a failed call ended with a wasm exception nothing caught: a trap
    without a trap code while the store holds a pending exception.

    The exception is left pending on purpose: taking it off the store
    (`wasmtime_context_take_exception` + `wasmtime_exnref_unroot`) leaks its
    payload in wasmtime 50, while a pending one is freed when the next is thrown.
    """
    if not isinstance(trap, wasmtime.Trap) or trap.trap_code is not None:
        return False
    return bool(bindings.wasmtime_context_has_exception(store._context()))


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
