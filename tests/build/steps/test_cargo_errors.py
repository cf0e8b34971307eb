"""cargo_errors: each kind of cargo failure gets its cause and its own fix-it.

The stderr samples are what cargo 1.96 printed here for each case (see
tests/integration/test_build_real.py for the same cases through the real cargo)."""

from __future__ import annotations

import pytest

from worker_build.build.steps import cargo_errors
from worker_build.build.steps.cargo_errors import (
    COMPILE_FIX,
    MANIFEST_FIX,
    OFFLINE_FIX,
    RESOLVE_FIX,
)
from worker_build.errors import EXIT_TOOL_FAILED
from worker_build.util.proc import Result

ARGV = ["/usr/bin/cargo", "build", "--lib", "--target", "wasm32-unknown-unknown"]


def explain(stderr: str, stdout: str = "", argv: list[str] = ARGV) -> tuple[str, str | None]:
    error = cargo_errors.explain(Result(argv, 101, stdout, stderr))
    assert error.exit_code == EXIT_TOOL_FAILED
    assert "\n" not in error.one_line()
    return error.message, error.fix


@pytest.mark.parametrize(
    ("stderr", "cause", "fix"),
    [
        (
            "error: the package 'pure-exports' does not contain this feature: nope\n",
            "the package 'pure-exports' does not contain this feature: nope",
            "check the --features names",
        ),
        (
            "error: the package 'x' does not contain these features: a, b\n",
            "does not contain these features: a, b",
            "check the --features names",
        ),
        (
            "error: profile `nope` is not defined\n",
            "profile `nope` is not defined",
            "[profile.NAME]",
        ),
        (
            "error: package ID specification `nope` did not match any packages\n\n"
            "help: a package with a similar name exists: `quote`\n",
            "did not match any packages",
            "-p/--package",
        ),
        (
            "error: unexpected argument '--bogus' found\n\nUsage: cargo build [OPTIONS]\n",
            "unexpected argument '--bogus' found",
            "fix or drop that cargo argument",
        ),
        (
            "error: the argument '--release' cannot be used with '--profile <PROFILE-NAME>'\n",
            "cannot be used with",
            "fix or drop that cargo argument",
        ),
        (
            "error: the lock file /c/Cargo.lock needs to be updated but --locked was passed "
            "to prevent this\n",
            "needs to be updated",
            "cargo update",
        ),
        (
            "error: unclosed array, expected `]`\n  --> Cargo.toml:15:8\n   |\n",
            "unclosed array, expected `]` (Cargo.toml:15:8)",
            MANIFEST_FIX,
        ),
        (
            "error: failed to run custom build command for `pure-exports v0.1.0 (/tmp/cf)`\n"
            "Caused by:\n  process didn't exit successfully\n",
            "failed to run custom build command for `pure-exports",
            "build script",
        ),
        ("error: linker `rust-lld` not found\n", "linker `rust-lld` not found", "lld-22"),
        (
            "error[E0463]: can't find crate for `core`\n  |\n  = note: the `wasm32-unknown-"
            "unknown` target may not be installed\nerror: could not compile `unicode-ident` "
            "(lib) due to 1 previous error\n",
            "can't find crate for `core`",
            "worker-build doctor",
        ),
        (
            "    Updating crates.io index\nerror: no matching package named `nonexistent` "
            "found\nlocation searched: crates.io index\n",
            "no matching package named `nonexistent` found",
            RESOLVE_FIX,
        ),
    ],
)
def test_cargo_failures_get_their_own_fix(stderr: str, cause: str, fix: str) -> None:
    message, got_fix = explain(stderr)
    assert message.startswith("cargo exited with code 101: ")
    assert cause in message
    assert got_fix is not None and fix in got_fix
    assert got_fix != COMPILE_FIX


def test_offline_resolution_failure_says_offline() -> None:
    stderr = (
        "error: no matching package named `nonexistent` found\n"
        "note: offline mode (via `--offline`) can sometimes cause surprising resolution failures\n"
    )
    assert explain(stderr, argv=[*ARGV, "--offline"])[1] == OFFLINE_FIX


def test_compile_errors_keep_the_compile_fix() -> None:
    stderr = (
        "   Compiling pure-exports v0.1.0\n"
        "\x1b[1m\x1b[31merror[E0308]\x1b[0m: mismatched types\n  --> src/lib.rs:9:28\n"
        "error: could not compile `pure-exports` (lib) due to 1 previous error\n"
    )
    message, fix = explain(stderr)
    assert message == "cargo exited with code 101: mismatched types (src/lib.rs:9:28)"
    assert fix == COMPILE_FIX


def test_unknown_failure_points_at_cargos_output() -> None:
    message, fix = explain("error: something new went wrong\n")
    assert message == "cargo exited with code 101: something new went wrong"
    assert fix == "see cargo's error above"
    message, fix = explain("")  # killed, nothing printed
    assert message == "cargo exited with code 101" and fix == "see cargo's error above"


def test_error_keeps_stdout_only() -> None:
    """stderr was already shown live; the error's output (its tail) is cargo's stdout."""
    error = cargo_errors.explain(Result(ARGV, 101, "stdout-part", "error: x\n"))
    assert error.output == "stdout-part"
