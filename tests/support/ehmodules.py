"""Small modules shaped like wasm-bindgen's output, with and without exception handling."""

from __future__ import annotations

from tests.support.wasmgen import (
    EXTERNREF,
    I32,
    body,
    export,
    functype,
    global_i32,
    import_func,
    import_tag,
    module,
    u,
    vec,
)

TYPES = [functype(), functype([EXTERNREF]), functype([I32])]


IMPORTS = [
    import_func("./index_bg.js", "__wbg___wbindgen_panic_error_0057a448c5707437", 1),
    import_func("./index_bg.js", "__wbg___wbindgen_rethrow_d953c34c2e20677f", 1),
    import_tag("./index_bg.js", "__wbindgen_jstag_9f3e", 1),
    import_tag("./index_bg.js", "__wbindgen_wrapped_jstag", 1),
]


EXPORTS = [export("__instance_terminated", 3, 0), export("__abort_handler", 3, 1)]


# try call catch 2 (Rust's tag) catch_all rethrow end
LEGACY = b"\x06\x40\x10\x00\x07\x02\x1a\x19\x09\x00\x0b\x0b"


# block try_table (catch 2 0) (catch_all_ref 0) end end throw_ref
EXNREF = b"\x02\x40\x1f\x40" + vec([b"\x00\x02\x00", b"\x03" + u(0)]) + b"\x0b\x0b\x0a\x0b"


# what wasm-bindgen adds even to panic=abort builds: catch its JS tag (0) only
JS_WRAPPER = b"\x02\x40\x1f\x40" + vec([b"\x00\x00\x00", b"\x03\x00"]) + b"\x0b\x0b\x0a\x0b"


RUST_THROW = b"\x41\x00\x08\x02\x0b"  # i32.const 0; throw 2 (a panic)


PLAIN = b"\x41\x01\x1a\x0b"


def wb_module(*codes: bytes, bindgen: bool = True) -> bytes:
    """A module shaped like wasm-bindgen output: JS tag imports, one defined tag."""
    return module(
        types=TYPES,
        imports=IMPORTS if bindgen else [],
        tags=[2],
        globals_=[global_i32(0), global_i32(0)],
        exports=EXPORTS if bindgen else [],
        bodies=[body(c) for c in codes],
        customs=[("producers", b"\x00")],
    )
