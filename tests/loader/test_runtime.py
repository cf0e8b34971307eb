"""The loader runtime (wasmtime host) on a hand-written module that follows
wasm-bindgen's conventions: same import names (with hash suffixes), tags,
allocator and externref table exports, and an export wrapper that restores the
stack pointer on any exception before rethrowing it, as wasm-bindgen's does.
No external tools: wasmtime compiles the text format in-process.
"""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from wasmtime import _func as wasmtime_func
from wasmtime import _value as wasmtime_value

from worker_build.loader import runtime as rt

M = '"./index_bg.js"'
WAT = f"""(module
  (type $ext_to_ext (func (param externref) (result externref)))
  (import {M} "__wbg___wbindgen_rethrow_d953c34c2e20677f" (func $rethrow (param externref)))
  (import {M} "__wbg___wbindgen_panic_error_0057a448c5707437"
    (func $panic_error (type $ext_to_ext)))
  (import {M} "__wbg_Error_208446807d0d1e30" (func $error (param i32 i32) (result externref)))
  (import {M} "__wbindgen_generic_0000000000000001" (func $cast (param i32 i32) (result externref)))
  (import {M} "__wbindgen_init_externref_table" (func $init_table))
  (import {M} "__wbg___wbindgen_reinit_0123456789abcdef" (func $reinit))
  (import {M} "__wbg_mystery_fedcba9876543210" (func $mystery (param i32) (result i32)))
  (import {M} "__wbg___wbindgen_throw_4c88d8bf264fd984" (func $throw (param i32 i32)))
  (import {M} "__wbindgen_jstag" (tag $jstag (param externref)))
  (import {M} "__wbindgen_wrapped_jstag" (tag $wrapped (param externref)))
  (memory (export "memory") 1)
  (table $refs (export "__wbindgen_externrefs") 1100 externref)
  (global $sp (export "sp") (mut i32) (i32.const 60000))
  (global $heap (mut i32) (i32.const 1024))
  (global $count (mut i32) (i32.const 0))
  (global $frees (export "frees") (mut i32) (i32.const 0))
  (func (export "__wbindgen_start") (call $init_table))
  (func $alloc (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const 8))))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.shr_u (local.get $size) (i32.const 16))
                                        (i32.const 1))))))
    (local.get $p))
  (func (export "__wbindgen_malloc") (param $size i32) (param $align i32) (result i32)
    (if (i32.eq (local.get $size) (i32.const 12345)) (then (return (i32.const 0x7ffffff0))))
    (call $alloc (local.get $size)))
  (func (export "__wbindgen_free") (param i32 i32 i32)
    (global.set $frees (i32.add (global.get $frees) (i32.const 1))))
  (func (export "__externref_table_dealloc") (param $i i32)
    (table.set $refs (local.get $i) (ref.null extern)))
  (func (export "counter") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func (export "echo") (param $p i32) (param $n i32) (result i32 i32)
    (local $q i32)
    (local.set $q (call $alloc (local.get $n)))
    (memory.copy (local.get $q) (local.get $p) (local.get $n))
    (local.get $q) (local.get $n))
  ;; a Rust panic as wasm-bindgen delivers it: the message becomes a JS string,
  ;; then a PanicError, rethrown with the wrapped tag; the export's wrapper
  ;; restores the stack pointer before the exception leaves
  (func (export "panic") (param $p i32) (param $n i32)
    (global.set $sp (i32.sub (global.get $sp) (i32.const 64)))
    (block $handler (result exnref)
      (try_table (catch_all_ref $handler)
        (call $rethrow (call $panic_error (call $cast (local.get $p) (local.get $n)))))
      (global.set $sp (i32.add (global.get $sp) (i32.const 64)))
      (return))
    (global.set $sp (i32.const 60000))
    (throw_ref))
  (func (export "fail") (param $p i32) (param $n i32) (result i32 i32 i32)
    (table.set $refs (i32.const 1050) (call $error (local.get $p) (local.get $n)))
    (i32.const 0) (i32.const 1050) (i32.const 1))
  (func (export "trap") (unreachable))
  (func (export "throw_str") (param i32 i32) (call $throw (local.get 0) (local.get 1)) (unreachable))
  (func (export "call_mystery") (result i32) (call $mystery (i32.const 1)))
  (func (export "schedule_reinit") (call $reinit))
)"""

