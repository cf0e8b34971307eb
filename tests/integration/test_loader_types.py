"""The Python loader on sample-crates/bindgen-types, built by the real worker-build
CLI (`--panic-unwind`, so legacy EH translated to exnref) and run on wasmtime.

One test (at least) per row of the README table "wasm-bindgen feature -> Python":
structs as classes, typed slices and Vecs, `Vec<String>`, `char`, enums, JS
imports implemented in Python, panics and aborts in methods, and what is not
supported. Missing tools fail, never skip.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from array import array
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.support.builds import Built
from worker_build.loader import runtime

pytestmark = pytest.mark.slow

HOST = {
    "host_add": lambda a, b: a + b,
    "host_greeting": lambda name: f"hello {name}",
    "host_scale": lambda values, k: [v * k for v in values],
    "host_flag": lambda on, c: ord(c) if on else None,
    "host_mix": lambda a, b, c, d: a + b + c + d,
    "host_sum": sum,
    "host_upper": str.upper,
}


def fresh(built: Built, **imports: Any) -> ModuleType:
    """A new copy of the generated loader (its own wasm instance)."""
    with pytest.warns(
        runtime.LoaderWarning, match=r"1 import\(s\) .*UNKNOWN_IMPORTS says why\): host_any$"
    ):
        return runtime.import_loader(built.out, imports={**HOST, **imports})


@pytest.fixture(scope="module")
def shared(types_unwind: Built) -> ModuleType:
    return fresh(types_unwind, host_log=lambda message: None)


@pytest.fixture
def m(shared: ModuleType) -> Iterator[ModuleType]:
    shared.reset()
    yield shared


# ---------------------------------------------------------------- the build


def test_summary_and_report_count_what_is_callable(types_unwind: Built) -> None:
    report = json.loads((types_unwind.out / "worker-build.json").read_text())
    loader = report["loader"]
    assert loader["files"] == ["loader.py", "loader_bg.wasm"]
    assert loader["classes"] == ["Counter", "Point", "Tracked"]
    assert loader["enums"] == ["Color", "Mode"]
    assert {"Point.__init__", "Point.length", "Point.x (setter)", "Counter.increment",
            "plus_one", "join", "next_color"} <= set(loader["functions"])  # fmt: skip
    assert sorted(u.split(":")[0] for u in loader["unsupported"]) == ["echo_value", "wide"]
    assert "host_add(int, int) -> int" in loader["imports"]
    assert [u.split(":")[0] for u in loader["unsupported_imports"]] == ["host_any"]


def test_import_loader_from_the_build_directory(types_unwind: Built) -> None:
    code = (
        "import loader; loader.provide(host_add=lambda a, b: a * b)\n"
        "p = loader.Point(3, 4); print(p.length(), loader.call_host_add(6, 7))\n"
        "print(loader.Color.Blue.name, loader.Mode('fast').name, sorted(loader.JS_IMPORTS)[:2])\n"
        "print(loader.UNKNOWN_IMPORTS[0].split(':')[0])"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "ignore::UserWarning", "-c", code],
        env={**os.environ, "PYTHONPATH": str(types_unwind.out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "5.0 420",
        "Blue FAST ['host_add', 'host_color']",
        "host_any",
    ]


# ---------------------------------------------------------------- structs


def test_constructor_methods_and_public_fields(m: ModuleType) -> None:
    p = m.Point(3.0, 4.0)
    assert isinstance(p, m.Point) and p.length() == 5.0
    assert (p.x, p.y) == (3.0, 4.0)
    p.translate(1, -1)  # &mut self
    assert (p.x, p.y) == (4.0, 3.0)
    p.x = 0.5  # a public Copy field
    assert p.x == 0.5
    with pytest.raises(TypeError, match=r"Point.x setter: argument 'value' must be float"):
        p.x = "far"


def test_static_methods_getters_setters_and_fields(m: ModuleType) -> None:
    assert m.Point.origin().length() == 0.0
    c = m.Counter.with_step("steps", 3)
    assert (c.name, c.count, c.step) == ("steps", 0, 3)
    assert c.increment() == 3 and c.increment() == 6
    c.step = 10
    c.name = "renamed"
    assert (c.name, c.step, c.increment()) == ("renamed", 10, 16)
    assert m.Counter("x").label == "counter x"  # getter_with_clone (a String field)
    c.label = "new label"
    assert c.label == "new label"
    assert c.color is m.Color.Red  # an enum field
    c.color = m.Color.Blue
    assert c.color is m.Color.Blue


def test_constructor_returning_an_error_raises_js_error(m: ModuleType) -> None:
    with pytest.raises(m.JsError, match=r"^a counter needs a name$"):
        m.Counter("")


def test_a_method_taking_self_moves_the_object(m: ModuleType) -> None:
    p = m.Point(1.0, 2.0)
    assert p.into_vec() == array("d", [1.0, 2.0])
    with pytest.raises(
        m.FreedObjectError, match=r"Point.length\(\): this Point was freed or moved"
    ):
        p.length()
    c = m.Counter("done")
    c.increment()
    assert c.finish() == "done=1"
    assert repr(c) == "<Counter (freed)>"


def test_structs_as_arguments_and_results(m: ModuleType) -> None:
    a, b = m.Point(0, 0), m.Point(2, 4)
    mid = m.midpoint(a, b)  # by reference: both stay usable
    assert (mid.x, mid.y) == (1.0, 2.0) and a.length() == 0.0
    assert (a.plus(b).x, b.plus(b).y) == (2.0, 8.0)
    m.scale_point(b, 0.5)  # &mut Point
    assert (b.x, b.y) == (1.0, 2.0)
    assert m.consume_point(b) == 3.0  # by value: moved into Rust
    with pytest.raises(m.FreedObjectError):
        b.length()
    assert m.maybe_point(-1) is None and m.maybe_point(2).y == 2.0  # Option<Point> result
    assert m.point_or_origin(None).length() == 0.0  # Option<Point> argument
    given = m.Point(6, 8)
    assert m.point_or_origin(given).length() == 10.0
    assert given._wb_ptr == 0  # moved
    with pytest.raises(TypeError, match=r"midpoint\(\) argument 'b' must be Point, not Counter"):
        m.midpoint(a, m.Counter("c"))


def test_vecs_of_structs(m: ModuleType) -> None:
    points = m.points(3)  # Vec<Point> result
    assert [type(p) for p in points] == [m.Point] * 3 and [p.x for p in points] == [0, 1, 2]
    assert m.total_x(points) == 3.0  # Vec<Point> argument: each one moved into Rust
    assert all(p._wb_ptr == 0 for p in points)
    with pytest.raises(TypeError, match=r"total_x\(\) argument 'points'\[1\] must be Point"):
        m.total_x([m.Point(1, 1), 2])


def test_free_context_manager_and_finalizer_free_exactly_once(m: ModuleType) -> None:
    start = m.drops()
    t = m.Tracked(1)
    t.free()
    t.free()
    assert m.drops() == start + 1
    with pytest.raises(m.FreedObjectError):
        t.id  # noqa: B018
    with m.Tracked(2) as t2:
        assert t2.id == 2
    assert m.drops() == start + 2
    t3 = m.Tracked(3)
    del t3
    gc.collect()
    assert m.drops() == start + 3  # queued by the finalizer, freed by the next call
    with m.Tracked(4) as t4:
        t4.free()
    assert m.drops() == start + 4


def test_dropped_objects_do_not_leak(m: ModuleType) -> None:
    for _ in range(2000):  # warm-up: the allocator settles
        m.Point(1, 1)
    size = m.instance().memory_size
    for i in range(20_000):
        m.Point(i, i).length()
    assert m.instance().memory_size == size


def test_objects_of_another_loaded_copy_are_refused(m: ModuleType, types_unwind: Built) -> None:
    other = fresh(types_unwind)
    with pytest.raises(TypeError, match="belongs to another loaded module"):
        m.midpoint(m.Point(0, 0), other.Point(1, 1))


def test_a_panicking_method_raises_and_the_object_stays_usable(m: ModuleType) -> None:
    c = m.Counter("p")
    c.step = 5
    assert c.increment_below(100) == 5
    with pytest.raises(m.PanicError, match=r"^counter p would reach 10$"):
        c.increment_below(10)
    assert c.count == 5 and c.increment() == 10


def test_an_aborting_method_resets_and_its_objects_go_stale(types_unwind: Built) -> None:
    m = fresh(types_unwind)
    resets: list[int] = []
    m.on_abort(lambda: resets.append(1))
    c, p = m.Counter("a"), m.Point(1, 1)
    assert m.calls() == 1
    with pytest.raises(m.AbortError, match="unreachable"):
        c.abort()
    assert resets == [1] and m.calls() == 1  # a fresh instance
    for stale in (lambda: c.increment(), lambda: p.length(), lambda: m.midpoint(p, p)):
        with pytest.raises(m.StaleInstanceError, match="replaced by #2 after an abort"):
            stale()
    p.free()  # nothing left to free: not an error
    assert m.Point(3, 4).length() == 5.0


# ---------------------------------------------------------------- enums and char


def test_c_style_enums_are_int_enums(m: ModuleType) -> None:
    assert [(c.name, c.value) for c in m.Color] == [("Red", 1), ("Green", 2), ("Blue", 4)]
    assert m.next_color(m.Color.Blue) is m.Color.Red
    assert m.next_color(2) is m.Color.Blue
    assert m.color_from(0) is None and m.color_from(4) is m.Color.Blue  # Option<Enum> result
    assert m.color_or_red(None) is m.Color.Red and m.color_or_red(m.Color.Green) is m.Color.Green
    with pytest.raises(ValueError, match=r"must be a Color \(Red=1, Green=2, Blue=4\), not 3"):
        m.next_color(3)


def test_string_enums_are_str_enums(m: ModuleType) -> None:
    assert [(e.name, e.value) for e in m.Mode] == [("FAST", "fast"), ("CAREFUL", "careful")]
    assert m.mode_delay("fast") == 1 and m.mode_delay(m.Mode.CAREFUL) == 100
    assert m.mode_for(50) is m.Mode.CAREFUL and m.mode_for(1) == "fast"
    assert m.other_mode(None) is None and m.other_mode("fast") is m.Mode.CAREFUL
    with pytest.raises(ValueError, match=r"must be a Mode \(one of 'fast', 'careful'\)"):
        m.mode_delay("slow")


def test_char(m: ModuleType) -> None:
    assert m.next_char("a") == "b" and m.next_char("😀") == "😁"
    with pytest.raises(ValueError, match="exactly one character"):
        m.next_char("ab")


# ---------------------------------------------------------------- slices and Vecs

NUMBERS: dict[str, tuple[str, list[Any]]] = {
    "i8": ("b", [-128, 5, 127]),
    "i16": ("h", [-32768, 7, 32767]),
    "u16": ("H", [0, 65535]),
    "i32": ("i", [-(2**31), 2**31 - 1]),
    "u32": ("I", [0, 2**32 - 1]),
    "i64": ("q", [-(2**63), 2**63 - 1]),
    "u64": ("Q", [0, 2**64 - 1]),
    "f32": ("f", [0.5, -1.25]),
    "f64": ("d", [0.1, -1e300]),
}


@pytest.mark.parametrize("element", sorted(NUMBERS))
def test_typed_slices_and_vecs_of_every_numeric_type(m: ModuleType, element: str) -> None:
    code, values = NUMBERS[element]
    reversed_ = getattr(m, f"reversed_{element}")
    for given in (values, array(code, values), memoryview(array(code, values))):
        got = reversed_(given)
        assert type(got) is array and got.typecode == code and got.tolist() == values[::-1]
    # a Vec<T> argument (Rust sums the elements as f64)
    assert getattr(m, f"sum_{element}")(values) == sum(float(v) for v in values)


def test_bytes_stay_bytes(m: ModuleType) -> None:
    assert m.reversed_u8(b"abc") == b"cba" and type(m.reversed_u8(bytearray(b"xy"))) is bytes
    assert m.sum_u8(b"\x01\x02") == 3.0


@pytest.mark.parametrize("element", sorted([*NUMBERS, "u8"]))
def test_mutable_slices_are_updated_in_place(m: ModuleType, element: str) -> None:
    code, values = NUMBERS.get(element, ("B", [1, 100]))
    small = [v // 4 if isinstance(v, int) else v for v in values]
    target: Any = bytearray(small) if element == "u8" else array(code, small)
    getattr(m, f"double_{element}")(target)
    assert list(target) == [v + v for v in small]
    with pytest.raises(TypeError, match="must be writable"):
        getattr(m, f"double_{element}")(memoryview(bytes(memoryview(target).cast("B"))))


def test_vec_f64_round_trip_and_optional_vec(m: ModuleType) -> None:
    assert m.plus_one([1.0, 2.5]).tolist() == [2.0, 3.5]
    assert m.halves(3).tolist() == [0.5, 1.5, 2.5]
    big = array("d", range(100_000))
    assert m.plus_one(big)[-1] == 100_000.0
    assert m.maybe_total(None) is None and m.maybe_total([1, 2, 3]).tolist() == [6]


def test_vec_string(m: ModuleType) -> None:
    assert m.words("one  two three") == ["one", "two", "three"]
    assert m.words("") == []
    assert m.join(["a", "ünï", "😀"], "/") == "a/ünï/😀"
    assert m.join((s for s in "xyz"), "") == "xyz"
    for _ in range(3000):  # the externref table slots are given back
        assert m.join(["p", "q"], "-") == "p-q"
    with pytest.raises(TypeError, match=r"join\(\) argument 'parts'\[1\] must be str, not int"):
        m.join(["a", 1], "")


# ---------------------------------------------------------------- JS imports


def test_imports_implemented_in_python(m: ModuleType) -> None:
    logged: list[str] = []
    m.provide(host_log=logged.append, host_color=lambda c: m.Color.Blue if c == 1 else 2)
    assert m.call_host_add(2, 3) == 50
    assert m.call_host_greeting("py") == "[hello py]"
    assert m.call_host_scale([1.0, 2.0], 3) == 9.0
    assert m.call_host_flag(True, "a") == 98 and m.call_host_flag(False, "a") == 0
    assert m.call_host_mix(2**32 - 1, -1, 2**64 - 1, 0.5) == float(2**32 - 1 - 1 + 2**64 - 1) + 0.5
    assert m.call_host_sum(5) == 10  # an owned Vec<i32> handed to Python
    assert m.call_host_upper("abc") == "ABC"  # an owned String
    assert m.call_host_color(m.Color.Red) is m.Color.Blue
    assert m.call_host_color(m.Color.Green) is m.Color.Green
    m.call_host_log(2)
    assert logged == ["message 0", "message 1"]
    assert m.JS_IMPORTS["host_flag"] == "host_flag(bool, str) -> int | None"


def test_a_missing_or_failing_import_aborts_as_in_js(types_unwind: Built) -> None:
    m = fresh(types_unwind)
    with pytest.raises(m.AbortError, match=r"call loader.provide\(host_log=\.\.\.\)"):
        m.call_host_log(1)
    m.provide(host_add=lambda a, b: 1 / 0)
    with pytest.raises(m.AbortError) as info:
        m.call_host_add(1, 2)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    m.provide(host_greeting=lambda name: 42)
    with pytest.raises(m.AbortError, match=r"provided host_greeting\(\) must be str, not int"):
        m.call_host_greeting("x")


# ---------------------------------------------------------------- not supported


def test_unsupported_items_are_listed_and_raise(m: ModuleType) -> None:
    for name, args in (("wide", (1,)), ("echo_value", (None,))):
        with pytest.raises(NotImplementedError, match=f"{name}\\(\\) cannot be called"):
            getattr(m, name)(*args)
    assert "Not supported by the Python loader: parameter `a`: bigint (Rust i128" in m.wide.__doc__
    assert m.UNKNOWN_IMPORTS == (
        "host_any: parameter 1 is a JS value (JsValue or an imported JS type); "
        "returns a JS value (JsValue or an imported JS type)",
    )
    with pytest.raises(m.AbortError, match="host_any"):
        m.call_host_any()
