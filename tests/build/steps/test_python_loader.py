"""build/steps/python_loader.py with hand-made modules and a fake wasm-opt (no real tools)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from worker_build.build.steps import python_loader as step
from worker_build.errors import CommandFailedError, ToolMissingError, WorkerBuildError

HEADER = b"\x00asm\x01\x00\x00\x00"


def section(sid: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([sid, len(payload)]) + payload


def module(body: bytes) -> bytes:
    """One exported function `add: (i32, i32) -> i32` with `body` (no locals),
    and an exported memory."""
    code = b"\x00" + body + b"\x0b"
    return (
        HEADER
        + section(1, b"\x01\x60\x02\x7f\x7f\x01\x7f")  # type (i32, i32) -> i32
        + section(3, b"\x01\x00")  # one function of type 0
        + section(5, b"\x01\x00\x01")  # memory, min 1 page
        + section(7, b"\x02\x03add\x00\x00\x06memory\x02\x00")
        + section(10, b"\x01" + bytes([len(code)]) + code)
    )


PLAIN = module(b"\x20\x00\x20\x01\x6a")  # local.get 0, local.get 1, i32.add
LEGACY = module(b"\x06\x40\x0b\x20\x00\x20\x01\x6a")  # try (empty) end, then add
GLUE = """/**
 * Adds.
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function add(a, b) {
    let ret;
    ret = wasm.add(a, b);
    return ret;
}

/**
 * @param {Float64Array | number[]} values
 * @returns {number}
 */
