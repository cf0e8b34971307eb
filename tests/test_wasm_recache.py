"""The on-disk cache of compiled expressions (worker_build/wasm/recache.py)."""

from __future__ import annotations

import marshal
import os
import re
from pathlib import Path

import pytest

from worker_build.wasm import fast, recache


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "regex"


def stored(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.marshal")) if cache.is_dir() else []


@pytest.mark.parametrize(("mem64", "immediates"), [(False, False), (False, True), (True, True)])
def test_a_stored_program_gives_the_pattern_re_compile_gives(
    cache: Path, mem64: bool, immediates: bool
) -> None:
    text = fast._build_pattern(mem64, immediates)
    first = recache.compile_cached(text, re.DOTALL)
    assert len(stored(cache)) == 1
    second = recache.compile_cached(text, re.DOTALL)
    # patterns compare by flags, pattern text and compiled code
    assert first == second == re.compile(text, re.DOTALL)
    assert second.groups == (2 if immediates else 1)


def test_the_stored_program_is_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = fast._build_pattern(False, False)
    recache.compile_cached(text, re.DOTALL)

    def no_compile(*args: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(recache.re, "compile", no_compile)
    monkeypatch.setattr(recache, "_program", no_compile)
    assert recache.compile_cached(text, re.DOTALL).pattern == text


def test_a_file_for_another_pattern_or_a_corrupt_one_is_not_used(cache: Path) -> None:
    text = rb"(a)(?:b|c)+"
    recache.compile_cached(text, 0)
    [path] = stored(cache)
    # the same file name holding another pattern (a name collision): compiled anew
    path.write_bytes(marshal.dumps((recache.FORMAT, rb"(x)", 0, (0, [1], 0, {}, (None,)))))
    assert recache.compile_cached(text, 0) == re.compile(text)
    assert marshal.loads(path.read_bytes())[1] == text  # and stored again
    path.write_bytes(b"\x00garbage")
    assert recache.compile_cached(text, 0) == re.compile(text)
    # a program the engine refuses
    path.write_bytes(marshal.dumps((recache.FORMAT, text, 0, ("not", "a", "program"))))
    assert recache.compile_cached(text, 0) == re.compile(text)


def test_without_a_writable_cache_it_still_compiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")  # the cache directory would have to be below a file
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(blocker / "cache"))
    assert recache.compile_cached(rb"a+", 0) == re.compile(rb"a+")
    assert sorted(os.listdir(tmp_path)) == ["file"]


def test_when_the_internal_interface_moved_nothing_is_stored(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recache, "_program", lambda pattern, flags: None)
    assert recache.compile_cached(rb"a+", 0) == re.compile(rb"a+")
    assert stored(cache) == []
