"""Durations and sizes for people (cli/units.py)."""

from __future__ import annotations

from worker_build.cli.units import format_bytes, format_duration


def test_durations() -> None:
    assert format_duration(0.049) == "0.05s"
    assert format_duration(13.83) == "13.83s"
    assert format_duration(374.84) == "6m14.8s"


def test_bytes_in_binary_units() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(2048) == "2.0 KiB"
    assert format_bytes(329_254) == "321.5 KiB"
    assert format_bytes(3 << 20) == "3.0 MiB"
    assert format_bytes(1536 << 20) == "1.5 GiB"
    assert format_bytes(5000 << 30) == "5,000.0 GiB"
