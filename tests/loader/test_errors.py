"""The Python loader's exceptions and JS constants (loader/errors.py): what users catch,
how a wasmtime trap message is shortened, and how an error value that crossed wasm
becomes a fresh exception."""

from __future__ import annotations

import pytest

from worker_build.loader import errors, runtime
from worker_build.loader.errors import (
    CONSTANTS,
    UNDEFINED,
    AbortError,
    FreedObjectError,
    JsError,
    LoaderWarning,
    PanicError,
    StaleInstanceError,
    WasmError,
    as_exception,
    trap_reason,
)

RAISED = (PanicError, AbortError, JsError, StaleInstanceError, FreedObjectError)


def test_every_error_a_loader_raises_is_a_wasm_error() -> None:
    """`except WasmError` catches all of them; none is caught by `except WasmError` by
    accident of being something else (a warning, a plain Exception)."""
    for cls in RAISED:
        assert issubclass(cls, WasmError) and issubclass(cls, Exception)
    assert not issubclass(LoaderWarning, WasmError) and issubclass(LoaderWarning, UserWarning)


def test_a_freed_object_is_also_a_value_error() -> None:
    """Python code that treats a closed object like a closed file (ValueError) works."""
    with pytest.raises(ValueError, match="freed"):
        raise FreedObjectError("Point was freed")


def test_generated_loaders_import_them_from_the_runtime() -> None:
    """Generated loaders and users import these names from loader/runtime.py: the same
    classes, so an `except` in user code catches what the instance raises."""
    for name in ("WasmError", "PanicError", "AbortError", "JsError", "StaleInstanceError",
                 "FreedObjectError", "LoaderWarning", "UNDEFINED"):  # fmt: skip
        assert name in runtime.__all__
        assert getattr(runtime, name) is getattr(errors, name)


def test_a_js_error_keeps_its_value() -> None:
    assert JsError("boom").value == "boom"  # no value: the message stands for it
    payload = {"code": 7}
    err = JsError("Error: code 7", payload)
    assert str(err) == "Error: code 7" and err.value is payload
    assert JsError("falsy", 0).value == 0  # only None means "no value"


def test_undefined_and_the_js_constants() -> None:
    assert repr(UNDEFINED) == "undefined"
    assert UNDEFINED is not None and UNDEFINED is CONSTANTS["undefined"]
    assert CONSTANTS == {"undefined": UNDEFINED, "null": None, "true": True, "false": False}


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            "error while executing at wasm backtrace:\n"
            "    0:  0x1a2b - my_worker.wasm!core::panicking::panic\n"
            "\n"
            "Caused by:\n"
            "    wasm trap: wasm `unreachable` instruction executed\n",
            "wasm trap: wasm `unreachable` instruction executed",
        ),
        ("  wasm trap: out of bounds memory access  ", "wasm trap: out of bounds memory access"),
        ("first line\nsecond line\n\n", "second line"),  # no trap line: the last line
        ("", "trap"),
        ("\n   \n", "trap"),
    ],
    ids=["wasmtime-trap", "stripped", "last-line", "empty", "blank"],
)
def test_trap_reason_is_the_informative_line(message: str, reason: str) -> None:
    assert trap_reason(message) == reason


def test_the_first_trap_line_wins() -> None:
    text = "wasm trap: call stack exhausted\nwasm trap: unreachable"
    assert trap_reason(text) == "wasm trap: call stack exhausted"


def raised_and_caught(exc: BaseException) -> BaseException:
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise exc from inner
    except BaseException as caught:
        assert caught.__traceback__ is not None and caught.__cause__ is not None
        return caught


def test_an_exception_payload_is_copied_without_its_frames() -> None:
    """A raised exception's traceback holds frames that reference the instance and its
    store; the copy holds none, so the store can be released."""
    original = raised_and_caught(ValueError("bad input", 42))
    fresh = as_exception(original)
    assert fresh is not original and type(fresh) is ValueError
    assert fresh.args == ("bad input", 42)
    assert fresh.__traceback__ is None and fresh.__cause__ is None and fresh.__context__ is None
    assert original.__traceback__ is not None  # the original is left as it was


def test_a_js_error_payload_stays_a_js_error_with_its_value() -> None:
    payload = {"name": "TypeError"}
    original = raised_and_caught(JsError("TypeError: x is undefined", payload))
    fresh = as_exception(original)
    assert type(fresh) is JsError and fresh is not original
    assert str(fresh) == "TypeError: x is undefined"
    assert fresh.value is payload
    assert fresh.__traceback__ is None and fresh.__cause__ is None


@pytest.mark.parametrize("payload", ["a thrown string", 42, UNDEFINED, {"k": 1}])
def test_any_other_thrown_value_becomes_a_js_error(payload: object) -> None:
    fresh = as_exception(payload)
    assert type(fresh) is JsError
    assert str(fresh) == str(payload) and fresh.value is payload
