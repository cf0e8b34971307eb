"""The generated Python loader on real builds (cargo + wasm-bindgen + wasm-opt + wasmtime).

Builds sample-crates/pure-exports with worker-build's own cargo command in
three variants (unwind with legacy EH, as rustc 1.96 emits it and the loader
translates; unwind with exnref; panic=abort), plus a crate written by this
module (TYPES_LIB) that exports one identity function per supported type.
Missing tools fail, never skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.paths import CACHE as REPO_CACHE
from harness.paths import NODE_BIN, SAMPLES
from tests.support.builds import cargo_build, cargo_target_dir, require_tool, wasm_bindgen_for
from worker_build.build.steps.python_loader import LoaderInfo, emit_loader
from worker_build.loader.runtime import LoaderWarning, import_loader

pytestmark = pytest.mark.slow

CACHE = REPO_CACHE / "loader-tests"
PURE = SAMPLES / "pure-exports"
WASM_OPT = NODE_BIN / "wasm-opt"


def build_bindgen_output(crate: Path, variant: str) -> Path:
    """cargo build as worker-build runs it (conftest.cargo_build, in the pure-exports
    fixtures' target dir for the variant: nothing is compiled twice) + wasm-bindgen;
    returns the directory holding index.js and index_bg.wasm."""
    require_tool(WASM_OPT)
    # the wasm-bindgen of pure-exports' lock (a crate written here copies that lock)
    wasm_bindgen = wasm_bindgen_for(PURE)
    # a sample crate in its own fixtures' target dir; a crate written by a test shares
    # pure-exports' (the same dependencies and flags: nothing is compiled twice)
    sample = crate.parent.name == "sample-crates"
    target = cargo_target_dir(crate.name if sample else "pure-exports", variant)
    artifact = cargo_build(crate, variant, target)
    out = CACHE / f"out-{crate.name}-{variant}"
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.run(
        [str(wasm_bindgen), str(artifact), "--out-dir", str(out), "--target", "module",
         "--out-name", "index", "--no-typescript", "--experimental-reset-state-function",
         "--force-enable-abort-handler"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"wasm-bindgen failed:\n{proc.stderr[-4000:]}")
    return out


@dataclass
class Loaded:
    build: Path
    info: LoaderInfo
    module: Any  # the generated loader, imported


def emit_and_import(crate: Path, variant: str) -> Loaded:
    build = build_bindgen_output(crate, variant)
    info = emit_loader(build, wasm_opt=WASM_OPT)
    return Loaded(
        build,
        info,
        import_loader(build, name=f"loader_{crate.name.replace('-', '_')}_{variant}"),
    )


@pytest.fixture(scope="module")
def pure() -> Loaded:
    return emit_and_import(PURE, "legacy")


@pytest.fixture(scope="module")
def pure_exnref() -> Loaded:
    return emit_and_import(PURE, "exnref")


@pytest.fixture(scope="module")
def pure_abort() -> Loaded:
    return emit_and_import(PURE, "abort")


@pytest.fixture
def loader(pure: Loaded) -> Iterator[Any]:
    pure.module.reset()
    yield pure.module


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- the build summary


def test_summary_of_the_legacy_build(pure: Loaded) -> None:
    assert pure.info.translated_to_exnref
    assert pure.info.files == ["loader.py", "loader_bg.wasm"]
    assert (pure.build / "loader_bg.wasm").is_file()
    assert sorted(pure.info.functions) == [
        "abort_now", "add", "checked_div", "counter", "first_char", "greet", "is_even",
        "parse_u32", "reverse_bytes", "scale", "sum_f64s",
    ]  # fmt: skip
    assert pure.info.unsupported == []


def test_import_loader_with_build_dir_on_sys_path(pure: Loaded) -> None:
    code = (
        "import loader, inspect; print(loader.add(2, 3), loader.greet('Py'));"
        "print(inspect.signature(loader.greet)); print(loader.scale.__doc__.splitlines()[0])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(pure.build)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "5 Hello, Py!",
        "(name: 'str') -> 'str'",
        "Multiplies `value` by `factor`.",
    ]
    assert "LoaderWarning" not in proc.stderr  # every import of this module is implemented


# ---------------------------------------------------------------- types round-trip


def test_numbers_round_trip(loader: Any) -> None:
    assert loader.add(2, 3) == 5
    assert loader.add(-7, 3) == -4
    assert loader.add(2**31 - 1, 1) == -(2**31)  # wrapping_add, as in Rust
    assert loader.add(2**32 - 1, 0) == -1  # u32 bit pattern into an i32 parameter
    assert loader.scale(1.5, -2.0) == -3.0
    assert loader.scale(3, 0.5) == 1.5
    assert loader.is_even(4) is True and loader.is_even(7) is False
    assert loader.is_even(2**32 - 2) is True


def test_strings_and_bytes_round_trip(loader: Any) -> None:
    assert loader.greet("world") == "Hello, world!"
    assert loader.greet("") == "Hello, !"
    assert loader.greet("日本語 😀") == "Hello, 日本語 😀!"
    big = "x" * 2_000_000
    assert loader.greet(big) == f"Hello, {big}!"
    assert loader.reverse_bytes(b"\x00\x01\xff") == b"\xff\x01\x00"
    assert loader.reverse_bytes(b"") == b""
    assert loader.reverse_bytes(bytearray(b"ab")) == b"ba"
    assert loader.reverse_bytes(memoryview(b"cd")) == b"dc"


def test_option_round_trips(loader: Any) -> None:
    assert loader.first_char("héllo") == "h"
    assert loader.first_char("😀x") == "😀"
    assert loader.first_char("") is None


def test_result_ok_and_err(loader: Any) -> None:
    assert loader.parse_u32(" 42 ") == 42
    assert loader.parse_u32("4294967295") == 2**32 - 1
    with pytest.raises(loader.JsError, match=r'cannot parse "nope": invalid digit'):
        loader.parse_u32("nope")
    with pytest.raises(loader.JsError, match="too large"):
        loader.parse_u32("4294967296")


def test_bad_arguments_fail_before_calling(loader: Any) -> None:
    loader.counter()
    with pytest.raises(TypeError, match=r"add\(\) argument 'b' must be int, not float"):
        loader.add(1, 2.5)
    with pytest.raises(OverflowError, match=r"add\(\) argument 'a' = 4294967296 is out of range"):
        loader.add(2**32, 1)
    with pytest.raises(TypeError, match=r"greet\(\) argument 'name' must be str, not bytes"):
        loader.greet(b"x")
    with pytest.raises(TypeError, match=r"reverse_bytes\(\) argument 'data' must be bytes"):
        loader.reverse_bytes("x")
    assert loader.counter() == 2  # nothing reached wasm, nothing was reset


def test_vec_f64(loader: Any) -> None:
    assert loader.sum_f64s([1.0, 2.0]) == 3.0


# ---------------------------------------------------------------- panics and aborts


def test_panic_raises_and_keeps_state(loader: Any) -> None:
    assert loader.counter() == 1
    with pytest.raises(loader.PanicError, match=r"^checked_div: division by zero \(7 / 0\)$"):
        loader.checked_div(7, 0)
    assert loader.counter() == 2
    assert loader.checked_div(7, 2) == 3


def test_abort_resets_runs_on_abort_once_and_refuses_stale_objects(loader: Any) -> None:
    calls: list[int] = []
    loader.on_abort(lambda: calls.append(1))
    handle = loader.instance()
    for expected in (1, 2, 3):
        assert loader.counter() == expected
    with pytest.raises(loader.AbortError, match="unreachable"):
        loader.abort_now()
    assert calls == [1]
    assert loader.counter() == 1  # a fresh instance
    with pytest.raises(loader.StaleInstanceError, match="replaced"):
        handle.memory_size  # noqa: B018
    assert loader.greet("again") == "Hello, again!"


def test_100k_calls_one_in_ten_panicking(loader: Any, record_property: Any) -> None:
    handle = loader.instance()
    for i in range(1000):  # warm-up: the allocator and wasmtime settle
        with contextlib.suppress(loader.PanicError):
            loader.checked_div(i, i % 10)
    memory_before, rss_before = handle.memory_size, rss_bytes()
    counter_before = loader.counter()
    wrong = panics = 0
    start = time.perf_counter()
    for i in range(100_000):
        if i % 10 == 0:
            try:
                loader.checked_div(i, 0)
            except loader.PanicError:
                panics += 1
        elif loader.checked_div(i, 7) != i // 7:
            wrong += 1
    elapsed = time.perf_counter() - start
    memory_after, rss_after = handle.memory_size, rss_bytes()
    figures = (
        f"100000 calls (10000 panics) in {elapsed:.2f} s ({elapsed * 10:.1f} us/call); "
        f"linear memory {memory_before} -> {memory_after} bytes; "
        f"RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB"
    )
    print(figures)
    record_property("loader_100k", figures)
    assert wrong == 0 and panics == 10_000
    assert loader.counter() == counter_before + 1  # the same instance all along
    assert memory_after == memory_before
    assert rss_after - rss_before < 8 * 2**20


# ---------------------------------------------------------------- other builds


def test_exnref_build_needs_no_translation(pure_exnref: Loaded) -> None:
    m = pure_exnref.module
    assert not pure_exnref.info.translated_to_exnref
    assert pure_exnref.info.files == ["loader.py"]
    assert m.add(40, 2) == 42 and m.greet("x") == "Hello, x!"
    m.counter()
    with pytest.raises(m.PanicError, match="division by zero"):
        m.checked_div(1, 0)
    assert m.counter() == 2
    with pytest.raises(m.AbortError):
        m.abort_now()
    assert m.counter() == 1


def test_panic_abort_build_turns_panics_into_aborts(pure_abort: Loaded) -> None:
    m = pure_abort.module
    assert not pure_abort.info.translated_to_exnref
    calls: list[int] = []
    m.on_abort(lambda: calls.append(1))
    m.counter()
    with pytest.raises(m.AbortError):
        m.checked_div(1, 0)
    assert calls == [1] and m.counter() == 1
    with pytest.raises(m.JsError, match="cannot parse"):
        m.parse_u32("x")


# ---------------------------------------------------------------- every supported kind

TYPES_LIB = """use wasm_bindgen::prelude::*;
#[wasm_bindgen] pub fn p_i8(a: i8) -> i8 { a }
#[wasm_bindgen] pub fn p_u8(a: u8) -> u8 { a }
#[wasm_bindgen] pub fn p_i16(a: i16) -> i16 { a }
#[wasm_bindgen] pub fn p_u16(a: u16) -> u16 { a }
#[wasm_bindgen] pub fn p_i32(a: i32) -> i32 { a }
#[wasm_bindgen] pub fn p_u32(a: u32) -> u32 { a }
#[wasm_bindgen] pub fn p_isize(a: isize) -> isize { a }
#[wasm_bindgen] pub fn p_usize(a: usize) -> usize { a }
#[wasm_bindgen] pub fn p_i64(a: i64) -> i64 { a }
#[wasm_bindgen] pub fn p_u64(a: u64) -> u64 { a }
#[wasm_bindgen] pub fn p_f32(a: f32) -> f32 { a }
#[wasm_bindgen] pub fn p_f64(a: f64) -> f64 { a }
#[wasm_bindgen] pub fn p_bool(a: bool) -> bool { a }
#[wasm_bindgen] pub fn p_char(a: char) -> char { a }
#[wasm_bindgen] pub fn p_str(a: &str) -> String { a.to_string() }
#[wasm_bindgen] pub fn p_string(a: String) -> String { a }
#[wasm_bindgen] pub fn p_bytes(a: &[u8]) -> Vec<u8> { a.to_vec() }
#[wasm_bindgen] pub fn p_vec(a: Vec<u8>) -> Vec<u8> { a }
#[wasm_bindgen] pub fn o_i8(a: Option<i8>) -> Option<i8> { a }
#[wasm_bindgen] pub fn o_u16(a: Option<u16>) -> Option<u16> { a }
#[wasm_bindgen] pub fn o_i32(a: Option<i32>) -> Option<i32> { a }
#[wasm_bindgen] pub fn o_u32(a: Option<u32>) -> Option<u32> { a }
#[wasm_bindgen] pub fn o_i64(a: Option<i64>) -> Option<i64> { a }
#[wasm_bindgen] pub fn o_u64(a: Option<u64>) -> Option<u64> { a }
#[wasm_bindgen] pub fn o_f32(a: Option<f32>) -> Option<f32> { a }
#[wasm_bindgen] pub fn o_f64(a: Option<f64>) -> Option<f64> { a }
#[wasm_bindgen] pub fn o_bool(a: Option<bool>) -> Option<bool> { a }
#[wasm_bindgen] pub fn o_char(a: Option<char>) -> Option<char> { a }
#[wasm_bindgen] pub fn o_string(a: Option<String>) -> Option<String> { a }
#[wasm_bindgen] pub fn o_bytes(a: Option<Vec<u8>>) -> Option<Vec<u8>> { a }
#[wasm_bindgen] pub fn r_unit(ok: bool) -> Result<(), JsError> {
    if ok { Ok(()) } else { Err(JsError::new("unit failed")) } }