SPEC: dict[str, Any] = {
    "format": 1,
    "functions": [
        {"name": "counter", "export": "counter", "params": [], "ret": "int32", "result": False},
        {"name": "echo", "export": "echo", "params": [["s", "str"]], "ret": "str", "result": False},
        {"name": "panic", "export": "panic", "params": [["m", "str"]], "ret": "none",
         "result": False},
        {"name": "fail", "export": "fail", "params": [["m", "str"]], "ret": "int32",
         "result": True},
        {"name": "trap", "export": "trap", "params": [], "ret": "none", "result": False},
        {"name": "throw_str", "export": "throw_str", "params": [["m", "str"]], "ret": "none",
         "result": False},
        {"name": "call_mystery", "export": "call_mystery", "params": [], "ret": "int32",
         "result": False},
        {"name": "schedule_reinit", "export": "schedule_reinit", "params": [], "ret": "none",
         "result": False},
    ],
    "casts": {"__wbindgen_generic_0000000000000001": "string"},
    "externref_init": [[0, "undefined"], [1024, "undefined"], [1025, "null"]],
}  # fmt: skip


@pytest.fixture
def wasm(tmp_path: Path) -> Path:
    path = tmp_path / "fake.wat"
    path.write_text(WAT)
    return path


def load(path: Path, spec: dict[str, Any] | None = None) -> rt.Library:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rt.LoaderWarning)
        return rt.load(path, spec or SPEC)


def global_value(lib: rt.Library, name: str) -> int:
    inst = lib._current
    assert inst is not None
    return int(inst.exports[name].value(inst.store))


def test_calls_and_state(wasm: Path) -> None:
    lib = load(wasm)
    assert [lib.impl.counter() for _ in range(3)] == [1, 2, 3]
    assert lib.impl.echo("grüße") == "grüße"
    assert global_value(lib, "frees") == 1  # the returned buffer was freed


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


def test_unknown_import_is_listed_with_a_warning(wasm: Path) -> None:
    with pytest.warns(rt.LoaderWarning, match="__wbg_mystery_fedcba9876543210"):
        lib = rt.load(wasm, SPEC)
    assert lib.unknown_imports == ["./index_bg.js.__wbg_mystery_fedcba9876543210"]


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


def test_abort_resets_runs_handlers_once_and_refuses_stale_objects(wasm: Path) -> None:
    lib = load(wasm)
    seen: list[int] = []
    lib.on_abort(lambda: seen.append(lib.impl.counter()))  # handlers may use the fresh instance
    handle = lib.instance()
    assert handle.memory_size == 65536
    lib.impl.counter()
    with pytest.raises(rt.AbortError, match="unreachable") as info:
        lib.impl.trap()
    assert info.value.__cause__ is not None
    assert seen == [1]
    assert lib.impl.counter() == 2
    assert not handle.alive
    with pytest.raises(rt.StaleInstanceError, match="instance #1, which was replaced by #2"):
        handle.memory_size  # noqa: B018
    assert lib.instance().alive


def test_failing_handler_warns_but_abort_still_raises(wasm: Path) -> None:
    lib = load(wasm)

    def bad() -> None:
        raise RuntimeError("handler bug")

    lib.on_abort(bad)
    with pytest.warns(rt.LoaderWarning, match="handler bug"), pytest.raises(rt.AbortError):
        lib.impl.trap()
    assert lib.impl.counter() == 1


def test_calling_an_unknown_import_aborts_with_its_name(wasm: Path) -> None:
    lib = load(wasm)
    lib.impl.counter()
    with pytest.raises(rt.AbortError, match="__wbg_mystery_fedcba9876543210 is not implemented"):
        lib.impl.call_mystery()
    assert lib.impl.counter() == 1


def test_schedule_reinit_resets_before_the_next_call(wasm: Path) -> None:
    lib = load(wasm)
    lib.impl.counter()
    lib.impl.schedule_reinit()
    assert lib.impl.counter() == 1
    assert lib.impl.counter() == 2


def test_manual_reset(wasm: Path) -> None:
    lib = load(wasm)
    lib.impl.counter()
    lib.reset()
    assert lib.impl.counter() == 1 and lib.generation == 2


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


def test_resets_release_the_old_stores(wasm: Path) -> None:
    lib = load(wasm)
    for _ in range(3):
        with pytest.raises(rt.AbortError):
            lib.impl.trap()
    gc.collect()
    before = len(wasmtime_func.FUNCTIONS.handles)
    for _ in range(50):
        with pytest.raises(rt.AbortError):
            lib.impl.trap()
        with pytest.raises(rt.PanicError):
            lib.impl.panic("p")
    gc.collect()
    assert len(wasmtime_func.FUNCTIONS.handles) <= before


