"""The wasm decoders (wasm/code.py, fast.py, eh.py) under property-based fuzzing (hypothesis).

Seeds are real modules (tests/data/verify/: pure-exports built with legacy EH,
exnref EH, and legacy run through `wasm-opt -O --translate-to-exnref`) and the
hand-made fixtures of the unit tests. Mutations flip, overwrite, insert, delete,
duplicate and truncate bytes, and write extreme LEB128 values.

Properties:
* `scan_ranges` over several bodies laid end to end (as in a code section) gives
  walk_body's result on each: summed counts and tag uses, or the first error;
* verify never raises anything but InvalidWasmError / NoExceptionHandlingError
  (no IndexError, RecursionError, MemoryError, ...), and an InvalidWasmError
  offset always lies inside the input;
* the regex fast path and the reference walker agree on every mutated body:
  same counts, or the same error at the same offset;
* no hang: each example runs under a CPU-time limit (`cpu_limit`, ~100x the real
  cost), a hang guard that machine load cannot trip. Hypothesis' wall-clock
  `deadline` is off: on a busy machine it failed examples that were merely
  descheduled (not a speed assertion; speed lives in benchmarks/).

Example counts (the report quotes them): MODULE_EXAMPLES + BODY_EXAMPLES +
STRUCTURED_EXAMPLES + RANGES_EXAMPLES per run.
"""

from __future__ import annotations

import contextlib
import functools
import random
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.paths import REPO
from tests.support.ehmodules import EXNREF, LEGACY, PLAIN, wb_module
from tests.support.wasmgen import END, catalogue, func_module, s, u, u_padded
from worker_build.errors import InvalidWasmError, NoExceptionHandlingError
from worker_build.wasm import code
from worker_build.wasm.eh import verify_bytes
from worker_build.wasm.fast import scan_body, scan_ranges
from worker_build.wasm.module import parse_module

DATA = REPO / "tests" / "data" / "verify"
MODULE_EXAMPLES = 20_000
BODY_EXAMPLES = 50_000
STRUCTURED_EXAMPLES = 30_000
RANGES_EXAMPLES = 10_000

EXTREME_LEBS = [
    b"\xff\xff\xff\xff\x0f",  # u32 max
    b"\xff\xff\xff\xff\x1f",  # u32 overflow
    b"\x80\x80\x80\x80\x80\x00",  # too long
    b"\xff\xff\xff\xff\x07",
    b"\x80",  # truncated
    b"\xfe\xff\xff\xff\x07",
    u_padded(0, 5),
    b"\x00",
    b"\x7f",
]


@functools.cache
def real_modules() -> list[bytes]:
    found = sorted(DATA.glob("*.wasm"))
    assert len(found) >= 3, f"fuzz seeds missing in {DATA}"
    return [p.read_bytes() for p in found]


@functools.cache
def seeds() -> list[bytes]:
    hand = [
        wb_module(LEGACY, PLAIN, EXNREF),
        wb_module(PLAIN, bindgen=False),
        func_module(*(enc + END for _, enc in catalogue()[::7])),
    ]
    return real_modules() + hand


@functools.cache
def real_bodies() -> list[bytes]:
    out = []
    for data in real_modules():
        m = parse_module(data)
        out.extend(data[s:e] for s, e in m.bodies)
    return out


IN_PLACE = ["flip", "set", "overwrite"]
ANY_EDIT = ["flip", "set", "overwrite", "insert", "delete", "lebs", "dup", "cut"]