#[wasm_bindgen] pub fn r_f64(a: f64) -> Result<f64, JsError> {
    if a >= 0.0 { Ok(a.sqrt()) } else { Err(JsError::new(&format!("negative: {a}"))) } }
#[wasm_bindgen] pub fn r_string(a: &str) -> Result<String, JsError> {
    if a.is_empty() { Err(JsError::new("empty")) } else { Ok(a.to_uppercase()) } }
#[wasm_bindgen] pub fn r_bytes(n: u32) -> Result<Vec<u8>, JsError> {
    if n > 4 { Err(JsError::new("too many")) } else { Ok(vec![7; n as usize]) } }
#[wasm_bindgen] pub fn r_opt(a: i32) -> Result<Option<String>, JsError> {
    match a { a if a < 0 => Err(JsError::new("neg")), 0 => Ok(None), a => Ok(Some(a.to_string())) } }
#[wasm_bindgen] pub fn many(a: i32, b: f64, c: &str, d: bool, e: Option<u32>, f: &[u8]) -> String {
    format!("{a} {b} {c} {d} {e:?} {f:?}") }
#[wasm_bindgen] pub fn u_i128(a: i128) -> i128 { a }
#[wasm_bindgen] pub fn u_jsvalue(a: JsValue) -> JsValue { a }
#[wasm_bindgen] pub fn u_strings(a: Vec<String>) -> usize { a.len() }
#[wasm_bindgen] pub struct Thing { v: i32 }
#[wasm_bindgen] pub fn make_thing(v: i32) -> Thing { Thing { v: v + 1 } }
"""


@pytest.fixture(scope="module")
def types() -> Loaded:
    crate = CACHE / "types-crate"
    (crate / "src").mkdir(parents=True, exist_ok=True)
    cargo_toml = (
        (PURE / "Cargo.toml").read_text().replace('name = "pure-exports"', 'name = "types-crate"')
    )
    lock = (
        (PURE / "Cargo.lock").read_text().replace('name = "pure-exports"', 'name = "types-crate"')
    )
    for path, text in ((crate / "Cargo.toml", cargo_toml), (crate / "Cargo.lock", lock),
                       (crate / "src" / "lib.rs", TYPES_LIB)):  # fmt: skip
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    # JsValue makes the module import `__wbindgen_string_get`-like intrinsics the
    # loader implements: nothing is listed when the module loads
    with warnings.catch_warnings():
        warnings.simplefilter("error", LoaderWarning)
        return emit_and_import(crate, "legacy")


IDENTITY = [
    ("p_i8", [0, -128, 127]),
    ("p_u8", [0, 255]),
    ("p_i16", [-32768, 32767]),
    ("p_u16", [65535]),
    ("p_i32", [-(2**31), 2**31 - 1]),
    ("p_u32", [0, 2**32 - 1]),
    ("p_isize", [-(2**31), 5]),
    ("p_usize", [2**32 - 1]),
    ("p_i64", [-(2**63), 2**63 - 1]),
    ("p_u64", [0, 2**64 - 1]),
    ("p_f32", [0.0, 1.5, -2.25, float("inf")]),
    ("p_f64", [0.1, -1e300, float("-inf")]),
    ("p_bool", [True, False]),
    ("p_char", ["a", "ß", "😀"]),
    ("p_str", ["", "plain", "ünï 😀"]),
    ("p_string", ["owned"]),
    ("p_bytes", [b"", b"\x00\xff" * 1000]),
    ("p_vec", [b"vec"]),
    ("o_i8", [None, -5]),
    ("o_u16", [None, 65535]),
    ("o_i32", [None, -(2**31)]),
    ("o_u32", [None, 2**32 - 1]),
    ("o_i64", [None, -(2**63)]),
    ("o_u64", [None, 2**64 - 1]),
    ("o_f32", [None, 0.5]),
    ("o_f64", [None, -0.25]),
    ("o_bool", [None, True, False]),
    ("o_char", [None, "x"]),
    ("o_string", [None, "", "s"]),
    ("o_bytes", [None, b"", b"b"]),
]


@pytest.mark.parametrize(("name", "values"), IDENTITY)
def test_every_supported_kind_round_trips(types: Loaded, name: str, values: list[Any]) -> None:
    fn = getattr(types.module, name)
    for value in values:
        got = fn(value)
        assert got == value and type(got) in (type(value), float), (name, value, got)


def test_float32_rounding_and_nan(types: Loaded) -> None:
    m = types.module
    assert m.p_f32(0.1) == pytest.approx(0.1) and m.p_f32(0.1) != 0.1
    assert m.p_f64(float("nan")) != m.p_f64(float("nan"))


def test_results(types: Loaded) -> None:
    m = types.module
    assert m.r_unit(True) is None
    with pytest.raises(m.JsError, match=r"^unit failed$"):
        m.r_unit(False)
    assert m.r_f64(9.0) == 3.0
    with pytest.raises(m.JsError, match="negative: -1"):
        m.r_f64(-1.0)
    assert m.r_string("abc") == "ABC"
    with pytest.raises(m.JsError, match="empty"):
        m.r_string("")
    assert m.r_bytes(3) == b"\x07\x07\x07"
    with pytest.raises(m.JsError, match="too many"):
        m.r_bytes(5)
    assert m.r_opt(0) is None and m.r_opt(12) == "12"
    with pytest.raises(m.JsError, match="neg"):
        m.r_opt(-1)


def test_many_parameters(types: Loaded) -> None:
    assert types.module.many(-1, 2.5, "s", True, None, b"\x01") == "-1 2.5 s true None [1]"
    assert types.module.many(1, 0, "", False, 7, b"") == "1 0  false Some(7) []"


def test_unsupported_kinds_are_listed_and_raise(types: Loaded) -> None:
    reasons = dict(u.split(": ", 1) for u in types.info.unsupported)
    assert reasons == {
        "u_i128": "parameter `a`: bigint (Rust i128/u128); returns bigint (Rust i128/u128)",
        "u_jsvalue": "parameter `a`: any (Rust JsValue); returns any (Rust JsValue)",
    }
    assert types.module.u_strings(["a", "b"]) == 2
    assert types.module.make_thing(1) is not None
    for name, args in (("u_i128", (1,)), ("u_jsvalue", (None,))):
        with pytest.raises(NotImplementedError, match=f"{name}\\(\\) cannot be called"):
            getattr(types.module, name)(*args)