def test_threads_share_one_instance_safely(wasm: Path) -> None:
    lib = load(wasm)

    def work() -> None:
        for _ in range(2000):
            lib.impl.counter()
            lib.impl.echo("x")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert lib.impl.counter() == 8001


def test_spec_that_does_not_match_the_module_is_refused(wasm: Path) -> None:
    spec = {**SPEC, "functions": [{"name": "counter", "export": "counter",
                                   "params": [["x", "int32"]], "ret": "int32", "result": False}]}  # fmt: skip
    with pytest.raises(rt.WasmError, match="export counter has wasm type"):
        load(wasm, spec)


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


def test_spec_format_is_checked(wasm: Path) -> None:
    with pytest.raises(rt.WasmError, match="spec format 99"):
        load(wasm, {**SPEC, "format": 99})


# ---------------------------------------------------------------- JS imports from Python

MYSTERY = {"import": "__wbg_mystery_fedcba9876543210", "name": "mystery", "params": ["int32"],
           "ret": "int32"}  # fmt: skip
WITH_IMPORT = {**SPEC, "format": 2, "imports": [MYSTERY]}


def test_provided_import_is_called_with_converted_values(wasm: Path) -> None:
    lib = load(wasm, WITH_IMPORT)
    assert lib.unknown_imports == []  # the import is the user's to provide
    seen: list[int] = []
    lib.provide(mystery=lambda n: seen.append(n) or n + 41)
    assert lib.impl.call_mystery() == 42 and seen == [1]
    lib.provide({"mystery": lambda n: 2**32 - 1})  # a u32 bit pattern for an i32 result
    assert lib.impl.call_mystery() == -1


def test_missing_or_failing_provider_aborts_like_a_js_exception(wasm: Path) -> None:
    lib = load(wasm, WITH_IMPORT)
    lib.impl.counter()
    with pytest.raises(rt.AbortError, match=r"provide\(mystery=\.\.\.\).*mystery\(int\) -> int"):
        lib.impl.call_mystery()
    assert lib.impl.counter() == 1  # a fresh instance

    def broken(n: int) -> int:
        raise LookupError("no such thing")

    lib.provide(mystery=broken)
    with pytest.raises(rt.AbortError) as info:
        lib.impl.call_mystery()
    assert isinstance(info.value.__cause__, LookupError)
    lib.provide(mystery=lambda n: 2**40)
    with pytest.raises(rt.AbortError, match="out of range"):
        lib.impl.call_mystery()


def test_provide_checks_names_and_callables(wasm: Path) -> None:
    lib = load(wasm, WITH_IMPORT)
    with pytest.raises(KeyError, match=r"no JS function 'nope'.*importable: mystery"):
        lib.provide(nope=print)
    with pytest.raises(TypeError, match=r"needs a callable mystery\(int\) -> int, not int"):
        lib.provide(mystery=5)  # type: ignore[arg-type]
    lib.provide(mystery=abs)
    lib.provide(mystery=None)
    assert lib.provided == {}


def test_imports_given_at_load_time_serve_the_start_function(tmp_path: Path) -> None:
    wat = WAT.replace(
        '(func (export "__wbindgen_start") (call $init_table))',
        '(func (export "__wbindgen_start") (call $init_table) (drop (call $mystery (i32.const 7))))',
    )
    path = tmp_path / "start.wat"
    path.write_text(wat)
    seen: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rt.load(path, WITH_IMPORT, imports={"mystery": lambda n: seen.append(n) or 0})
    assert seen == [7]


def test_unsupported_imports_are_listed_with_the_reason(wasm: Path) -> None:
    spec = {**SPEC, "format": 2, "unsupported_imports": [
        {"import": "__wbg_mystery_fedcba9876543210", "name": "mystery",
         "reason": "parameter 1 is a JS value (JsValue or an imported JS type)"}]}  # fmt: skip
    with pytest.warns(rt.LoaderWarning, match=r"1 import\(s\) .*: mystery$"):
        lib = rt.load(wasm, spec)
    assert lib.unknown_imports == [
        "mystery: parameter 1 is a JS value (JsValue or an imported JS type)"
    ]
