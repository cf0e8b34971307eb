"""Exceptions and JS constants of the Python loader (shared by its modules)."""

from __future__ import annotations

import copy


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


class FreedObjectError(WasmError, ValueError):
    """A Rust struct used after it was freed: by `free()`, by leaving its `with`
    block, or by being moved into Rust (a method taking `self`, a by-value argument)."""


class LoaderWarning(UserWarning):
    """Something in the module the Python loader cannot provide (e.g. an import)."""


class _Undefined:
    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()  # JS `undefined` in the externref table (None is JS `null`)
CONSTANTS = {"undefined": UNDEFINED, "null": None, "true": True, "false": False}


def trap_reason(message: str) -> str:
    """The informative line of a wasmtime trap message."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("wasm trap:"):
            return line
    return lines[-1] if lines else "trap"


def as_exception(payload: object) -> BaseException:
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
