"""The package's layout as the README describes it, kept true: role packages on layers
(a package imports only packages below it), no import cycle between modules, a few
modules at the top, none over 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

from harness.paths import REPO

PACKAGE = REPO / "worker_build"
# Each package may import the ones on lower layers only (the package face, errors.py,
# is the bottom; cli/ the top).
LAYERS: list[set[str]] = [
    {"__init__", "errors"},
    {"util"},
    {"wasm"},
    {"tools", "loader"},
    {"rust", "serve"},
    {"build"},
    {"cli"},
    {"__main__", "pytest_plugin"},
]
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every worker_build module `path` imports, at module level or inside a function."""
    found: set[str] = set()
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.split(".")[0] == "worker_build"}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_package_imports_only_the_layers_below_it() -> None:
    upward = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        if package_of(source) != package_of(target)
        and RANK[package_of(target)] >= RANK[package_of(source)]
    ]
    assert upward == []


def test_no_import_cycle_between_modules() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_a_few_modules_at_the_top_and_none_over_500_lines() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
    assert set(LAYERS[0] | LAYERS[-1]) >= {Path(name).stem for name in top}
    long = {
        str(p.relative_to(REPO)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}
