"""The table parser (cli/argtable.py) that the build and `verify` share."""

from __future__ import annotations

import pytest

from worker_build.cli import argtable
from worker_build.cli.argtable import Option, Parser

OPTIONS = (
    Option(("-o", "--out"), "out", "value", "where to write", "DIR"),
    Option(("--fast",), "fast", "flag", "go fast"),
    Option(("--no-fast",), "fast", "off", "go slow"),
    Option(("--secret",), "secret", "flag", "", hidden=True),
)


def parse(*argv: str) -> Parser:
    parser = Parser(OPTIONS, "see `tool -h`")
    parser.parse(list(argv))
    return parser


@pytest.mark.parametrize("argv", [["-o", "d"], ["-od"], ["-o=d"], ["--out", "d"], ["--out=d"]])
def test_a_value_in_every_form(argv: list[str]) -> None:
    parser = parse(*argv)
    assert parser.error is None and parser.values["out"] == "d"


def test_flags_and_their_off_switch_last_one_wins() -> None:
    assert parse("--fast").flag("fast")
    assert not parse("--fast", "--no-fast").flag("fast")
    assert parse("--no-fast", "--fast").flag("fast")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--out"], "--out needs a value (DIR)"),
        (["--out="], "--out needs a value (DIR), not ''"),
        (["-o", ""], "-o needs a value (DIR), not ''"),
        (["--fast=yes"], "--fast takes no value (got '--fast=yes')"),
        (["--bogus"], "unknown option --bogus"),
        (["file"], "unexpected argument 'file'"),
    ],
)
def test_usage_errors_name_the_problem_and_the_help(argv: list[str], message: str) -> None:
    error = parse(*argv).error
    assert error is not None and error.exit_code == 2
    assert error.one_line() == f"{message} (see `tool -h`)"


def test_the_first_error_is_kept_and_the_rest_still_read() -> None:
    parser = parse("--bogus", "--out", "d", "--fast=1")
    assert parser.error is not None and "--bogus" in parser.error.message
    assert parser.values["out"] == "d"  # read after the error: --json/-q still apply


def test_a_short_flag_with_more_letters_is_not_ours() -> None:
    assert parse("-vv").error is not None  # not `-v` with a value: unknown as a whole


def test_help_lists_visible_options_and_wraps() -> None:
    text = argtable.help_text(["usage: tool [options]"], "Does things. " * 20, OPTIONS, ["End."])
    assert text.startswith("usage: tool [options]\n\n")
    assert "  -o, --out DIR" in text and "--fast" in text and "--secret" not in text
    assert all(len(line) <= 100 for line in text.splitlines())
    assert text.endswith("\nEnd.\n")


def test_wrap_never_splits_a_word() -> None:
    assert argtable.wrap("aaa bbb ccc", 7) == ["aaa bbb", "ccc"]
    assert argtable.wrap("a-very-long-flag-name x", 5) == ["a-very-long-flag-name", "x"]
