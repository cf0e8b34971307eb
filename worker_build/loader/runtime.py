"""wasmtime host for wasm-bindgen modules: what a generated `loader.py` runs on.

Semantics follow the Worker (wasm-bindgen's JS glue with panic=unwind):

* A Rust panic is caught inside the export by `catch_unwind`, turned into a
  `PanicError` by the `__wbindgen_panic_error` import and thrown back out with
  `__wbindgen_rethrow` as a wasm exception tagged `__wbindgen_wrapped_jstag`.
  Frames in between (the export's stack-pointer wrapper) run their handlers, so
  the instance stays consistent and keeps its state. We raise the payload.
* Anything else leaving an export (a trap such as `unreachable` or OOM, an
  exception with another tag, an error raised by a host import) is a hard
  abort: the module's own abort hook runs, the instance is replaced by a fresh
  one, the `on_abort` callbacks run once, and `AbortError` is raised.

Modules: errors.py (exceptions), instance.py (one instance and its host
imports), codegen.py + abi.py (the per-export call functions), rawcall.py (the
pinned wasmtime internals). This module loads a module and manages instances.
"""

from __future__ import annotations

import enum
import itertools
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, NoReturn

import wasmtime as wt

from worker_build.loader import host_imports, rawcall
from worker_build.loader.abi_classes import ident
from worker_build.loader.codegen import FunctionSpec, compile_function
from worker_build.loader.errors import (
    UNDEFINED,
    AbortError,
    FreedObjectError,
    JsError,
    LoaderWarning,
    PanicError,
    StaleInstanceError,
    WasmError,
    trap_reason,
)
from worker_build.loader.instance import EXT, HELPER_WAT, I32, Instance
from worker_build.loader.objects import RustObject, generic_class
from worker_build.util.pyimport import import_file

__all__ = [
    "UNDEFINED",
    "AbortError",
    "FreedObjectError",
    "InstanceHandle",
    "JsError",
    "Library",
    "LoaderWarning",
    "PanicError",
    "RustObject",
    "StaleInstanceError",
    "WasmError",
    "import_loader",
    "load",
]

SPEC_FORMAT = 2  # 2: classes, enums and imports; format 1 specs still load
_FORMATS = (1, 2)
F64 = wt.ValType.f64()

_HASH = re.compile(r"_[0-9a-f]{16}$")
# intrinsic -> (params, results) it must have for our implementation to apply
_INTRINSIC_TYPES: dict[str, tuple[list[wt.ValType], list[wt.ValType]]] = {
    "__wbindgen_throw": ([I32, I32], []),
    "__wbindgen_rethrow": ([EXT], []),
    "__wbindgen_panic_error": ([EXT], [EXT]),
    "__wbindgen_rethrow_critical": ([EXT], []),
    "__wbindgen_init_externref_table": ([], []),
    "__wbindgen_reinit": ([], []),
    "Error": ([I32, I32], [EXT]),
    "cast:string": ([I32, I32], [EXT]),
    "cast:number": ([F64], [EXT]),
    "__wbindgen_string_get": ([I32, EXT], []),
    "__wbindgen_copy_to_typed_array": ([I32, I32, EXT], []),
    "__wbindgen_is_null": ([EXT], [I32]),
}
_WRAP_TYPES = {"wrap": ([I32], [EXT]), "unwrap": ([EXT], [I32])}  # glue/imports.py class_wraps


def intrinsic_name(import_name: str, casts: dict[str, str]) -> str:
    """`__wbg___wbindgen_throw_<hash>` -> `__wbindgen_throw`, casts by the spec."""
    if import_name in casts:
        return "cast:" + casts[import_name]
    return _HASH.sub("", import_name.removeprefix("__wbg_"))


