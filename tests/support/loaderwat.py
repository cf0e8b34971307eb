"""A hand-written module that follows wasm-bindgen's conventions, and its loader spec, for
the runtime and instance tests: the same import names (with hash suffixes), tags,
allocator and externref table exports, and an export wrapper that restores the stack
pointer on any exception before rethrowing it, as wasm-bindgen's does. wasmtime compiles
the text format in-process, so no external tool is needed."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

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


def write_module(directory: Path) -> Path:
    path = directory / "fake.wat"
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