def mutate(
    base: bytes, rnd: random.Random, max_edits: int = 6, edits: list[str] = ANY_EDIT
) -> bytes:
    data = bytearray(base)
    for _ in range(rnd.randint(1, max_edits)):
        op = rnd.choice(edits)
        pos = rnd.randrange(max(1, len(data)))
        if op == "flip" and data:
            data[pos] ^= 1 << rnd.randrange(8)
        elif op == "set" and data:
            data[pos] = rnd.randrange(256)
        elif op == "insert":
            data[pos:pos] = rnd.randbytes(rnd.randint(1, 8))
        elif op == "delete":
            del data[pos : pos + rnd.randint(1, 16)]
        elif op == "overwrite":  # same length: section and body sizes stay intact
            leb = rnd.choice(EXTREME_LEBS)[: len(data) - pos]
            data[pos : pos + len(leb)] = leb
        elif op == "lebs":
            leb = rnd.choice(EXTREME_LEBS)
            data[pos : pos + len(leb) * rnd.randint(0, 1)] = leb
        elif op == "dup":
            n = rnd.randint(1, 64)
            data[pos:pos] = data[pos : pos + n]
        elif op == "cut":
            del data[pos:]
    return bytes(data)


# Every example is built from one drawn seed: cheap per example (hypothesis'
# own draws cost more than decoding a body), and a failure still replays.
SEEDS = st.integers(0, 2**64)


def mutated_module(seed: int) -> bytes:
    rnd = random.Random(seed)
    base = rnd.choice(seeds())
    roll = rnd.random()
    if roll < 0.4:  # in place: framing survives, so the edits reach the code
        return mutate(base, rnd, 4, IN_PLACE)
    if roll < 0.7:  # the first few hundred bytes: section headers, types, imports
        head = rnd.randint(8, 600)
        return mutate(base[:head], rnd) + base[head:]
    return mutate(base, rnd)


class HangError(AssertionError):
    pass


