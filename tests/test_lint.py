"""The codebase's own checks, run by CI like every other test: ruff (lint and format)
and mypy --strict (configured in pyproject.toml). Their versions are pinned in the test
extras so that a new release cannot fail a build that did not change."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(
    "argv",
    [("ruff", "check", "."), ("ruff", "format", "--check", "."), ("mypy",)],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_clean(argv: tuple[str, ...]) -> None:
    proc = run(*argv)
    assert proc.returncode == 0, f"{' '.join(argv)}:\n{proc.stdout[-6000:]}{proc.stderr[-2000:]}"
