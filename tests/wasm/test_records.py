"""The records parse_module returns (wasm/records.py): value equality, hashing and repr
from their slots, and the Module's view of its imports."""

from __future__ import annotations

from worker_build.wasm.records import CustomSection, Export, FuncType, Import, Module


def test_records_compare_and_hash_by_value() -> None:
    assert Export("wörk", "func", 3) == Export("wörk", "func", 3)
    assert Export("wörk", "func", 3) != Export("wörk", "func", 4)
    assert Export("a", "func", 0) != Import("a", "func", "func")  # another record kind
    assert len({FuncType(("i32",), ()), FuncType(("i32",), ()), FuncType((), ("i32",))}) == 2
    assert repr(CustomSection("name", 10, 2)) == "CustomSection(name='name', offset=10, size=2)"


def test_module_lists_its_imports_of_one_kind() -> None:
    m = Module(size=8)
    m.imports = [Import("env", "f", "func", 0), Import("env", "t", "tag", 1)]
    assert m.imported("tag") == [Import("env", "t", "tag", 1)]
    assert m.imported("memory") == [] and m.bodies == [] and not m.mem64
