"""Running a typer app as a worker-build subcommand (cli/typer_app.py): the convention
every subcommand follows (`-h`, a usage error as one `error:` line with exit 2, the
command's exit code returned), shown on a tiny app of the test's own."""

from __future__ import annotations

import pytest
import typer

from tests.support.cli import assert_one_line_error
from worker_build.cli import typer_app
from worker_build.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

app = typer_app.new_app("Count things (a test app).")


@app.command()
def count(
    times: int = typer.Option(1, "--times", help="how many"),
    exit_with: int = typer.Option(0, "--exit-with"),
    abort: bool = typer.Option(False, "--abort"),
    positive: int = typer.Option(1, "--positive"),
) -> int:
    """Print and return TIMES."""
    if abort:
        raise typer.Abort()
    if exit_with:
        raise typer.Exit(exit_with)
    if positive < 1:
        raise typer.BadParameter("must be at least 1.", param_hint="'--positive'")
    print(f"counted {times}")
    return times


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = typer_app.run(app, "tiny", list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_commands_return_value_is_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--times", "3") == (3, "counted 3\n", "")
    assert run(capsys, "--times", "0") == (EXIT_OK, "counted 0\n", "")


def test_typer_exit_passes_its_code_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--exit-with", "4") == (4, "", "")


def test_abort_is_an_interruption(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--abort") == (EXIT_INTERRUPTED, "", "interrupted\n")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_with_either_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, flag)
    assert (code, err) == (EXIT_OK, "")
    assert out.startswith("Usage: worker-build tiny [OPTIONS]")
    assert "Print and return TIMES." in out
    assert "-h, --help" in out
    assert "--install-completion" not in out  # no completion commands
    assert "╭" not in out  # plain text, no rich boxes (read in CI logs too)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--bogus"], "No such option: --bogus"),
        (["--times", "x"], "Invalid value for '--times'"),
        (["--times"], "Option '--times' requires an argument"),
        (["extra"], "Got unexpected extra argument"),
        (["--positive", "0"], "Invalid value for '--positive': must be at least 1"),
    ],
    ids=["unknown-option", "bad-value", "missing-value", "extra-argument", "bad-parameter"],
)
def test_a_usage_error_is_one_line_with_exit_2(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *args)
    assert code == EXIT_USAGE and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert_one_line_error(err, needle)
    assert err.endswith(" (see `worker-build tiny -h`)\n")
    assert ". (see" not in err  # the message's full stop is dropped before the fix
    assert "Usage:" not in err  # not click's three-line block


group = typer_app.new_app("Two commands (a test app).")


@group.command("first")
def first() -> None:
    print("first ran")


@group.command("second")
def second(n: int = typer.Option(2, "--n")) -> None:
    """The second command."""
    print(f"second ran with {n}")


def test_an_app_of_several_commands(capsys: pytest.CaptureFixture[str]) -> None:
    def run_group(*args: str) -> tuple[int, str, str]:
        code = typer_app.run(group, "grp", list(args))
        out, err = capsys.readouterr()
        return code, out, err

    assert run_group("second", "--n", "3") == (EXIT_OK, "second ran with 3\n", "")
    code, out, err = run_group("second", "-h")
    assert (code, err) == (EXIT_OK, "") and out.startswith("Usage: worker-build grp second")
    code, out, err = run_group("bogus")
    assert (code, out) == (EXIT_USAGE, "")
    assert err == "error: No such command 'bogus' (see `worker-build grp -h`)\n"
