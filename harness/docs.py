"""Regenerate the parts of the docs that the code owns: the exit-code tables.

    python -m harness.docs          # rewrite README.md and docs/ci.md in place
    python -m harness.docs --check  # exit 1 if they differ from the code

The table sits between two marker comments in each document; tests/test_errors.py
fails when it differs from errors.EXIT_CODES.
"""

from __future__ import annotations

import re
import sys

from harness.paths import REPO
from worker_build.errors import EXIT_CODES

DOCS = ("README.md", "docs/ci.md")
EXIT_BEGIN = "<!-- exit-codes: generated from worker_build/errors.py by python -m harness.docs -->"
EXIT_END = "<!-- /exit-codes -->"


def exit_code_table() -> str:
    rows = [f"| {code} | {meaning} |" for code, _, meaning in EXIT_CODES]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


def regenerate(text: str) -> str:
    pattern = re.compile(re.escape(EXIT_BEGIN) + r"\n.*?" + re.escape(EXIT_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"no {EXIT_BEGIN!r} ... {EXIT_END!r} block")
    return pattern.sub(lambda _: f"{EXIT_BEGIN}\n{exit_code_table()}{EXIT_END}", text)


def main(argv: list[str]) -> int:
    stale = []
    for name in DOCS:
        path = REPO / name
        text = path.read_text(encoding="utf-8")
        new = regenerate(text)
        if new != text:
            stale.append(name)
            if "--check" not in argv:
                path.write_text(new, encoding="utf-8")
    if stale:
        print(("stale: " if "--check" in argv else "rewrote: ") + ", ".join(stale))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
