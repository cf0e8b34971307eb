"""The producers-section writer (worker_build/wasm/producers_section.py), read back by our
decoder and by wasm-tools (an independent reader)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.producers import (
    BINDGEN_FIELDS,
    SDK,
    payload,
    small_module,
    validate,
    wasm_tools_producers,
)
from tests.support.wasmgen import name, section, u
from worker_build.errors import InvalidWasmError
from worker_build.wasm import producers_section
from worker_build.wasm.module import parse_module

# ------------------------------------------------------------------ encoder / decoder


@pytest.mark.parametrize(
    "fields",
    [
        [],
        BINDGEN_FIELDS,
        [("language", [("Rust", "")]), ("sdk", [("workers-rs", "0.8.7")])],
        # names longer than 127 bytes need multi-byte lengths; non-ASCII is UTF-8
        [("processed-by", [("x" * 200, "v" * 300), ("wörker", "ü")])],
    ],
)
def test_encode_round_trips_through_the_decoder(
    fields: list[tuple[str, list[tuple[str, str]]]],
) -> None:
    encoded = producers_section.encode(fields)
    assert encoded == section(0, name("producers") + payload(fields))
    data = small_module() + encoded
    assert producers_section.read(data) == fields


def test_added_to_a_module_without_the_section() -> None:
    data = small_module()
    out = producers_section.add_entries(data, [SDK])
    assert out[: len(data)] == data  # appended, nothing else moved
    assert producers_section.read(out) == [("sdk", [("workers-rs", "0.8.7")])]
    assert [c.name for c in parse_module(out).customs] == ["producers"]


def test_merged_into_the_existing_section_in_place() -> None:
    data = small_module(("producers", payload(BINDGEN_FIELDS)), ("name", b"\x00\x03\x02ab"))
    out = producers_section.add_entries(data, [SDK])
    assert producers_section.read(out) == [*BINDGEN_FIELDS, ("sdk", [("workers-rs", "0.8.7")])]
    # the section keeps its place: the `name` section still follows it, unchanged
    assert [c.name for c in parse_module(out).customs] == ["producers", "name"]
    assert out.endswith(section(0, name("name") + b"\x00\x03\x02ab"))
    start = producers_section.find(data)
    assert start is not None and out[: start[0]] == data[: start[0]]


def test_an_existing_field_gets_the_value_and_an_existing_pair_is_kept() -> None:
    fields = [("sdk", [("other-sdk", "1.0")])]
    out = producers_section.add_entries(small_module(("producers", payload(fields))), [SDK])
    assert producers_section.read(out) == [("sdk", [("other-sdk", "1.0"), ("workers-rs", "0.8.7")])]
    # already there (another version): left alone, the module returned as it was
    newer = producers_section.add_entries(out, [("sdk", "workers-rs", "9.9.9")])
    assert newer is out


def test_adding_twice_changes_nothing() -> None:
    once = producers_section.add_entries(small_module(), [SDK])
    assert producers_section.add_entries(once, [SDK]) is once


def test_repeated_fields_are_merged_into_one() -> None:
    fields = [("processed-by", [("a", "1")]), ("processed-by", [("b", "2")])]
    out = producers_section.add_entries(small_module(("producers", payload(fields))), [SDK])
    assert producers_section.read(out) == [
        ("processed-by", [("a", "1"), ("b", "2")]),
        ("sdk", [("workers-rs", "0.8.7")]),
    ]


@pytest.mark.parametrize(
    ("raw", "what"),
    [
        (payload(BINDGEN_FIELDS) + b"\x00", "1 bytes after its fields"),
        (u(1) + name("sdk") + u(1) + name("workers-rs"), "unexpected end of data"),
        (u(1) + u(2) + b"\xff\xfe" + u(0), "not valid UTF-8"),
        (u(1000), "producers field count 1000"),
    ],
)
def test_a_malformed_section_is_an_error(raw: bytes, what: str) -> None:
    with pytest.raises(InvalidWasmError, match=what):
        producers_section.add_entries(small_module(("producers", raw)), [SDK])


def test_not_a_module_is_an_error() -> None:
    with pytest.raises(InvalidWasmError, match="bad header"):
        producers_section.add_entries(b"\x00asm\x02\x00\x00\x00", [SDK])
    truncated = small_module() + b"\x00\x10\x09producers"
    with pytest.raises(InvalidWasmError, match="goes past the end"):
        producers_section.find(truncated)


# ------------------------------------------------------------------ independent reader


def test_wasm_tools_reads_what_we_wrote(tmp_path: Path) -> None:
    path = tmp_path / "m.wasm"
    path.write_bytes(
        producers_section.add_entries(small_module(("producers", payload(BINDGEN_FIELDS))), [SDK])
    )
    validate(path)
    assert wasm_tools_producers(path) == {
        "processed-by": {"rustc": "1.96.0", "walrus": "0.27.3", "wasm-bindgen": "0.2.130"},
        "sdk": {"workers-rs": "0.8.7"},
    }


# ------------------------------------------------------------------ the step
