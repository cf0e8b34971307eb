"""`Kind`, one wasm-bindgen encoding of a value (loader/kinds.py): how one is written down,
how a kind with arguments is split, and what the ABI tables built from them keep true."""

from __future__ import annotations

import dataclasses

import pytest

from worker_build.loader import abi
from worker_build.loader.kinds import Kind, k, split

CORE_TYPES = {"i32", "i64", "f32", "f64", "externref"}


def test_k_splits_the_core_types_in_order() -> None:
    kind = k("opt_float64", "i32 f64", "float | None", "Option<f64>")
    assert kind == Kind("opt_float64", ("i32", "f64"), "float | None", "Option<f64>", False)
    assert k("none", "", "None", "()").wasm == ()  # a unit result occupies no value
    assert k("str", " i32  i32 ", "str", "&str", allocates=True).wasm == ("i32", "i32")


def test_only_kinds_copied_into_memory_allocate() -> None:
    assert not k("int32", "i32", "int", "i32").allocates
    assert k("bytes", "i32 i32", "bytes", "&[u8]", allocates=True).allocates


def test_a_kind_is_a_value() -> None:
    """Kinds are shared by every export of every loader: none can be changed in place."""
    kind = k("int32", "i32", "int", "i32")
    assert kind == k("int32", "i32", "int", "i32") and hash(kind) == hash(
        k("int32", "i32", "int", "i32")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        kind.hint = "float"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("int32", ("int32", [])),
        ("struct_ref:Point", ("struct_ref", ["Point"])),
        ("enum:Color:u8", ("enum", ["Color", "u8"])),
        ("struct:", ("struct", [""])),
    ],
)
def test_split_gives_the_base_and_its_arguments(text: str, parts: tuple[str, list[str]]) -> None:
    assert split(text) == parts


@pytest.mark.parametrize("table", ["PARAMS", "RETURNS"])
def test_the_abi_tables_name_each_kind_by_its_own_name(table: str) -> None:
    """abi.param / abi.result look a kind up by its name after `split`: a name with a
    colon would be mistaken for a kind with arguments."""
    kinds: dict[str, Kind] = getattr(abi, table)
    assert kinds
    for name, kind in kinds.items():
        assert name == kind.name and ":" not in name
        assert set(kind.wasm) <= CORE_TYPES, name


def test_a_kind_with_arguments_keeps_its_full_name() -> None:
    kind = abi.param("struct_ref:Point")
    assert kind.name == "struct_ref:Point" and kind.hint == "Point"
    assert split(kind.name) == ("struct_ref", ["Point"])
