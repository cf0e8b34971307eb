"""The pure parts of doctor's checks (cli/doctor_checks.py); the checks on a fake
machine run through the command in test_doctor.py."""

from __future__ import annotations

import pytest

from worker_build.cli import doctor_checks


@pytest.mark.parametrize(
    ("version", "runs"),
    [
        ((20, 20, 2), False),
        ((22, 22, 2), False),
        ((22, 22, 3), True),
        ((23, 11, 0), False),
        ((24, 14, 0), False),
        ((24, 15, 0), True),
        ((25, 0, 0), True),
        ((26, 1, 0), True),
        ((), False),
    ],
)
def test_node_exnref_floor(version: tuple[int, ...], runs: bool) -> None:
    assert doctor_checks.node_runs_exnref(version) is runs
