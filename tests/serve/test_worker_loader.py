"""worker_build.serve.worker_loader, and steps/loader choosing the Worker loader for a Worker crate
(hand-made glue and module; the real builds are in tests/test_serve_real.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from worker_build.build.steps import python_loader as step
from worker_build.serve.worker_loader import WorkerExports, render_worker_loader, worker_exports

HEADER = b"\x00asm\x01\x00\x00\x00"
# (i32, i32) -> i32 functions exported as `fetch` and `add` (the body: i32.add).
MODULE = (
    HEADER
    + bytes([1, 7]) + b"\x01\x60\x02\x7f\x7f\x01\x7f"
    + bytes([3, 2]) + b"\x01\x00"
    + bytes([7, 15]) + b"\x02\x05fetch\x00\x00\x03add\x00\x00"
    + bytes([10, 9]) + b"\x01\x07\x00\x20\x00\x20\x01\x6a\x0b"
)  # fmt: skip
GLUE = """
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


def test_only_a_crate_with_a_handler_is_a_worker() -> None:
    assert worker_exports(["add", "greet"], ()) is None
    found = worker_exports(["queue", "add", "fetch", "onAbort", "__worker_init_state"], ("C",))
    assert found == WorkerExports(("fetch", "queue"), ("add",), ("C",))


def test_rendered_loader_is_python_that_names_what_the_worker_exports(tmp_path: Path) -> None:
    exports = WorkerExports(("fetch", "scheduled"), ("add",), ("Counter",))
    crate = tmp_path / "crate"
    text = render_worker_loader(exports, crate_dir=crate, out_dir=crate / "build")
    ast.parse(text)  # valid Python
    assert "CRATE_DIR = (BUILD_DIR / '..').resolve()" in text  # relative: they move together
    assert "HANDLERS: tuple[str, ...] = ('fetch', 'scheduled')" in text
    assert "Handlers: fetch, scheduled" in text and "Exported classes: Counter" in text
    assert "def serve(" in text and "import wasmtime" not in text


def test_crate_and_output_without_a_shared_parent_are_stored_absolute(tmp_path: Path) -> None:
    exports = WorkerExports(("fetch",), (), ())
    text = render_worker_loader(exports, crate_dir=tmp_path / "crate", out_dir=Path("/"))
    assert f"CRATE_DIR = (BUILD_DIR / '{(tmp_path / 'crate').resolve()}').resolve()" in text


def test_loader_step_emits_the_worker_loader_for_a_worker_crate(tmp_path: Path) -> None:
    (tmp_path / "index_bg.wasm").write_bytes(MODULE)
    (tmp_path / "index.js").write_text(GLUE)
    paths = step.WorkerPaths(crate_dir=tmp_path / "crate", out_dir=tmp_path / "crate" / "build")
    info = step.emit_loader(tmp_path, wasm_opt=None, worker=paths)
    assert (info.kind, info.files, info.functions) == ("worker", ["loader.py"], ["add"])
    text = (tmp_path / "loader.py").read_text()
    assert "RPC_METHODS: tuple[str, ...] = ('add',)" in text
    assert not (tmp_path / "loader_bg.wasm").exists()
