"""The build's command line (cli/build_args.py): what is ours, what is cargo's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import assert_one_line_error, cli_env, run
from tests.support.cratefix import write_crate
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import cargo
from worker_build.cli import build_args
from worker_build.errors import EXIT_TOOLCHAIN, EXIT_USAGE
from worker_build.rust.toolchain import StdSource, Toolchain

_env = cli_env  # autouse: a cache of the test's own, no caller settings


def parsed(*args: str) -> RawArgs:
    cmd = build_args.parse(list(args))
    assert cmd.error is None, cmd.error.one_line()
    return cmd.raw_args()


def cargo_argv(*args: str) -> list[str]:
    """The cargo command line a build with `args` runs, after the fixed part and the profile."""
    opts = resolve(parsed(*args), Path("/crate"), {})
    tc = Toolchain(Path("/tc/rustc"), Path("/tc/cargo"), "1.96.0", "stable", Path("/tc"),
                   "--rustc", StdSource.PRECOMPILED, False)  # fmt: skip
    argv = cargo.command(opts, tc)
    return argv[argv.index("--message-format=json-render-diagnostics") + 1 :][
        len(opts.profile.cargo_args) :
    ]


@pytest.mark.parametrize(
    ("args", "path", "cargo_args"),
    [
        # the README's and workers-rs's own command lines
        (["--", "--features", "foo"], None, ["--features", "foo"]),
        (["--release", "--features", "http"], None, ["--features", "http"]),
        ([".", "--", "--features", "foo"], ".", ["--features", "foo"]),
        (["--dev", "--panic-unwind"], None, []),
        # flags of ours after cargo's are still ours; cargo's values are never the path
        (["--features", "http", "--release", "crate"], "crate", ["--features", "http"]),
        (["--features=a,b", "crate"], "crate", ["--features=a,b"]),
        (["-F", "a", "-j", "2", "-Zbuild-std", "c"], "c", ["-F", "a", "-j", "2", "-Zbuild-std"]),
        (["-p", "w", "c"], "c", ["-p", "w"]),  # -p [SPEC]: a value unless it is an option
        (["-p", "--release", "c"], "c", ["-p"]),
        (["-vv", "--locked"], None, ["-vv", "--locked"]),
        (["c", "-p"], "c", ["-p"]),
        (["c", "--features"], "c", ["--features"]),  # cargo says what is missing
        (["c", "--", "--release", "x"], "c", ["--release", "x"]),  # after `--`: all cargo's
    ],
)
def test_cargo_arguments_anywhere(args: list[str], path: str | None, cargo_args: list[str]) -> None:
    raw = parsed(*args)
    assert raw.path == (None if path is None else Path(path))
    assert list(raw.cargo_args) == cargo_args


def test_values_of_our_options_in_both_forms() -> None:
    for args in (
        ["--out-dir", "dist"],
        ["--out-dir=dist"],
        ["-d", "dist"],
        ["-ddist"],
        ["-d=dist"],
    ):
        assert parsed(*args).out_dir == Path("dist"), args
    raw = parsed("--profile=small", "--eh-encoding", "exnref", "--panic-unwind", "-s=acme",
                 "--rustc=/r/rustc", "--panic-body", "generic", "--lock-timeout=5")  # fmt: skip
    assert (raw.profile, raw.eh_encoding, raw.scope) == ("small", "exnref", "acme")
    assert (raw.rustc, raw.panic_body, raw.lock_timeout) == (Path("/r/rustc"), "generic", 5.0)
    assert parsed("--panic-unwind", "--no-panic-unwind").panic_unwind is False  # last wins
    assert parsed("--features", "x", "--replay-on-abort").replay_on_abort is True
    assert parsed().replay_on_abort is False


def test_the_caches_are_turned_off_by_flags_of_ours() -> None:
    raw = parsed("--no-compile-cache", "--no-std-cache", "--", "--features", "x")
    assert raw.no_compile_cache and raw.no_std_cache and raw.cargo_args == ("--features", "x")
    assert not parsed().no_compile_cache


def test_aliases_and_hidden_flags_of_the_real_tool() -> None:
    assert parsed("--no-optimization").no_opt and parsed("--no-opt").no_opt
    assert parsed("--debug").dev
    assert parsed("--no-panic-recovery").no_panic_recovery
    # what the Rust tool always passes to wasm-bindgen may be repeated; nothing reaches cargo
    raw = parsed("--no-typescript", "--target", "module", "-t=module", "--out-name=index")
    assert raw.cargo_args == ()


def test_quiet_and_offline_reach_cargo_once() -> None:
    assert cargo_argv("-q") == ["--quiet"]
    assert cargo_argv("-q", "--", "-q") == ["-q"]
    assert cargo_argv("-q", "--", "-v") == ["-v"]  # cargo refuses --quiet with --verbose
    assert cargo_argv("--offline") == ["--offline"]
    assert cargo_argv("--offline", "--", "--offline") == ["--offline"]
    assert cargo_argv("--release", "--features", "http") == ["--features", "http"]


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "wasm32-wasip1"],
        ["--target=wasm32-wasip1"],
        ["-t", "bundler"],
        ["--release", "--features", "x", "--target", "x86_64-unknown-linux-gnu"],
        ["--", "--target", "wasm32-wasip1"],
        [".", "--", "--target=module"],
    ],
)
def test_target_is_rejected_wherever_it_appears(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, *args)
    assert code == EXIT_USAGE
    assert_one_line_error(err, "always builds for wasm32-unknown-unknown", "remove --target")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--out-name", "foo"], "the output is always named index.js"),
        (["--release", "b"], "unexpected argument 'b'"),
        (["--release=yes"], "--release takes no value"),
        (["--out-dir"], "--out-dir needs a value"),
        (["--eh-encoding", "fancy", "--panic-unwind"], "unknown value 'fancy'"),
    ],
)
def test_command_line_usage_errors(
    args: list[str], needle: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    crate = write_crate(tmp_path / "c")
    code, _, err = run(capsys, str(crate), *args)
    assert code == EXIT_USAGE
    assert_one_line_error(err, needle)


@pytest.mark.parametrize("args", [["--emscripten"], ["--bin", "app"], ["--release", "--bin=app"]])
def test_emscripten_is_a_clear_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, *args)
    assert code == EXIT_TOOLCHAIN
    assert_one_line_error(err, "needs the Emscripten SDK 6", "drop --emscripten")
