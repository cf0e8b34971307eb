"""Guards on the undocumented wasmtime-py internals the loader uses (rawcall.py).

These fail when wasmtime is upgraded and the raw-call entry point, its C
signature or the value layout changes: re-check rawcall.py, then the pin.
"""

from __future__ import annotations

import ctypes
import re

import pytest
import wasmtime as wt
from wasmtime import _bindings as bindings
from wasmtime import _value as wasmtime_value

from harness.paths import REPO
from worker_build.loader import rawcall

PYPROJECT = REPO / "pyproject.toml"


def test_pinned_version_is_installed_and_matches_pyproject() -> None:
    pin = re.search(r'"wasmtime==([^"]+)"', PYPROJECT.read_text())
    assert pin is not None, "pyproject.toml must pin wasmtime exactly"
    assert pin.group(1) == rawcall.PINNED_VERSION == rawcall.installed_version()
    rawcall.check()


def test_other_versions_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rawcall, "installed_version", lambda: "51.0.0")
    with pytest.raises(rawcall.RawCallUnavailable, match=r"needs wasmtime==50\.0\.1"):
        rawcall.check()


def test_call_unchecked_c_signature() -> None:
    func = bindings._wasmtime_func_call_unchecked
    assert func.argtypes == [
        ctypes.POINTER(bindings.wasmtime_context_t),
        ctypes.POINTER(bindings.wasmtime_func_t),
        ctypes.POINTER(bindings.wasmtime_val_raw_t),
        ctypes.c_size_t,
        ctypes.POINTER(ctypes.POINTER(bindings.wasm_trap_t)),
    ]
    assert func.restype == ctypes.POINTER(bindings.wasmtime_error_t)


def test_value_layouts() -> None:
    raw = bindings.wasmtime_val_raw_t
    assert ctypes.sizeof(raw) == rawcall.RAW_SLOT_SIZE == 16
    for field in ("i32", "i64", "f32", "f64"):
        assert getattr(raw, field).offset == 0
    func = bindings.wasmtime_func_t
    assert ctypes.sizeof(func) == 16 and [f[0] for f in func._fields_] == ["store_id", "__private"]


def _instance(wat: str, imports: list[object] | None = None) -> tuple[wt.Store, dict[str, object]]:
    config = wt.Config()
    config.wasm_exceptions = True
    engine = wt.Engine(config)
    store = wt.Store(engine)
    module = wt.Module(engine, wat)
    instance = wt.Instance(store, module, imports or [])
    return store, {e.name: instance.exports(store)[e.name] for e in module.exports}


def _raw_call(
    store: wt.Store, func: wt.Func, *args: int
) -> tuple[int | None, int | None, list[int]]:
    buf = (ctypes.c_uint8 * 32)()
    view = memoryview(buf).cast("B").cast("i")
    for i, a in enumerate(args):
        view[4 * i] = a
    trap = ctypes.c_void_p()
    err = rawcall.CALL_UNCHECKED(
        ctypes.c_void_p(rawcall.context_address(store)),
        ctypes.c_void_p(rawcall.func_address(func)),
        ctypes.c_void_p(ctypes.addressof(buf)),
        ctypes.c_size_t(2),
        ctypes.c_void_p(ctypes.addressof(trap)),
    )
    return err, trap.value, [view[0], view[4]]


def test_raw_call_returns_results_in_the_argument_buffer() -> None:
    store, ex = _instance(
        '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'
    )
    err, trap, out = _raw_call(store, ex["add"], 40, 2)  # type: ignore[arg-type]
    assert err is None and trap is None and out[0] == 42


def test_raw_call_reports_a_trap() -> None:
    store, ex = _instance('(module (func (export "f") (param i32 i32) unreachable))')
    err, trap, _ = _raw_call(store, ex["f"], 0, 0)  # type: ignore[arg-type]
    assert err is None and trap
    message, obj = rawcall.trap_message(trap, None)
    assert "unreachable" in message and isinstance(obj, wt.Trap)
    assert not rawcall.is_uncaught_exception(store, obj)


def test_uncaught_exception_is_recognised_and_payloads_do_not_pile_up() -> None:
    config = wt.Config()
    config.wasm_exceptions = True
    engine = wt.Engine(config)
    store = wt.Store(engine)
    ext = wt.ValType.externref()
    tag = wt.Tag(store, wt.TagType(wt.FuncType([ext], [])))
    make = wt.Func(store, wt.FuncType([], [ext]), lambda: object())
    module = wt.Module(
        engine,
        '(module (import "" "t" (tag $t (param externref)))'
        ' (import "" "m" (func $m (result externref)))'
        ' (func (export "f") (param i32 i32) (throw $t (call $m))))',
    )
    throw = wt.Instance(store, module, [tag, make]).exports(store)["f"]
    before = len(wasmtime_value.SLAB.handles)
    for _ in range(500):
        err, trap, _ = _raw_call(store, throw, 0, 0)  # type: ignore[arg-type]
        _, obj = rawcall.trap_message(trap, err)
        assert rawcall.is_uncaught_exception(store, obj)
    rawcall.forget_host_exception()
    store.gc()
    assert len(wasmtime_value.SLAB.handles) - before <= 2  # only the pending one is kept
