"""worker_build.serve.worker_loader: which crates are Workers, and the loader.py that serves
one (the step that writes it is tested in tests/test_loader_step.py; the real builds are in
tests/integration/test_serve_real.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from worker_build.serve.worker_loader import WorkerExports, render_worker_loader, worker_exports


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
