"""Scanning wasm-bindgen's JS glue as text: where a block ends, the JSDoc block
before a declaration, the inside of a bracket, a call's top-level arguments, and
argument expressions normalised for comparison.

functions.py, classes.py and imports.py read the glue with these. None of this
parses JavaScript in general: the glue is generated, so its shape is fixed (a
block closes with a `}` line at the indent of the line that opened it, a JSDoc
block ends right before what it documents), and the scanning relies on that
shape. Only `balanced` looks inside string literals, to skip their brackets.
"""

from __future__ import annotations

import re

_JSDOC_TAG = re.compile(r"@(param|returns?)\s+\{(.*)\}\s*(\[?[\w$]+\]?)?")


def block_end(text: str, start: int, indent: str = "") -> int:
    """End of the block that starts at `start` (a line at `indent`): the first
    following line that is exactly `indent` + `}`."""
    match = re.compile(rf"^{indent}\}}\s*$", re.M).search(text, start)
    return match.end() if match else len(text)


def jsdoc_before(text: str, start: int) -> str:
    head = text[:start].rstrip()
    if not head.endswith("*/"):
        return ""
    opening = head.rfind("/**")
    return head[opening:] if opening >= 0 else ""


def parse_jsdoc(doc: str) -> tuple[str, dict[str, str], str | None]:
    """(description, {param: ts type}, returns ts type) of a `/** ... */` block."""
    lines = []
    for raw in doc.removeprefix("/**").removesuffix("*/").splitlines():
        line = raw.strip()
        line = line[1:] if line.startswith("*") else line
        lines.append(line[1:] if line.startswith(" ") else line)
    description: list[str] = []
    params: dict[str, str] = {}
    returns: str | None = None
    for line in lines:
        tag = _JSDOC_TAG.match(line.strip())
        if tag:
            if tag.group(1) == "param" and tag.group(3):
                params[tag.group(3).strip("[]")] = tag.group(2).strip()
            elif tag.group(1).startswith("return"):
                returns = tag.group(2).strip()
        elif not params and returns is None:
            description.append(line.rstrip())
    return "\n".join(description).strip("\n"), params, returns


def balanced(text: str, open_at: int) -> str:
    """The text inside the bracket at `open_at` up to its matching close."""
    depth = 0
    quote = ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    raise ValueError("unbalanced brackets in the glue")


def split_args(args: str) -> list[str]:
    """Split a call's argument list at its top-level commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in args:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def _strip_plus_parens(expr: str) -> str:
    expr = expr.removeprefix("+")
    if expr.startswith("(") and expr.endswith(")") and balanced(expr, 0) == expr[1:-1]:
        expr = expr[1:-1]
    return expr


def normalize(expr: str, param: str) -> str:
    """Whitespace-free expression with the parameter's name replaced by `$`."""
    flat = _strip_plus_parens(re.sub(r"\s+", "", expr))
    return re.sub(rf"(?<![\w$.]){re.escape(param)}(?![\w$])", "$", flat)
