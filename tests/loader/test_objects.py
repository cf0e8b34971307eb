"""The Python side of exported structs (objects.py): each struct is freed exactly
once, whichever way its object goes, and never from inside a garbage collection."""

from __future__ import annotations

import copy
import gc
import pickle
import threading

import pytest

from worker_build.loader.objects import Home, RustObject, generic_class, wrap

Point = generic_class("Point")


@pytest.fixture
def home() -> tuple[Home, list[tuple[str, int, int]]]:
    freed: list[tuple[str, int, int]] = []
    return Home(3, threading.RLock(), lambda c, p, d: freed.append((c, p, d))), freed


def test_free_is_immediate_and_idempotent(home: tuple[Home, list]) -> None:  # type: ignore[type-arg]
    h, freed = home
    p = wrap(Point, 0x20, h)
    p.free()
    p.free()
    assert freed == [("Point", 0x20, 0)]
    assert repr(p) == "<Point (freed)>"
    del p
    gc.collect()
    assert freed == [("Point", 0x20, 0)] and h.pending == []


def test_with_block_frees_on_exit_even_after_an_error(home: tuple[Home, list]) -> None:  # type: ignore[type-arg]
    h, freed = home
    with pytest.raises(KeyError), wrap(Point, 0x30, h) as p:
        assert p._wb_ptr == 0x30
        raise KeyError
    assert freed == [("Point", 0x30, 0)]


def test_the_finalizer_only_queues(home: tuple[Home, list]) -> None:  # type: ignore[type-arg]
    h, freed = home
    p = wrap(Point, 0x40, h)
    del p
    gc.collect()
    assert freed == [] and h.pending == [("Point", 0x40)]
    h.drain()
    assert freed == [("Point", 0x40, 1)] and h.pending == []


def test_a_retired_home_frees_nothing(home: tuple[Home, list]) -> None:  # type: ignore[type-arg]
    h, freed = home
    p, q = wrap(Point, 0x50, h), wrap(Point, 0x60, h)
    h.retire()
    assert "stale" in repr(p)
    p.free()  # the instance's memory is gone with it: nothing to free
    del q
    gc.collect()
    assert freed == [] and h.pending == []


def test_objects_cannot_be_copied_or_pickled(home: tuple[Home, list]) -> None:  # type: ignore[type-arg]
    h, _ = home
    p = wrap(Point, 0x70, h)
    for attempt in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError, match="cannot be copied or pickled"):
            attempt(p)


def test_a_fresh_object_owns_nothing() -> None:
    p = Point()
    assert p._wb_ptr == 0 and not p._wb_home.alive
    assert isinstance(p, RustObject) and Point._wb_class == "Point"
