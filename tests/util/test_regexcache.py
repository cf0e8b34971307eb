"""The disk cache of compiled regular expressions (util/regexcache.py): the same matches
as re.compile, a later process loads instead of compiling, and nothing it finds on disk
(damaged, another pattern, unwritable) changes a result."""

from __future__ import annotations

import marshal
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fsfaults import unwritable
from worker_build.util import regexcache

# Groups, a possessive repeat, classes over all 256 bytes: what wasm/fast.py's patterns use.
PATTERN = rb"(?:[\x00-\x7f]|[\x80-\xff][\x00-\x7f])*+(?:([\x02\x03])(?<=\x02)[\x40\x7f]?|\Z)"
SAMPLES = [b"", b"\x01\x02\x40\x03", b"\x85\x01\x02", bytes(range(256)), "wörk".encode()]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cäche 日本"
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(root))
    return root


def files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cäche 日本" / regexcache.SUBDIR).glob("*.marshal"))


def matches(pattern: re.Pattern[bytes]) -> list[object]:
    return [pattern.findall(s) for s in SAMPLES] + [pattern.flags, pattern.groups]


def test_the_same_matches_as_re_compile_then_loaded_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = matches(re.compile(PATTERN, re.DOTALL))
    assert matches(regexcache.compile_bytes(PATTERN, re.DOTALL)) == want
    [kept] = files(tmp_path)

    def no_parsing(*args: object) -> None:
        raise AssertionError("compiled again instead of loaded")

    monkeypatch.setattr(regexcache, "_program", no_parsing)
    assert matches(regexcache.compile_bytes(PATTERN, re.DOTALL)) == want
    assert files(tmp_path) == [kept]


def test_other_flags_or_patterns_get_files_of_their_own(tmp_path: Path) -> None:
    regexcache.compile_bytes(PATTERN, re.DOTALL)
    regexcache.compile_bytes(PATTERN)
    regexcache.compile_bytes(rb"a(b)")
    assert len(files(tmp_path)) == 3
    assert regexcache.compile_bytes(rb"a(b)").findall(b"ab\nab") == [b"b", b"b"]
    assert regexcache.compile_bytes(PATTERN).flags == re.compile(PATTERN).flags


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not marshal",
        marshal.dumps((regexcache.FORMAT, rb"another pattern", 32, [1, 2], 0, {}, ())),
        marshal.dumps((regexcache.FORMAT, PATTERN, 32, [1, 2, 3], 1, {}, (None, None))),
        marshal.dumps((regexcache.FORMAT + 1, PATTERN)),
    ],
    ids=["empty", "garbage", "another pattern", "invalid program", "other format"],
)
def test_a_damaged_or_foreign_file_is_compiled_again_and_replaced(
    tmp_path: Path, damage: bytes
) -> None:
    regexcache.compile_bytes(PATTERN, re.DOTALL)
    [kept] = files(tmp_path)
    good = kept.read_bytes()
    kept.write_bytes(damage)
    assert matches(regexcache.compile_bytes(PATTERN, re.DOTALL)) == matches(
        re.compile(PATTERN, re.DOTALL)
    )
    assert kept.read_bytes() == good


def test_an_unwritable_cache_still_compiles(tmp_path: Path) -> None:
    root = tmp_path / "cäche 日本"
    root.mkdir()
    with unwritable(root):
        pattern = regexcache.compile_bytes(PATTERN, re.DOTALL)
    assert matches(pattern) == matches(re.compile(PATTERN, re.DOTALL))
    assert files(tmp_path) == [] and list(root.iterdir()) == []


def test_an_invalid_pattern_is_re_error() -> None:
    with pytest.raises(re.error):
        regexcache.compile_bytes(rb"(unclosed")


def test_a_new_process_finds_what_this_one_compiled(tmp_path: Path) -> None:
    regexcache.compile_bytes(PATTERN, re.DOTALL)
    # the child fails if it had to compile: the cache is what it loads
    child = (
        "import re, sys\n"
        "from worker_build.util import regexcache\n"
        "def no(*a): raise SystemExit('compiled again')\n"
        "regexcache._program = no\n"
        f"p = regexcache.compile_bytes({PATTERN!r}, re.DOTALL)\n"
        "print(p.findall(bytes(range(256))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == repr(re.compile(PATTERN, re.DOTALL).findall(bytes(range(256))))
