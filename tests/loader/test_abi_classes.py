"""Structs and enums through the generated calls (abi_classes + codegen), against
the fake wasm side of tests/support/loaderabi.py: pointers in and out, ownership moves,
the checks on objects, and enum values."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from tests.support.loaderabi import make
from worker_build.loader.errors import FreedObjectError, StaleInstanceError
from worker_build.loader.objects import Home, generic_class, wrap

Point = generic_class("Point")
Other = generic_class("Other")


class Color(enum.IntEnum):
    Red = 1
    Blue = 4


class Mode(str, enum.Enum):
    FAST = "fast"
    SLOW = "slow"


TYPES: dict[str, Any] = {
    "C_Point": Point,
    "C_Other": Other,
    "EV_Color": {1: Color.Red, 4: Color.Blue},
    "SI_Mode": {"fast": 0, "slow": 1},
    "SM_Mode": (Mode.FAST, Mode.SLOW),
}


def point(fake: Any, ptr: int = 0x40) -> Any:
    return wrap(Point, ptr, fake.home)


def test_borrowed_struct_passes_its_pointer_and_stays_usable() -> None:
    f, fake = make(["struct_ref:Point"], "int32", types=TYPES)
    p = point(fake)
    assert f(p) == 0x40 and f(p) == 0x40
    assert p._wb_ptr == 0x40


def test_owned_struct_is_moved_into_rust() -> None:
    f, fake = make(["struct_owned:Point"], "int32", types=TYPES)
    p = point(fake)
    assert f(p) == 0x40
    assert p._wb_ptr == 0  # Rust owns it now
    with pytest.raises(FreedObjectError, match=r"f\(\) argument 'p0': this Point was freed"):
        f(p)
    assert fake.objects_freed == []  # moving is not freeing


def test_optional_owned_struct() -> None:
    f, fake = make(["opt_struct_owned:Point"], "int32", types=TYPES)
    assert f(None) == 0
    p = point(fake)
    assert f(p) == 0x40 and p._wb_ptr == 0


def test_returned_struct_is_wrapped_in_the_class_and_owned_by_the_instance() -> None:
    f, fake = make(["int32"], "struct:Point", types=TYPES)
    p = f(0x80)
    assert type(p) is Point and p._wb_ptr == 0x80 and p._wb_home is fake.home
    g, _ = make(["int32"], "opt_struct:Point", types=TYPES)
    assert g(0) is None


def test_constructor_fills_the_object() -> None:
    f, fake = make(["this:Point", "int32"], "ctor:Point", types=TYPES)
    p = Point()
    assert f(p, 0x90) is None
    assert p._wb_ptr == 0x90 and p._wb_home is fake.home
    with pytest.raises(TypeError, match="already initialised"):
        f(p, 0x100)


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (5, TypeError, "must be Point, not int"),
        ("other", TypeError, "must be Point, not Other"),
        ("stale", StaleInstanceError, "belongs to wasm instance #0, which was replaced by #1"),
        ("foreign", TypeError, "belongs to another loaded module"),
        ("freed", FreedObjectError, "was freed or moved into Rust"),
    ],
)
def test_bad_objects_are_refused_before_the_call(value: Any, error: type, text: str) -> None:
    f, fake = make(["struct_ref:Point"], "int32", types=TYPES)
    dead = Home(0, None, None)
    alive_elsewhere = Home(7, fake.lock, lambda *a: None)
    value = {
        "other": wrap(Other, 8, fake.home),
        "stale": wrap(Point, 8, dead),
        "foreign": wrap(Point, 8, alive_elsewhere),
        "freed": wrap(Point, 0, fake.home),
    }.get(value, value)
    with pytest.raises(error, match=text):
        f(value)
    assert fake.calls == 0


def test_a_subclass_instance_is_accepted() -> None:
    class MyPoint(Point):  # type: ignore[misc, valid-type]
        __slots__ = ()

    f, fake = make(["struct_ref:Point"], "int32", types=TYPES)
    assert f(wrap(MyPoint, 0x44, fake.home)) == 0x44


def test_queued_frees_run_before_the_next_call() -> None:
    f, fake = make(["int32"], "int32", types=TYPES)
    fake.home.pending.append(("Point", 0x10))
    assert f(1) == 1
    assert fake.objects_freed == [("Point", 0x10, 1)] and fake.home.pending == []


def test_int_enums() -> None:
    f, _ = make(["enum:Color"], "enum:Color", types=TYPES)
    assert f(Color.Blue) is Color.Blue and f(1) is Color.Red
    for bad in (2, True, 1.0, "Red"):
        with pytest.raises(ValueError, match=r"must be a Color \(Red=1, Blue=4\)"):
            f(bad)
    g, _ = make(["opt_enum:Color:0"], "opt_enum:Color:0", types=TYPES)
    assert g(None) is None and g(4) is Color.Blue


def test_string_enums() -> None:
    f, _ = make(["senum:Mode"], "senum:Mode", types=TYPES)
    assert f("slow") is Mode.SLOW and f(Mode.FAST) is Mode.FAST
    with pytest.raises(ValueError, match=r"must be a Mode \(one of 'fast', 'slow'\)"):
        f("medium")
    g, _ = make(["opt_senum:Mode:3"], "opt_senum:Mode", types=TYPES)
    assert g(None) is None and g("fast") is Mode.FAST
