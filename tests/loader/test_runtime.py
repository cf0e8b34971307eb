"""The loader runtime (runtime.py) on the hand-written module of tests/support/loaderwat.py:
loading and the checks of a spec, unknown imports, resets and the abort handlers, threads
sharing a library, and JS imports provided in Python. No external tools.
"""

from __future__ import annotations

import gc
import threading
import warnings
from pathlib import Path

import pytest
from wasmtime import _func as wasmtime_func

from tests.support.loaderwat import SPEC, WAT, global_value, load, write_module
from worker_build.loader import runtime as rt


@pytest.fixture
def wasm(tmp_path: Path) -> Path:
    return write_module(tmp_path)


def test_calls_and_state(wasm: Path) -> None:
    lib = load(wasm)
    assert [lib.impl.counter() for _ in range(3)] == [1, 2, 3]
    assert lib.impl.echo("grüße") == "grüße"
    assert global_value(lib, "frees") == 1  # the returned buffer was freed


def test_unknown_import_is_listed_with_a_warning(wasm: Path) -> None:
    with pytest.warns(rt.LoaderWarning, match="__wbg_mystery_fedcba9876543210"):
        lib = rt.load(wasm, SPEC)
    assert lib.unknown_imports == ["./index_bg.js.__wbg_mystery_fedcba9876543210"]


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
