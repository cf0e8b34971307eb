"""What worker-build knows of cargo build's own arguments (build/cargo_args.py)."""

from __future__ import annotations

import pytest

from worker_build.build import cargo_args


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--target", "wasm32-wasip1"], "cargo's --target wasm32-wasip1"),
        (
            ["--release", "--target=x86_64-unknown-linux-gnu"],
            "cargo's --target x86_64-unknown-linux-gnu",
        ),
        (["--target"], "cargo's --target"),
        (["--features", "target"], None),
        (["--target-dir", "t"], None),
    ],
)
def test_find_target(args: list[str], found: str | None) -> None:
    assert cargo_args.find_target(args) == found


def test_the_problem_says_what_the_target_is() -> None:
    text = cargo_args.target_problem("cargo's --target x")
    assert text.startswith("cargo's --target x: ")
    assert "wasm32-unknown-unknown" in text and "--target module" in text


def test_value_options_are_cargos() -> None:
    assert cargo_args.VALUE_OPTIONS["--features"] is True
    assert cargo_args.VALUE_OPTIONS["-p"] is False  # optional value
    assert "--release" not in cargo_args.VALUE_OPTIONS


@pytest.mark.parametrize(
    ("args", "found"),
    [
        (["--locked"], [("--locked", None)]),
        (["--features", "--locked"], [("--features", "--locked")]),  # a value, not the flag
        (
            ["--config=net.offline=true", "--frozen"],
            [("--config", "net.offline=true"), ("--frozen", None)],
        ),
        (
            ["-Zminimal-versions", "-Z", "x", "-j4"],
            [("-Z", "minimal-versions"), ("-Z", "x"), ("-j", "4")],
        ),
        (["-p", "--locked"], [("-p", None), ("--locked", None)]),  # -p's value is optional
        (["-p", "name"], [("-p", "name")]),
    ],
)
def test_options_with_their_values(args: list[str], found: list[tuple[str, str | None]]) -> None:
    assert cargo_args.options(args) == found
