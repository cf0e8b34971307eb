"""Importing a Python file by its path, as the generated loaders are imported.

A generated `loader.py` is not on sys.path: the loader runtime (a wasmtime loader,
with its JS imports preset) and the pytest plugin (a Worker's loader) import it from
the build directory. Standard library only: neither may pull in wasmtime for the other.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any


def import_file(
    path: Path,
    name: str,
    *,
    preset: Mapping[str, Any] | None = None,
    register: bool = False,
) -> ModuleType | None:
    """The module `name` made by running `path`, with the globals in `preset` set
    before it runs; with `register` it is in sys.modules while it runs (as `import`
    does, which dataclasses and pickling need). None when `path` cannot be imported as
    a Python file."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(preset or {})
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
