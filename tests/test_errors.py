"""The error classes and the one table of exit codes (errors.py)."""

from __future__ import annotations

import io
import re

import pytest

from harness.paths import REPO
from worker_build import errors
from worker_build.cli import ui
from worker_build.errors import WorkerBuildError


def _error_classes() -> list[type[WorkerBuildError]]:
    """Every WorkerBuildError subclass the package defines (all modules imported)."""
    import importlib
    import pkgutil

    import worker_build

    for info in pkgutil.walk_packages(worker_build.__path__, "worker_build."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, stack = [], [WorkerBuildError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_is_one_line(cls: type[WorkerBuildError]) -> None:
    """README: every error is one line. Whatever a message carries after its first line
    (a tool's output, a log tail) is shown above that line, never inside it."""
    shapes: list[tuple[object, ...]] = [  # the longest signature that fits
        (["tool"], 1, "line 1\nline 2", "fix\r\n  it", "cause\nmore"),  # CommandFailedError
        ("it failed:\n  line 1\n  line 2", 7, "fix\r\n  it"),  # InvalidWasmError
        ("it failed:\n  line 1\n  line 2", "fix\r\n  it"),
    ]
    for args in shapes:
        try:
            error = cls(*args)  # type: ignore[arg-type]
            break
        except TypeError:
            continue
    else:
        pytest.fail(f"cannot construct {cls.__name__}: add its signature here")
    assert "\n" not in error.one_line() and "\r" not in error.one_line()
    assert error.one_line().endswith("(fix it)")
    stream = io.StringIO()
    ui.Reporter(ui.Mode.NORMAL, stream=stream, env={}).error(error)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("error: ") and lines[-1].endswith("(fix it)")
    assert not [line for line in lines[:-1] if line.startswith("error:")]
    assert "line 2" in stream.getvalue()  # the rest is shown, above the error line


def test_exit_codes_are_distinct_and_cover_every_error_class() -> None:
    codes = [code for code, _, _ in errors.EXIT_CODES]
    assert codes == sorted(set(codes))
    assert {cls.exit_code for cls in _error_classes()} <= set(codes)


def test_help_lists_every_code_or_the_ones_asked_for() -> None:
    text = errors.exit_codes_help()
    assert text.startswith("Exit codes: 0 ok, 1 a tool failed, 2 usage,")
    assert all(f"{code} " in text for code, _, _ in errors.EXIT_CODES)
    assert errors.exit_codes_help((0, 7)) == "Exit codes: 0 ok, 7 invalid wasm."


@pytest.mark.parametrize("doc", ["README.md", "docs/ci.md"])
def test_the_docs_show_the_table_of_errors_py(doc: str) -> None:
    """The exit-code tables of the docs are generated from errors.EXIT_CODES
    (`python -m harness.docs`), and stay equal to it."""
    from harness import docs

    text = (REPO / doc).read_text(encoding="utf-8")
    found = re.search(
        re.escape(docs.EXIT_BEGIN) + r"\n(.*?)" + re.escape(docs.EXIT_END), text, re.S
    )
    assert found, f"{doc} has no generated exit-code table"
    assert found.group(1) == docs.exit_code_table(), f"run `python -m harness.docs` ({doc})"
