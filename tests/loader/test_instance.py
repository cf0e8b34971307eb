"""One instance (instance.py), through the runtime, on the hand-written module of
tests/support/loaderwat.py: its memory and externref table, panics and JS errors thrown
from Rust, imports nobody implements, and a start function that fails. No external tools.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from wasmtime import _value as wasmtime_value

from tests.support.loaderwat import WAT, global_value, load, write_module
from worker_build.loader import runtime as rt


@pytest.fixture
def wasm(tmp_path: Path) -> Path:
    return write_module(tmp_path)


def test_memory_growth_and_large_strings(wasm: Path) -> None:
    lib = load(wasm)
    big = "é" * 300_000  # 600 kB: the allocator grows memory past its first page
    assert lib.impl.echo(big) == big
    assert lib.instance().memory_size > 1_000_000


def test_pointer_outside_memory_raises_instead_of_crashing(wasm: Path) -> None:
    lib = load(wasm)
    with pytest.raises(rt.WasmError, match="outside its"):
        lib.impl.echo("x" * 12345)  # this fake malloc answers a bogus pointer for that size
    assert lib.impl.echo("ok") == "ok"


def test_externref_table_is_initialised(wasm: Path) -> None:
    lib = load(wasm)
    inst = lib._current
    assert inst is not None
    table = inst.exports["__wbindgen_externrefs"]
    assert table.get(inst.store, 1024) is rt.UNDEFINED
    assert table.get(inst.store, 1025).value is None  # a null externref


def test_panic_raises_and_keeps_state(wasm: Path) -> None:
    lib = load(wasm)
    lib.impl.counter()
    with pytest.raises(rt.PanicError, match=r"^boom: 1$") as info:
        lib.impl.panic("boom: 1")
    assert info.value.__traceback__ is not None
    assert lib.impl.counter() == 2
    assert global_value(lib, "sp") == 60000  # the wrapper's handler ran


def test_result_error_raises_js_error_and_frees_the_slot(wasm: Path) -> None:
    lib = load(wasm)
    with pytest.raises(rt.JsError, match=r"^not a number$"):
        lib.impl.fail("not a number")
    inst = lib._current
    assert inst is not None
    assert inst.exports["__wbindgen_externrefs"].get(inst.store, 1050).value is None


def test_wbindgen_throw_raises_js_error_and_keeps_state(wasm: Path) -> None:
    # with unwinding, wasm-bindgen's throw_str is a recoverable JS Error
    lib = load(wasm)
    lib.impl.counter()
    with pytest.raises(rt.JsError, match=r"^thrown from Rust$"):
        lib.impl.throw_str("thrown from Rust")
    assert lib.impl.counter() == 2


def test_calling_an_unknown_import_aborts_with_its_name(wasm: Path) -> None:
    lib = load(wasm)
    lib.impl.counter()
    with pytest.raises(rt.AbortError, match="__wbg_mystery_fedcba9876543210 is not implemented"):
        lib.impl.call_mystery()
    assert lib.impl.counter() == 1


def test_panics_do_not_leak_payloads(wasm: Path) -> None:
    # regression: taking the exception off the store leaked every payload
    lib = load(wasm)
    gc.collect()
    before = len(wasmtime_value.SLAB.handles)
    for i in range(2000):
        with pytest.raises(rt.PanicError):
            lib.impl.panic(f"panic {i}")
    inst = lib._current
    assert inst is not None
    inst.store.gc()
    assert len(wasmtime_value.SLAB.handles) - before < 50


def test_start_function_needing_a_missing_import_fails_clearly(tmp_path: Path) -> None:
    # e.g. a Worker crate whose start function reads JS state through an import
    wat = WAT.replace(
        '(func (export "__wbindgen_start") (call $init_table))',
        '(func (export "__wbindgen_start") (drop (call $mystery (i32.const 0))))',
    )
    path = tmp_path / "start.wat"
    path.write_text(wat)
    with pytest.raises(rt.WasmError, match=r"start function \(__wbindgen_start\) failed.*mystery"):
        load(path)