class InstanceHandle:
    """The live wasm instance; refuses use once a reset replaced it."""

    def __init__(self, library: Library, inst: Instance) -> None:
        self._library, self._inst = library, inst

    @property
    def generation(self) -> int:
        return self._inst.generation

    @property
    def alive(self) -> bool:
        return self._inst is self._library._current

    def _live(self) -> Instance:
        if not self.alive:
            raise StaleInstanceError(
                f"this object belongs to wasm instance #{self._inst.generation}, which was "
                f"replaced by #{self._library.generation} after an abort or reset; "
                "get a new one with instance()"
            )
        return self._inst

    @property
    def memory_size(self) -> int:
        """Size of the linear memory in bytes."""
        inst = self._live()
        with self._library.lock:
            return int(inst.memory.data_len(inst.store))

    def read_memory(self, address: int, size: int) -> bytes:
        inst = self._live()
        with self._library.lock:
            if address < 0 or size < 0:
                raise IndexError(f"negative address or size: {address}, {size}")
            return inst.read(address, size)


class Library:
    """A wasm-bindgen module loaded with wasmtime, as described by a loader spec."""

    def __init__(
        self,
        wasm_path: Path,
        spec: dict[str, Any],
        *,
        classes: Mapping[str, type[RustObject]] | None = None,
        enums: Mapping[str, type[enum.Enum]] | None = None,
        imports: Mapping[str, Callable[..., Any]] | None = None,
    ) -> None:
        rawcall.check()
        if spec.get("format") not in _FORMATS:
            raise WasmError(
                f"loader spec format {spec.get('format')!r} is not {SPEC_FORMAT}: "
                "rebuild with the installed worker-build"
            )
        config = wt.Config()
        config.wasm_exceptions = True
        config.memory_may_move = False  # `base` is cached per instance
        self.engine = wt.Engine(config)
        self.module = wt.Module.from_file(self.engine, str(wasm_path))
        self.helper = wt.Module(self.engine, HELPER_WAT)
        casts: dict[str, str] = dict(spec.get("casts", {}))
        wraps: dict[str, str] = dict(spec.get("class_wraps", {}))
        self.externref_init = [(int(i), str(c)) for i, c in spec.get("externref_init", [])]
        self.user_imports: dict[str, dict[str, Any]] = {
            entry["import"]: entry for entry in spec.get("imports", [])
        }
        self.provided: dict[str, Callable[..., Any]] = {}
        unsupported = {e["import"]: f"{e['name']}: {e['reason']}" for e in
                       spec.get("unsupported_imports", [])}  # fmt: skip
        self.intrinsics: dict[str, str] = {}
        self.unknown_imports: list[str] = []
        self.unwinds = False
        for imp in self.module.imports:
            name = imp.name or ""
            ty = imp.type
            if name == "__wbindgen_wrapped_jstag":
                self.unwinds = True
            if name in self.user_imports or isinstance(ty, wt.TagType):
                continue
            which = wraps.get(name) or intrinsic_name(name, casts)
            expected = (
                _WRAP_TYPES.get(which.split(":")[0])
                if name in wraps
                else (_INTRINSIC_TYPES.get(which))
            )
            if isinstance(ty, wt.FuncType) and expected is not None and _same(ty, expected):
                self.intrinsics[name] = which
            else:
                self.unknown_imports.append(unsupported.get(name, f"{imp.module}.{name}"))
        if self.unknown_imports:
            names = [u.split(": ", 1)[0] for u in self.unknown_imports]
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            warnings.warn(
                f"{wasm_path.name}: {len(names)} import(s) not implemented by the Python loader "
                f"(calling them aborts the instance; UNKNOWN_IMPORTS says why): {shown}",
                LoaderWarning,
                stacklevel=3,
            )
        if imports:
            self.provide(imports)
        self.class_frees: dict[str, str] = {c["name"]: c["free"] for c in spec.get("classes", [])}
        self.classes, self.enums, types = _types(spec, classes or {}, enums or {})
        self.functions = [FunctionSpec.from_dict(f) for f in spec.get("functions", [])]
        self._check_signatures()
        self._makers = {f.name: compile_function(f, types) for f in self.functions}
        self.lock = threading.RLock()
        self._handlers: list[Callable[[], object]] = []
        self.generation = 0
        self._current: Instance | None = None
        self._pending_reset = False
        self.impl = SimpleNamespace()
        self.class_impls = {name: SimpleNamespace() for name in self.class_frees}
        self._install(self._new_instance())

    def provide(
        self,
        mapping: Mapping[str, Callable[..., Any] | None] | None = None,
        /,
        **callables: Callable[..., Any] | None,
    ) -> None:
        """Implement the crate's JS imports in Python: `provide(host_add=fn)` or
        `provide({"console.log": print})`; None removes one. Looked up on each
        call, so anything provided before Rust first calls the import is used."""
        given = {**(mapping or {}), **callables}
        known = {e["name"]: e for e in self.user_imports.values()}
        for name, fn in given.items():
            if name not in known:
                available = ", ".join(sorted(known)) or "none"
                raise KeyError(
                    f"the crate imports no JS function {name!r} that Python can provide "
                    f"(importable: {available})"
                )
            if fn is None:
                self.provided.pop(name, None)
            elif not callable(fn):
                raise TypeError(
                    f"provide({name}=...) needs a callable {host_imports.signature(known[name])}, "
                    f"not {type(fn).__name__}"
                )
            else:
                self.provided[name] = fn

    def _check_signatures(self) -> None:
        types = {e.name: e.type for e in self.module.exports}
        for f in self.functions:
            ty = types.get(f.export)
            actual = (
                (tuple(map(_valtype, ty.params)), tuple(map(_valtype, ty.results)))
                if isinstance(ty, wt.FuncType)
                else None
            )
            if actual != (f.wasm_params, f.wasm_results):
                raise WasmError(
                    f"export {f.export} has wasm type {actual}, the loader expected "
                    f"{(f.wasm_params, f.wasm_results)}: the loader does not match this module"
                )

    # ------------------------------------------------------------ lifecycle

    def _new_instance(self) -> Instance:
        self.generation += 1
        return Instance(self, self.generation)

    def _install(self, inst: Instance) -> None:
        self._current = inst
        self._pending_reset = False
        for name, make in self._makers.items():
            owner, _, method = name.rpartition(".")
            setattr(self.class_impls[owner] if owner else self.impl, method, make(inst))

    def reset(self) -> None:
        """Replace the instance with a fresh one (like the glue's `__wbg_reset_state`)."""
        with self.lock:
            if self._current is not None:
                self._current.home.retire()
            self._current = None
            self._install(self._new_instance())

    def schedule_reset(self) -> None:
        """`schedule_reinit()` from Rust: the next call starts on a fresh instance."""
        self._pending_reset = True
        for name in self._makers:
            owner, _, method = name.rpartition(".")
            target = self.class_impls[owner] if owner else self.impl
            setattr(target, method, self._reset_first(target, method))

    def _reset_first(self, target: SimpleNamespace, name: str) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            with self.lock:
                if self._pending_reset:
                    self.reset()
            return getattr(target, name)(*args)

        return call

    def abort_instance(self, inst: Instance, message: str, cause: BaseException | None) -> NoReturn:
        inst.run_abort_hook()
        reason = trap_reason(message) if message else repr(cause)
        if isinstance(cause, NotImplementedError):
            reason = str(cause)
        elif cause is not None and not isinstance(cause, (wt.Trap, wt.WasmtimeError)):
            reason = f"{type(cause).__name__} in a host function: {cause}"
        try:
            self.reset()
        except BaseException as exc:
            self.schedule_reset()
            raise AbortError(
                f"wasm instance aborted ({reason}); creating a fresh one failed"
            ) from exc
        for handler in list(self._handlers):
            try:
                handler()
            except Exception as exc:
                warnings.warn(
                    f"on_abort handler {handler!r} raised {exc!r}", LoaderWarning, stacklevel=2
                )
        raise AbortError(
            f"wasm instance aborted ({reason}); it was replaced by a fresh instance"
        ) from cause

    # ------------------------------------------------------------ public helpers

    def on_abort(self, callback: Callable[[], object]) -> Callable[[], object]:
        """Run `callback()` after each hard abort, once the fresh instance is in place."""
        with self.lock:
            self._handlers.append(callback)
        return callback

    def instance(self) -> InstanceHandle:
        with self.lock:
            if self._pending_reset or self._current is None:
                self.reset()
            assert self._current is not None
            return InstanceHandle(self, self._current)


