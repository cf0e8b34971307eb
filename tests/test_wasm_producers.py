"""The producers-section writer (worker_build/wasm/producers_section.py) and its step.

Round trips go through our own decoder; the module-level checks also ask
wasm-tools (an independent reader) for the producers it sees and whether the
result still validates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builds import Built
from tests.support.wasmgen import I32, body, export, functype, module, name, section, u, vec
from worker_build.build.steps import producers as step
from worker_build.errors import InvalidWasmError
from worker_build.wasm import producers_section
from worker_build.wasm.module import parse_module

WASM_TOOLS = Path(sys.executable).parent / "wasm-tools"
SDK = ("sdk", "workers-rs", "0.8.7")


def payload(fields: list[tuple[str, list[tuple[str, str]]]]) -> bytes:
    """A producers payload written independently of the code under test."""
    return vec(name(f) + vec(name(n) + name(v) for n, v in values) for f, values in fields)


def small_module(*customs: tuple[str, bytes]) -> bytes:
    """One exported (i32) -> i32 function, then the given custom sections."""
    return module(
        types=[functype([I32], [I32])],
        exports=[export("id", 0, 0)],
        bodies=[body(b"\x20\x00\x0b")],
        customs=customs,
    )


BINDGEN_FIELDS = [("processed-by", [("rustc", "1.96.0"), ("walrus", "0.27.3"),
                                    ("wasm-bindgen", "0.2.130")])]  # fmt: skip


def wasm_tools_producers(path: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        [str(WASM_TOOLS), "metadata", "show", "--json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {field: values for field, values in json.loads(out)["module"]["producers"] or []}


def validate(path: Path) -> None:
    subprocess.run([str(WASM_TOOLS), "validate", str(path)], check=True, capture_output=True)


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


class _Ctx:
    def __init__(self, bindgen_dir: Path) -> None:
        self.bindgen_dir = bindgen_dir
        self.facts: dict[str, object] = {}


def test_step_writes_the_sdk_entry_of_the_rust_tool(tmp_path: Path) -> None:
    module_path = tmp_path / "index_bg.wasm"
    module_path.write_bytes(small_module(("producers", payload(BINDGEN_FIELDS))))
    ctx = _Ctx(tmp_path)
    step.run(ctx)  # type: ignore[arg-type]
    assert step.SDK_ENTRY == SDK
    assert wasm_tools_producers(module_path)["sdk"] == {"workers-rs": "0.8.7"}
    assert ctx.facts["producers_sdk"] == "workers-rs 0.8.7"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index_bg.wasm"]  # no leftovers


@pytest.mark.slow
def test_built_module_carries_the_sdk_entry(hello_unwind: Built) -> None:
    validate_args = ["--features", "all"]  # legacy EH needs legacy-exceptions
    subprocess.run([str(WASM_TOOLS), "validate", *validate_args, str(hello_unwind.wasm)],
                   check=True, capture_output=True)  # fmt: skip
    seen = wasm_tools_producers(hello_unwind.wasm)
    assert seen["sdk"] == {"workers-rs": "0.8.7"}
    assert seen["processed-by"]["wasm-bindgen"] == "0.2.130"  # wasm-bindgen's entries kept
    # one producers section, as wasm-objdump lists the custom sections
    objdump = subprocess.run(
        [str(WASM_TOOLS.with_name("wasm-objdump")), "-x", str(hello_unwind.wasm)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert objdump.count('- name: "producers"') == 1
