"""A bounded cursor over wasm bytes with strict LEB128 decoding.

Every read checks the bound it was given (a section or body end, never just
the end of the file) and raises InvalidWasmError with the offset of the first
byte of the value that could not be read. LEB128 rules follow the binary
format: at most ceil(N/7) bytes for an N-bit integer ("too long"), and the
unused bits of the last byte must be zero (unsigned) or copies of the sign bit
(signed) ("overflows").
"""

from __future__ import annotations

from worker_build.errors import InvalidWasmError

__all__ = ["Reader", "read_leb_s", "read_leb_u"]


def read_leb_u(data: bytes, pos: int, end: int, bits: int, what: str) -> tuple[int, int]:
    """Unsigned LEB128 of at most `bits` bits at data[pos:end] -> (value, next pos)."""
    start = pos
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    while True:
        if pos >= end:
            raise InvalidWasmError(f"unexpected end of data in {what} (LEB128)", start)
        b = data[pos]
        pos += 1
        if pos - start == max_bytes:
            # last allowed byte: no continuation, unused high bits zero
            if b & 0x80:
                raise InvalidWasmError(
                    f"{what}: LEB128 too long (more than {max_bytes} bytes for u{bits})", start
                )
            if b >> (bits - shift):
                raise InvalidWasmError(f"{what}: LEB128 value overflows u{bits}", start)
            return result | (b << shift), pos
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def read_leb_s(data: bytes, pos: int, end: int, bits: int, what: str) -> tuple[int, int]:
    """Signed LEB128 of at most `bits` bits at data[pos:end] -> (value, next pos)."""
    start = pos
    result = 0
    shift = 0
    max_bytes = (bits + 6) // 7
    while True:
        if pos >= end:
            raise InvalidWasmError(f"unexpected end of data in {what} (LEB128)", start)
        b = data[pos]
        pos += 1
        if pos - start == max_bytes:
            if b & 0x80:
                raise InvalidWasmError(
                    f"{what}: LEB128 too long (more than {max_bytes} bytes for s{bits})", start
                )
            # bits (bits-1-shift) .. 6 of the last byte must all equal the sign bit
            used = bits - shift  # value bits held by this byte, sign bit included
            if used < 7:
                rest = b >> (used - 1)  # sign bit and the unused bits above it
                if rest not in (0, (1 << (8 - used)) - 1):
                    raise InvalidWasmError(f"{what}: LEB128 value overflows s{bits}", start)
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos


class Reader:
    """Cursor over data[pos:end]; `end` is a hard bound for every read."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def fail(self, message: str, offset: int | None = None) -> InvalidWasmError:
        return InvalidWasmError(message, self.pos if offset is None else offset)

    def byte(self, what: str) -> int:
        if self.pos >= self.end:
            raise self.fail(f"unexpected end of data in {what}")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def peek(self, what: str) -> int:
        if self.pos >= self.end:
            raise self.fail(f"unexpected end of data in {what}")
        return self.data[self.pos]

    def take(self, n: int, what: str) -> bytes:
        if n > self.end - self.pos:
            raise self.fail(
                f"unexpected end of data in {what}: need {n} bytes, {self.end - self.pos} left"
            )
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def skip(self, n: int, what: str) -> None:
        if n > self.end - self.pos:
            raise self.fail(
                f"unexpected end of data in {what}: need {n} bytes, {self.end - self.pos} left"
            )
        self.pos += n

    def u32(self, what: str) -> int:
        data = self.data
        pos = self.pos
        if pos < self.end and data[pos] < 0x80:  # one-byte fast path
            self.pos = pos + 1
            return data[pos]
        value, self.pos = read_leb_u(data, pos, self.end, 32, what)
        return value

    def u64(self, what: str) -> int:
        value, self.pos = read_leb_u(self.data, self.pos, self.end, 64, what)
        return value

    def s32(self, what: str) -> int:
        value, self.pos = read_leb_s(self.data, self.pos, self.end, 32, what)
        return value

    def s33(self, what: str) -> int:
        value, self.pos = read_leb_s(self.data, self.pos, self.end, 33, what)
        return value

    def s64(self, what: str) -> int:
        value, self.pos = read_leb_s(self.data, self.pos, self.end, 64, what)
        return value

    def count(self, what: str, min_size: int = 1) -> int:
        """A vector length, rejected up front if its elements cannot fit in what is left."""
        start = self.pos
        n = self.u32(f"{what} count")
        if n * min_size > self.end - self.pos:
            raise self.fail(
                f"{what} count {n} is larger than the {self.end - self.pos} bytes left", start
            )
        return n

    def name(self, what: str) -> str:
        start = self.pos
        n = self.u32(f"{what} length")
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.fail(f"{what} is not valid UTF-8", start) from e
