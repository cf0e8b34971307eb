"""Importing a file by its path (util/pyimport.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from worker_build.util.pyimport import import_file


def test_preset_globals_are_there_before_the_module_runs(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("SEEN = dict(_PRESET)\n", encoding="utf-8")
    module = import_file(source, "wb_test_preset", preset={"_PRESET": {"a": 1}})
    assert module is not None and module.SEEN == {"a": 1}
    assert "wb_test_preset" not in sys.modules


def test_registered_while_it_runs(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("import sys\nFOUND = __name__ in sys.modules\n", encoding="utf-8")
    try:
        module = import_file(source, "wb_test_registered", register=True)
        assert module is not None and module.FOUND is True
        assert sys.modules["wb_test_registered"] is module
    finally:
        sys.modules.pop("wb_test_registered", None)


def test_not_a_python_file(tmp_path: Path) -> None:
    assert import_file(tmp_path / "data.bin", "wb_test_none") is None