export function sum_f64s(values) {
    const ptr0 = passArrayF64ToWasm0(values, wasm.__wbindgen_malloc);
    const len0 = WASM_VECTOR_LEN;
    let ret;
    ret = wasm.sum_f64s(ptr0, len0);
    return ret;
}
"""


def staging(tmp_path: Path, wasm: bytes) -> Path:
    d = tmp_path / "bindgen"
    d.mkdir()
    (d / "index_bg.wasm").write_bytes(wasm)
    (d / "index.js").write_text(GLUE)
    return d


def test_module_without_legacy_eh(tmp_path: Path) -> None:
    d = staging(tmp_path, PLAIN)
    info = step.emit_loader(d, wasm_opt=None)
    assert info == step.LoaderInfo(
        files=["loader.py"],
        functions=["add"],
        unsupported=["sum_f64s: the glue does not call a wasm export the loader can find"],
        translated_to_exnref=False,
    )
    text = (d / "loader.py").read_text()
    assert "with_name('index_bg.wasm')" in text
    assert not (d / "loader_bg.wasm").exists()


def test_legacy_eh_needs_wasm_opt(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    with pytest.raises(ToolMissingError, match="legacy exception handling") as info:
        step.emit_loader(d, wasm_opt=None)
    assert info.value.fix and "wasm-opt" in info.value.fix
    assert not (d / "loader.py").exists()


def test_legacy_eh_is_translated_with_wasm_opt(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    (tmp_path / "exnref.wasm").write_bytes(PLAIN)
    log = tmp_path / "argv"
    # a stand-in wasm-opt: records its arguments and writes a module without legacy EH
    wasm_opt = fake_exe(
        tmp_path / "bin" / "wasm-opt",
        f'echo "$@" > {log}\nwhile [ "$1" != "-o" ]; do shift; done\ncp {tmp_path}/exnref.wasm "$2"',
    )
    info = step.emit_loader(d, wasm_opt=wasm_opt)
    assert info.translated_to_exnref and info.files == ["loader.py", "loader_bg.wasm"]
    argv = log.read_text().split()
    assert argv[0] == str(d / "index_bg.wasm")
    assert "--translate-to-exnref" in argv and "--enable-exception-handling" in argv
    assert argv[-2:] == ["-o", str(d / "loader_bg.wasm")]
    assert "with_name('loader_bg.wasm')" in (d / "loader.py").read_text()
    assert (d / "index_bg.wasm").read_bytes() == LEGACY  # the Worker's module is untouched


def test_wasm_opt_that_leaves_legacy_eh_is_an_error(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    wasm_opt = fake_exe(
        tmp_path / "bin" / "wasm-opt",
        f'while [ "$1" != "-o" ]; do shift; done\ncp {d}/index_bg.wasm "$2"',
    )
    with pytest.raises(WorkerBuildError, match="left legacy exception handling"):
        step.emit_loader(d, wasm_opt=wasm_opt)


def test_failing_wasm_opt(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    wasm_opt = fake_exe(tmp_path / "bin" / "wasm-opt", "echo 'unknown option' >&2; exit 3")
    with pytest.raises(CommandFailedError, match="exited with code 3"):
        step.emit_loader(d, wasm_opt=wasm_opt)


def test_missing_bindgen_output(tmp_path: Path) -> None:
    with pytest.raises(WorkerBuildError, match="does not hold wasm-bindgen's"):
        step.emit_loader(tmp_path, wasm_opt=None)


def test_module_wasmtime_rejects(tmp_path: Path) -> None:
    # i32.add on an empty stack: structurally fine, rejected by validation
    d = staging(tmp_path, module(b"\x6a"))
    with pytest.raises(WorkerBuildError, match=r"wasmtime cannot load index_bg\.wasm"):
        step.emit_loader(d, wasm_opt=None)


def test_export_signatures() -> None:
    from worker_build.wasm.module import parse_module

    assert step.export_signatures(parse_module(PLAIN)) == {"add": (("i32", "i32"), ("i32",))}


def test_a_started_translation_reads_the_module_as_it_was_and_is_joined(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    (tmp_path / "exnref.wasm").write_bytes(PLAIN)
    go = tmp_path / "go"
    # a stand-in wasm-opt that starts reading only once the test says so (after the
    # Worker's module was replaced, as the main wasm-opt does), then keeps its input
    wasm_opt = fake_exe(
        tmp_path / "bin" / "wasm-opt",
        f'while [ ! -e {go} ]; do sleep 0.01; done\ncp "$1" {tmp_path}/seen.wasm\n'
        f'while [ "$1" != "-o" ]; do shift; done\ncp {tmp_path}/exnref.wasm "$2"',
    )
    job = step.start_translation(wasm_opt, d)
    assert job.argv[1] == str(d / step.TRANSLATION_SOURCE)
    optimised = d / "index_bg.wasm-opt.wasm"
    optimised.write_bytes(LEGACY + b"\x00\x03\x01x\x00")  # still legacy, other bytes
    optimised.replace(d / "index_bg.wasm")
    go.touch()
    info = step.emit_loader(d, wasm_opt=wasm_opt, translation=job)
    assert job.child.returncode == 0
    assert (tmp_path / "seen.wasm").read_bytes() == LEGACY  # wasm-bindgen's bytes
    assert info.translated_to_exnref and info.files == ["loader.py", "loader_bg.wasm"]
    assert (d / "loader_bg.wasm").read_bytes() == PLAIN


def test_a_started_translation_that_fails_fails_the_loader(tmp_path: Path) -> None:
    d = staging(tmp_path, LEGACY)
    wasm_opt = fake_exe(tmp_path / "bin" / "wasm-opt", "echo 'out of memory' >&2; exit 2")
    job = step.start_translation(wasm_opt, d)
    with pytest.raises(CommandFailedError, match="exited with code 2") as info:
        step.emit_loader(d, wasm_opt=wasm_opt, translation=job)
    assert "out of memory" in info.value.output and info.value.fix == step.TRANSLATE_FIX
    assert not (d / "loader.py").exists()


def test_a_translation_the_module_does_not_need_is_stopped(tmp_path: Path) -> None:
    d = staging(tmp_path, PLAIN)
    wasm_opt = fake_exe(tmp_path / "bin" / "wasm-opt", "exec sleep 600")  # never finishes
    job = step.start_translation(wasm_opt, d)
    info = step.emit_loader(d, wasm_opt=wasm_opt, translation=job)
    assert job.child.returncode is not None  # ended and reaped
    assert info.files == ["loader.py"] and not info.translated_to_exnref
    assert not (d / "loader_bg.wasm").exists()


def test_a_worker_module_needs_no_translation(tmp_path: Path) -> None:
    # a Worker's loader serves the build in workerd: the pipeline starts no exnref copy
    plain = tmp_path / "plain.wasm"
    plain.write_bytes(LEGACY)
    assert not step.exports_a_handler(plain)
    worker = tmp_path / "worker.wasm"
    worker.write_bytes(LEGACY.replace(b"\x03add\x00\x00", b"\x05fetch\x00\x00").replace(
        b"\x07\x10\x02", b"\x07\x12\x02"))  # fmt: skip
    assert step.exports_a_handler(worker)


# (i32, i32) -> i32 functions exported as `fetch` and `add` (the body: i32.add).
WORKER_MODULE = (
    HEADER
    + bytes([1, 7]) + b"\x01\x60\x02\x7f\x7f\x01\x7f"
    + bytes([3, 2]) + b"\x01\x00"
    + bytes([7, 15]) + b"\x02\x05fetch\x00\x00\x03add\x00\x00"
    + bytes([10, 9]) + b"\x01\x07\x00\x20\x00\x20\x01\x6a\x0b"
)  # fmt: skip
WORKER_GLUE = """
export function fetch(req, env, ctx) {
    const ret = wasm.fetch(req, env, ctx);
    return ret;
}

/**
 * @param {number} a
 * @param {number} b
 * @returns {number}
 */
export function add(a, b) {
    let ret;
    ret = wasm.add(a, b);
    return ret;
}

export function __worker_init_state() {
    return 1;
}

export class Counter {
}
"""


def test_loader_step_emits_the_worker_loader_for_a_worker_crate(tmp_path: Path) -> None:
    (tmp_path / "index_bg.wasm").write_bytes(WORKER_MODULE)
    (tmp_path / "index.js").write_text(WORKER_GLUE)
    paths = step.WorkerPaths(crate_dir=tmp_path / "crate", out_dir=tmp_path / "crate" / "build")
    info = step.emit_loader(tmp_path, wasm_opt=None, worker=paths)
    assert (info.kind, info.files, info.functions) == ("worker", ["loader.py"], ["add"])
    text = (tmp_path / "loader.py").read_text()
    assert "RPC_METHODS: tuple[str, ...] = ('add',)" in text
    assert not (tmp_path / "loader_bg.wasm").exists()