@contextlib.contextmanager
def cpu_limit(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) once this process has spent `seconds` of CPU time in
    the block. ITIMER_PROF counts our own CPU time, so other processes' load does
    not move it, unlike a wall-clock deadline."""

    def expired(signum: int, frame: object) -> None:
        raise HangError(f"more than {seconds} s of CPU time in one example: a hang?")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def test_cpu_limit_stops_a_hang() -> None:
    with pytest.raises(HangError), cpu_limit(0.2):
        while True:
            pass


@settings(
    max_examples=MODULE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(SEEDS)
def test_mutated_modules_fail_cleanly(seed: int) -> None:
    data = mutated_module(seed)
    try:
        with cpu_limit(5):
            report = verify_bytes(data, "any")
        assert report.size == len(data)
    except InvalidWasmError as e:
        assert 0 <= e.offset <= len(data)
        assert e.reason and "\n" not in e.reason
    except NoExceptionHandlingError:
        pass


def _agree(body: bytes) -> None:
    slow_tags: code.TagUses = {}
    fast_tags: code.TagUses = {}
    try:
        slow: list[int] | InvalidWasmError = code.walk_body(body, 0, len(body), False, slow_tags)
    except InvalidWasmError as e:
        slow = e
    try:
        fast: list[int] | InvalidWasmError = scan_body(body, 0, len(body), False, fast_tags)
    except InvalidWasmError as e:
        fast = e
    clause_tags: code.TagUses = {}
    try:
        clause_mode: list[int] | InvalidWasmError = scan_body(
            body, 0, len(body), False, clause_tags, True
        )
    except InvalidWasmError as e:
        clause_mode = e
    for other, tags in ((fast, fast_tags), (clause_mode, clause_tags)):
        if isinstance(slow, InvalidWasmError):
            assert isinstance(other, InvalidWasmError), (body.hex(), other)
            assert (other.reason, other.offset) == (slow.reason, slow.offset)
            assert 0 <= slow.offset <= len(body)
        else:
            assert other == slow, body.hex()
            assert tags == slow_tags, body.hex()


@settings(
    max_examples=BODY_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(SEEDS)
def test_fast_and_reference_decoders_agree_on_mutated_bodies(seed: int) -> None:
    rnd = random.Random(seed)
    body = mutate(rnd.choice(real_bodies()), rnd, max_edits=3)
    with cpu_limit(2):
        _agree(body)


CONTROL = [
    b"\x02\x40", b"\x03\x7f", b"\x04\x40", b"\x05", b"\x06\x40", b"\x07\x00", b"\x19",
    b"\x18\x00", b"\x09\x00", b"\x08\x00", b"\x0a", b"\x1f\x40\x01\x03\x00",
    b"\x1f\x40\x02\x00\x00\x00\x01\x00\x01", b"\x0b", b"\x0b", b"\x0b",
]  # fmt: skip


INSTRUCTIONS = [enc for _, enc in catalogue()]
# try_table block types of every form (the fast path skips them in Python) and tags
# past one LEB byte.
NAMING = [
    b"\x1f\x7f\x01\x00" + u(300) + u(0), b"\x1f" + u(3) + b"\x01\x02\x00",
    b"\x1f" + u(70000) + b"\x00", b"\x1f\x63\x70\x01\x03\x01", b"\x1f\x64" + s(9) + b"\x00",
    b"\x1f\x64\x6f\x02\x01" + u(200) + u(0) + b"\x03\x00",
    b"\x07" + u(129), b"\x08" + u(300), b"\x08" + u_padded(1, 5),
]  # fmt: skip


def long_br_table(rnd: random.Random) -> bytes:
    """A br_table with more targets than the main expression takes (MAX_FAST_TARGETS),
    sometimes with a wrong count, an over-long LEB or a truncated vector."""
    n = rnd.randrange(16, 300)
    count = u(n) if rnd.random() < 0.8 else rnd.choice([u_padded(n, 5), u(n + 5), b"\xff"])
    targets = [u(rnd.randrange(4)) if rnd.random() < 0.95 else b"\x80" for _ in range(n + 1)]
    if rnd.random() < 0.1:
        del targets[rnd.randrange(len(targets)) :]
    return b"\x0e" + count + b"".join(targets)


def structured_body(seed: int) -> bytes:
    """Random instruction sequences: mostly valid encodings, randomly nested."""
    rnd = random.Random(seed)
    parts = []
    for _ in range(rnd.randrange(60)):
        roll = rnd.random()
        if roll < 0.6:
            parts.append(rnd.choice(INSTRUCTIONS))
        elif roll < 0.9:
            parts.append(rnd.choice(CONTROL))
        elif roll < 0.94:
            parts.append(rnd.choice(NAMING))
        elif roll < 0.96:
            parts.append(long_br_table(rnd))
        else:
            parts.append(rnd.randbytes(rnd.randrange(1, 4)))
    return b"".join(parts) + rnd.choice([END, END + END, b""])


@settings(
    max_examples=STRUCTURED_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(SEEDS)
def test_fast_and_reference_decoders_agree_on_random_instruction_streams(seed: int) -> None:
    body = structured_body(seed)
    with cpu_limit(2):
        _agree(body)


@settings(
    max_examples=RANGES_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(SEEDS)
def test_scanning_many_bodies_at_once_agrees_with_the_reference(seed: int) -> None:
    rnd = random.Random(seed)
    bodies = [
        structured_body(rnd.randrange(2**64))
        if rnd.random() < 0.5
        else mutate(rnd.choice(real_bodies()), rnd, max_edits=2)
        if rnd.random() < 0.3
        else rnd.choice(real_bodies())
        for _ in range(rnd.randint(1, 8))
    ]
    data = b"".join(bodies)
    ranges, pos = [], 0
    for body in bodies:
        ranges.append((pos, pos + len(body)))
        pos += len(body)
    slow_tags: code.TagUses = {}
    totals, with_eh, error = [0] * code.N_SLOTS, 0, None
    for index, (start, end) in enumerate(ranges):
        try:
            counts = code.walk_body(data, start, end, False, slow_tags)
        except InvalidWasmError as e:
            error = (index, e.reason, e.offset)
            break
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        with_eh += any(counts)
    fast_tags: code.TagUses = {}
    with cpu_limit(2):
        scan = scan_ranges(data, ranges, False, fast_tags)
    if error is not None:
        assert scan.error is not None, data.hex()
        assert (scan.error[0], scan.error[1].reason, scan.error[1].offset) == error
    else:
        assert scan.error is None, (data.hex(), scan.error)
        assert (scan.totals, scan.with_eh, fast_tags) == (totals, with_eh, slow_tags), data.hex()
