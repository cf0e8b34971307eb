"""The `producers` custom section (WebAssembly tool-conventions, ProducersSection.md).

Its payload is a vector of fields, each a name ("language", "processed-by" or
"sdk") and a vector of (name, version) pairs, all UTF-8 strings. A field name
appears once per section and a value name once per field. rustc and wasm-bindgen
write one (processed-by: rustc, walrus, wasm-bindgen).

`add_entries` merges entries into a module's first producers section (appending
a new section at the end when it has none), as the Rust worker-build does: an
entry whose field and name are already present is left alone (its version is
not updated), and the section is re-encoded with each field once, in first-seen
order. Nothing else in the module moves: the other sections are copied byte for
byte, so code offsets after the section change only by the section's growth.
"""

from __future__ import annotations

from worker_build.errors import InvalidWasmError
from worker_build.wasm.module import MAGIC, VERSION
from worker_build.wasm.reader import Reader

SECTION_NAME = "producers"
Entry = tuple[str, str, str]  # (field, name, version)
Fields = list[tuple[str, list[tuple[str, str]]]]  # [(field, [(name, version), ...]), ...]

__all__ = ["SECTION_NAME", "Entry", "Fields", "add_entries", "encode", "find", "read"]


def find(data: bytes) -> tuple[int, int, int] | None:
    """(section start, payload start after the name, section end) of the first
    producers section, or None. Reads only the section framing."""
    if len(data) < 8 or data[:4] != MAGIC or data[4:8] != VERSION:
        raise InvalidWasmError("not a WebAssembly module (bad header)", 0)
    r = Reader(data, 8)
    while not r.at_end():
        start = r.pos
        section_id = r.byte("section id")
        size_at = r.pos
        size = r.u32("section size")
        if size > r.remaining:
            raise InvalidWasmError(
                f"section size {size} goes past the end of the file ({r.remaining} bytes left)",
                size_at,
            )
        end = r.pos + size
        if section_id == 0:
            name = Reader(data, r.pos, end)
            if name.name("custom section name") == SECTION_NAME:
                return start, name.pos, end
        r.pos = end
    return None


def decode(data: bytes, pos: int, end: int) -> Fields:
    """The fields of a producers payload data[pos:end] (strict: it must end exactly)."""
    r = Reader(data, pos, end)
    fields: Fields = []
    for _ in range(r.count("producers field", 2)):
        field = r.name("producers field name")
        values = []
        for _ in range(r.count("producers value", 2)):
            values.append((r.name("producers value name"), r.name("producers value version")))
        fields.append((field, values))
    if not r.at_end():
        raise InvalidWasmError(f"producers section has {r.remaining} bytes after its fields", r.pos)
    return fields


def read(data: bytes) -> Fields:
    """The module's producers fields ([] when it has no producers section)."""
    found = find(data)
    return decode(data, found[1], found[2]) if found else []


def _u32(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _name(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _u32(len(raw)) + raw


def encode(fields: Fields) -> bytes:
    """A complete producers custom section (id, size, name, payload)."""
    payload = [_name(SECTION_NAME), _u32(len(fields))]
    for field, values in fields:
        payload += [_name(field), _u32(len(values))]
        for name, version in values:
            payload += [_name(name), _name(version)]
    body = b"".join(payload)
    return b"\x00" + _u32(len(body)) + body


def merge(fields: Fields, entries: list[Entry]) -> Fields:
    """`fields` with each field once (first-seen order) plus the entries whose
    (field, name) pair is not present yet."""
    merged: dict[str, list[tuple[str, str]]] = {}
    for field, values in fields:
        merged.setdefault(field, []).extend(values)
    for field, name, version in entries:
        values = merged.setdefault(field, [])
        if all(existing != name for existing, _ in values):
            values.append((name, version))
    return list(merged.items())


def add_entries(data: bytes, entries: list[Entry]) -> bytes:
    """The module with `entries` merged into its producers section. Returns `data`
    itself when every entry is already there."""
    found = find(data)
    fields = decode(data, found[1], found[2]) if found else []
    merged = merge(fields, entries)
    if merged == fields:
        return data
    section = encode(merged)
    if found is None:
        return data + section
    start, _, end = found
    return data[:start] + section + data[end:]
