"""Python objects for exported Rust structs (wasm-bindgen's classes).

An object holds the pointer wasm-bindgen hands out for its struct (`_wb_ptr`, 0
once freed or moved into Rust) and the `Home` of the wasm instance that owns the
struct. Every call checks both: a freed object raises FreedObjectError, one whose
instance was replaced (after an abort or reset) raises StaleInstanceError.

Freeing happens exactly once. `free()` (or leaving a `with` block) frees at once;
a struct moved into Rust is Rust's to drop; otherwise the finalizer queues the
pointer on its Home and the next call into that instance frees it, under the
library lock. A finalizer never calls into wasm itself: garbage collection can
run in the middle of another call (inside a host import, say), as wasm-bindgen's
FinalizationRegistry frees later from the event loop and not mid-call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from worker_build.loader.errors import FreedObjectError, StaleInstanceError


class Home:
    """The identity of one wasm instance, shared by the objects created in it."""

    __slots__ = ("alive", "free_object", "lock", "number", "pending")

    def __init__(
        self,
        number: int,
        lock: threading.RLock | None,
        free_object: Callable[[str, int, int], None] | None,
    ) -> None:
        self.number = number  # the instance's generation, for messages
        self.lock = lock
        self.free_object = free_object  # (class name, pointer, allow_delayed)
        self.alive = free_object is not None
        self.pending: list[tuple[str, int]] = []  # finalized, not yet freed

    def take_and_free(self, obj: RustObject) -> None:
        """free() of `obj`: its pointer taken and freed under the lock, so two threads
        freeing one object cannot free it twice."""
        if self.lock is None:  # NO_HOME: nothing was ever allocated
            obj._wb_ptr = 0
            return
        with self.lock:
            ptr, obj._wb_ptr = obj._wb_ptr, 0
            if ptr and self.alive and self.free_object is not None:
                self.drain()
                self.free_object(obj._wb_class, ptr, 0)

    def drain(self) -> None:
        """Free what finalizers queued (called with the lock held)."""
        free = self.free_object
        while self.pending and free is not None:
            class_name, ptr = self.pending.pop()
            free(class_name, ptr, 1)

    def retire(self) -> None:
        """The instance is gone: its memory (and every struct in it) went with it."""
        self.alive = False
        self.free_object = None
        self.pending.clear()


NO_HOME = Home(0, None, None)


class RustObject:
    """Base of the Python classes a loader generates for exported Rust structs."""

    __slots__ = ("__weakref__", "_wb_home", "_wb_ptr")
    _wb_class: ClassVar[str] = ""  # the JS class name wasm-bindgen gave the struct
    _wb_ptr: int
    _wb_home: Home

    def __new__(cls, *args: Any, **kwargs: Any) -> RustObject:
        self = super().__new__(cls)
        self._wb_ptr = 0
        self._wb_home = NO_HOME
        return self

    def free(self) -> None:
        """Drop the Rust struct now. Later calls raise FreedObjectError; a second
        free() does nothing, and so does freeing an object of a replaced instance."""
        self._wb_home.take_and_free(self)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.free()

    def __del__(self) -> None:
        ptr = getattr(self, "_wb_ptr", 0)
        if ptr:
            home = self._wb_home
            if home.alive:
                home.pending.append((self._wb_class, ptr))

    def __repr__(self) -> str:
        name = type(self).__qualname__
        if not self._wb_ptr:
            return f"<{name} (freed)>"
        state = "" if self._wb_home.alive else ", stale"
        return f"<{name} at {self._wb_ptr:#x} in wasm instance #{self._wb_home.number}{state}>"

    def _wb_no_copy(self, *_args: object) -> NoReturn:
        raise TypeError(
            f"{type(self).__qualname__} owns a Rust struct and cannot be copied or pickled "
            "(a copy would free it twice); add a method that clones it on the Rust side"
        )

    __copy__ = __deepcopy__ = __reduce_ex__ = __reduce__ = _wb_no_copy


def wrap(cls: type[RustObject], ptr: int, home: Home) -> Any:
    """A Python object for a struct Rust returned (it owns the pointer)."""
    obj = object.__new__(cls)
    obj._wb_ptr = ptr
    obj._wb_home = home
    return obj


def object_arg(value: object, cls: type[RustObject], home: Home, where: str) -> int:
    """The pointer of `value` as an argument of class `cls` for the instance
    `home`, or the error explaining why it cannot be passed."""
    if not isinstance(value, cls):
        if isinstance(value, RustObject) and value._wb_class == cls._wb_class:
            raise TypeError(f"{where}: this {cls.__name__} belongs to another loaded module")
        raise TypeError(f"{where} must be {cls.__name__}, not {type(value).__name__}")
    ptr = value._wb_ptr
    owner = value._wb_home
    if not ptr:
        raise FreedObjectError(
            f"{where}: this {cls.__name__} was freed or moved into Rust "
            "(free(), a `with` block, a method taking `self`, or a by-value argument)"
        )
    if owner is not home:
        if owner.alive:
            raise TypeError(f"{where}: this {cls.__name__} belongs to another loaded module")
        raise StaleInstanceError(
            f"{where}: this {cls.__name__} belongs to wasm instance #{owner.number}, which "
            f"was replaced by #{home.number} after an abort or reset"
        )
    return ptr


def init_check(obj: RustObject, where: str) -> None:
    if obj._wb_ptr:
        raise TypeError(f"{where}: this {type(obj).__name__} is already initialised")


def generic_class(name: str) -> type[RustObject]:
    """A plain class for a struct the generated loader did not define (the runtime
    used directly, e.g. in tests)."""
    return type(name, (RustObject,), {"__slots__": (), "_wb_class": name})