def _valtype(t: wt.ValType) -> str:
    for name in ("i32", "i64", "f32", "f64", "externref", "funcref"):
        if t == getattr(wt.ValType, name)():
            return name
    return str(t)


def _same(ty: wt.FuncType, expected: tuple[list[wt.ValType], list[wt.ValType]]) -> bool:
    params, results = expected
    return list(ty.params) == params and list(ty.results) == results


def _types(
    spec: dict[str, Any],
    classes: Mapping[str, type[RustObject]],
    enums: Mapping[str, type[enum.Enum]],
) -> tuple[dict[str, type[RustObject]], dict[str, type[enum.Enum]], dict[str, Any]]:
    """The struct classes and enums of the module (the generated loader's own, else
    plain ones made here) and the names abi_classes snippets bind them to."""
    types: dict[str, Any] = {}
    out_classes: dict[str, type[RustObject]] = {}
    for entry in spec.get("classes", []):
        name = entry["name"]
        cls = classes.get(name) or generic_class(name)
        if not (isinstance(cls, type) and issubclass(cls, RustObject)) or cls._wb_class != name:
            raise WasmError(f"class {name}: {cls!r} is not the loader's class for this struct")
        out_classes[name] = types[f"C_{ident(name)}"] = cls
    out_enums: dict[str, type[enum.Enum]] = {}
    for entry in spec.get("enums", []):
        name, values = entry["name"], entry["values"]
        given = enums.get(name)
        if entry["kind"] == "int":
            int_enum: Any = given or enum.IntEnum(name, [(m, v) for m, v in values])
            out_enums[name] = int_enum
            types[f"EV_{ident(name)}"] = {v: int_enum(v) for _, v in values}
        else:
            str_enum: Any = given or enum.Enum(
                name, [(f"V{i}", v) for i, v in enumerate(values)], type=str
            )
            out_enums[name] = str_enum
            types[f"SI_{ident(name)}"] = {v: i for i, v in enumerate(values)}
            types[f"SM_{ident(name)}"] = tuple(str_enum(v) for v in values)
    return out_classes, out_enums, types


def load(
    wasm_path: str | Path,
    spec: dict[str, Any],
    *,
    classes: Mapping[str, type[RustObject]] | None = None,
    enums: Mapping[str, type[enum.Enum]] | None = None,
    imports: Mapping[str, Callable[..., Any]] | None = None,
) -> Library:
    return Library(Path(wasm_path), spec, classes=classes, enums=enums, imports=imports)


_fresh_names = itertools.count(1)


def import_loader(
    path: str | Path,
    *,
    imports: Mapping[str, Callable[..., Any]] | None = None,
    name: str | None = None,
) -> ModuleType:
    """Import a generated `loader.py` (or the directory holding it) as a new module
    with its own wasm instance, the JS imports in `imports` in place from the start
    (before the module's start function runs)."""
    file = Path(path)
    if file.is_dir():
        file = file / "loader.py"
    module_name = name or f"worker_build_loader_{next(_fresh_names)}"
    module = import_file(file, module_name, preset={"_WB_IMPORTS": dict(imports or {})})
    if module is None:
        raise WasmError(f"{file} is not a loader.py generated by worker-build")
    return module
