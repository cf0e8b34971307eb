"""The table parser for the commands that cannot use typer: the build and `verify`.

The build's command line is cargo's too (every option we do not know goes to `cargo
build`, with its value), which click cannot express; `verify` runs in pre-commit hooks
on every commit, where typer's import (about 0.1 s) would cost more than decoding the
module. Both read a table of `Option`s with this parser, and their --help is rendered
from the same table, so the two cannot disagree. Standard library only: `--help` and
`--version` answer without importing anything else.

Usage errors are collected, not raised: the parser reads the whole command line, so
that the first error is reported in the output mode (`--json`, `-q`) it asked for.
"""

from __future__ import annotations

import os
import sys

from worker_build.errors import UsageError, WorkerBuildError


class Option:
    """One option of a table. `kind`: "flag" (sets dest True), "off" (sets dest False),
    "value" (stores the next argument, or the `=value` / `-dVALUE` attached to it)."""

    __slots__ = ("dest", "help", "hidden", "kind", "metavar", "names")

    def __init__(
        self,
        names: tuple[str, ...],
        dest: str,
        kind: str,
        help: str,
        metavar: str = "",
        hidden: bool = False,
    ) -> None:
        self.names = names
        self.dest = dest
        self.kind = kind
        self.help = help
        self.metavar = metavar
        self.hidden = hidden


class Parser:
    """Reads argv against a table. Subclasses decide what a positional argument, an
    option not in the table and a value mean (`positional`, `unknown`, `store`)."""

    def __init__(self, options: tuple[Option, ...], help_hint: str) -> None:
        self.options = options
        self.by_name = {name: opt for opt in options for name in opt.names}
        self.help_hint = help_hint  # the fix of a usage error: "see `... --help`"
        self.values: dict[str, object] = {}
        self.error: WorkerBuildError | None = None

    def flag(self, dest: str) -> bool:
        return self.values.get(dest) is True

    def fail(self, error: WorkerBuildError) -> None:
        if self.error is None:
            self.error = error

    def split(self, arg: str) -> tuple[str, str | None]:
        """`--name=value` -> (`--name`, `value`); `-dDIR`/`-d=DIR` -> (`-d`, `DIR`).
        A short flag with more letters (`-vv`) is not in the table: it stays whole."""
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            return name, value if eq else None
        short = self.by_name.get(arg[:2])
        if len(arg) > 2 and short is not None and short.kind == "value":
            value = arg[2:]
            return arg[:2], value[1:] if value.startswith("=") else value
        return arg, None

    def parse(self, argv: list[str]) -> None:
        i, n = 0, len(argv)
        while i < n:
            arg = argv[i]
            i += 1
            if arg == "--":
                self.rest(argv[i:])
                return
            if not arg.startswith("-") or arg == "-":
                self.positional(arg)
                continue
            name, inline = self.split(arg)
            opt = self.by_name.get(name)
            if opt is None:
                i = self.unknown(arg, name, inline, argv, i)
            elif opt.kind == "value":
                if inline is None:
                    if i >= n:
                        self.fail(
                            UsageError(f"{name} needs a value ({opt.metavar})", self.help_hint)
                        )
                        continue
                    inline = argv[i]
                    i += 1
                if inline == "":
                    self.fail(
                        UsageError(f"{name} needs a value ({opt.metavar}), not ''", self.help_hint)
                    )
                    continue
                self.store(opt, name, inline)
            elif inline is not None:
                self.fail(UsageError(f"{name} takes no value (got {arg!r})", self.help_hint))
            else:
                self.values[opt.dest] = opt.kind == "flag"
                self.flagged(opt, name)

    # -- what a subclass decides
    def positional(self, arg: str) -> None:
        self.fail(UsageError(f"unexpected argument {arg!r}", self.help_hint))

    def unknown(self, arg: str, name: str, inline: str | None, argv: list[str], i: int) -> int:
        """An option not in the table; returns the index of the next argument to read."""
        self.fail(UsageError(f"unknown option {name}", self.help_hint))
        return i

    def rest(self, args: list[str]) -> None:
        """Everything after `--`."""
        for arg in args:
            self.positional(arg)

    def store(self, opt: Option, name: str, value: str) -> None:
        self.values[opt.dest] = value

    def flagged(self, opt: Option, name: str) -> None:
        """A flag was given (after its value was recorded)."""


# --- help ----------------------------------------------------------------------------------


def terminal_width() -> int:
    try:
        columns = os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns = int(os.environ.get("COLUMNS", "") or 80)
    return max(60, min(columns, 100))


def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """Greedy word wrap (textwrap would import re: start-up time). Words, flag names
    included, are never split."""
    lines, line, words = [], first, 0  # words of `text` on `line` so far
    for word in text.split():
        if words and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, words = rest, 0
        line = f"{line} {word}" if words else line + word
        words += 1
    return [*lines, line]


def option_lines(options: tuple[Option, ...], width: int) -> list[str]:
    """The `Options:` block: each visible option with its help, in two columns."""
    rows = [
        (", ".join(opt.names) + (f" {opt.metavar}" if opt.metavar else ""), opt.help)
        for opt in options
        if not opt.hidden
    ]
    column = min(max(len(label) for label, _ in rows), 28) + 4
    lines = []
    for label, text in rows:
        first = f"  {label}".ljust(column)
        if len(first) > column:  # a long label: its text starts on the next line
            lines.append(first.rstrip())
            first = " " * column
        lines += wrap(text, width, first, " " * column)
    return lines


def help_text(usage: list[str], about: str, options: tuple[Option, ...], epilog: list[str]) -> str:
    """A command's --help: usage lines, what it does, its options, then paragraphs."""
    width = terminal_width()
    lines = [*usage, "", *wrap(about, width), "", "Options:", *option_lines(options, width)]
    for paragraph in epilog:
        lines += ["", *wrap(paragraph, width)]
    return "\n".join(lines) + "\n"
