"""The command line: exit codes, one-line errors, no tracebacks (fakes only, no real builds)."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cratefix import GOOD_MANIFEST, write_crate
from tests.support.fakes import fake_exe, fake_rustc
from worker_build import __version__
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import cargo
from worker_build.cli import build_args, main, ui
from worker_build.errors import (
    EXIT_CRATE,
    EXIT_INTERNAL,
    EXIT_NOT_WRITABLE,
    EXIT_TOOL_FAILED,
    EXIT_TOOLCHAIN,
    EXIT_USAGE,
    WorkerBuildError,
)
from worker_build.rust.toolchain import StdSource, Toolchain


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--panic-unwind" in out and "Exit codes:" in out
    block = out.split("Options:\n", 1)[1].split("\n\n", 1)[0]
    shown = set(re.findall(r"(?<![\w-])(-[\w-]+)", block))
    for opt in build_args.OPTIONS:  # every visible flag is in the help, hidden ones are not
        assert all((name in shown) != opt.hidden for name in opt.names), opt.names
    for args in (["--version"], ["-v"], ["--release", "-v"]):
        code, out, _ = run(capsys, *args)
        assert code == 0 and out == f"worker-build {__version__}\n"
    code, out, _ = run(capsys, "--features", "x", "-h")
    assert code == 0 and out.startswith("usage: worker-build")


def test_help_fits_the_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    _, narrow, _ = run(capsys, "--help")
    assert max(len(line) for line in narrow.splitlines()[3:]) <= 60
    assert "  --lock-timeout SECONDS        how long to wait for another" in narrow
    monkeypatch.setenv("COLUMNS", "300")  # at most 100 wide
    _, wide, _ = run(capsys, "--help")
    assert max(len(line) for line in wide.splitlines()) <= 100
    assert " ".join(narrow.split()) == " ".join(wide.split())  # the same words
    code, out, _ = run(capsys, "verify", "--help")
    assert code == 0 and "--expect" in out
    code, out, _ = run(capsys, "doctor", "--help")
    assert code == 0 and "--panic-unwind" in out


def test_help_and_version_do_not_import_the_build(tmp_path: Path) -> None:
    """--help and --version answer from build_args.py alone (no typer, rich or pipeline)."""
    probe = (
        "import sys; from worker_build.cli import main; main.main(sys.argv[1:]); "
        "heavy = {'typer', 'rich', 'pydantic', 'worker_build.build.pipeline', 'worker_build.build.options'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    for flag in ("--help", "--version"):
        proc = subprocess.run(
            [sys.executable, "-c", probe, flag], capture_output=True, text=True, check=True
        )
        assert proc.stdout.splitlines()[-1] == "[]", proc.stdout


def test_missing_crate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE
    assert_one_line_error(err, "no Cargo.toml", "run worker-build in the crate's directory")


def test_not_a_cdylib(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c", GOOD_MANIFEST.replace('"cdylib"', '"rlib"'))
    code, _, err = run(capsys, str(root))
    assert code == EXIT_CRATE
    assert_one_line_error(err, 'crate-type does not include "cdylib"')


def test_conflicting_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c")
    code, _, err = run(capsys, str(root), "--dev", "--release")
    assert code == EXIT_USAGE
    assert_one_line_error(err, "--dev and --release conflict")


def test_bad_option_value_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--lock-timeout", "soon")
    assert code == EXIT_USAGE
    assert_one_line_error(err, "--lock-timeout 'soon' is not a number of seconds")


def test_usage_error_in_json_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """A command-line error is reported in the mode asked for, wherever --json is."""
    code, out, _ = run(capsys, "--target", "wasm32-wasip1", "--json")
    assert code == EXIT_USAGE
    assert json.loads(out)["error"]["type"] == "UsageError"


# --- the command line: what is ours, what is cargo's ------------------------------------


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


def test_crate_found_from_the_current_directory_upwards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No PATH: the nearest Cargo.toml upwards, as the Rust tool; cargo's flags and
    their values never become the path."""
    root = write_crate(tmp_path / "c")
    monkeypatch.chdir(root / "src")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", wasm_std=True)
    fake_exe(
        tmp_path / "bin" / "cargo",
        f'printf "%s\\n" "$@" > {tmp_path}/argv; '
        "echo \"error: the package 'my-worker' does not contain this feature: http\" >&2; exit 101",
    )
    code, _, err = run(capsys, "--release", "--features", "http", "--rustc", str(rustc))
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[-2:] == ["--features", "http"] and "--release" in argv
    assert code == EXIT_TOOL_FAILED
    # cargo's own line (shown as cargo printed it), then ours with the cause and the fix
    assert err.splitlines()[-1] == (
        "error: cargo exited with code 101: the package 'my-worker' does not contain this "
        "feature: http (check the --features names against the [features] table of Cargo.toml)"
    )
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--features", "http")
    assert code == EXIT_CRATE
    assert_one_line_error(err, f"no Cargo.toml in {tmp_path} or its parents")


def test_toolchain_without_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_crate(tmp_path / "c")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    code, _, err = run(capsys, str(root), "--panic-unwind", "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert_one_line_error(err, "has no std sources")


def test_failed_build_leaves_previous_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_crate(tmp_path / "c")
    previous = root / "build"
    previous.mkdir()
    (previous / "index.js").write_text("previous")
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot")
    code, _, _ = run(capsys, str(root), "--panic-unwind", "--rustc", str(rustc))
    assert code == EXIT_TOOLCHAIN
    assert (previous / "index.js").read_text() == "previous"
    assert sorted(p.name for p in root.iterdir()) == ["Cargo.lock", "Cargo.toml", "build", "src"]


def test_github_annotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE
    # on stderr, so --json's stdout stays one JSON document; the runner reads both
    assert err.splitlines()[-1].startswith("::error title=worker-build::no Cargo.toml")


def test_internal_errors_get_their_own_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("unexpected\nsecond line")

    monkeypatch.setattr("worker_build.build.crate.load_crate", boom)
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_INTERNAL
    assert "internal error: RuntimeError: unexpected second line" in err and "--traceback" in err
    assert "Traceback" not in err
    # --traceback adds the traceback; the exit code and the error line stay
    code, _, err = run(capsys, str(tmp_path), "--traceback")
    assert code == EXIT_INTERNAL
    assert "Traceback (most recent call last)" in err
    assert "internal error: RuntimeError: unexpected second line" in err


def test_traceback_keeps_the_exit_code_of_expected_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, str(tmp_path), "--traceback")
    assert code == EXIT_CRATE
    assert "Traceback (most recent call last)" in err
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        f"error: no Cargo.toml in {tmp_path} "
        "(run worker-build in the crate's directory or pass its path)"
    ]
    monkeypatch.setenv("WORKER_BUILD_TRACEBACK", "1")
    code, _, err = run(capsys, str(tmp_path))
    assert code == EXIT_CRATE and "Traceback (most recent call last)" in err


def _error_classes() -> list[type[WorkerBuildError]]:
    """Every WorkerBuildError subclass the package defines (all modules imported)."""
    import importlib
    import pkgutil

    import worker_build

    for info in pkgutil.walk_packages(worker_build.__path__, "worker_build."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, stack = [], [WorkerBuildError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_is_one_line(cls: type[WorkerBuildError]) -> None:
    """README: every error is one line. Whatever a message carries after its first line
    (a tool's output, a log tail) is shown above that line, never inside it."""
    shapes: list[tuple[object, ...]] = [  # the longest signature that fits
        (["tool"], 1, "line 1\nline 2", "fix\r\n  it", "cause\nmore"),  # CommandFailedError
        ("it failed:\n  line 1\n  line 2", 7, "fix\r\n  it"),  # InvalidWasmError
        ("it failed:\n  line 1\n  line 2", "fix\r\n  it"),
    ]
    for args in shapes:
        try:
            error = cls(*args)  # type: ignore[arg-type]
            break
        except TypeError:
            continue
    else:
        pytest.fail(f"cannot construct {cls.__name__}: add its signature here")
    assert "\n" not in error.one_line() and "\r" not in error.one_line()
    assert error.one_line().endswith("(fix it)")
    stream = io.StringIO()
    ui.Reporter(ui.Mode.NORMAL, stream=stream, env={}).error(error)
    lines = stream.getvalue().splitlines()
    assert lines[-1].startswith("error: ") and lines[-1].endswith("(fix it)")
    assert not [line for line in lines[:-1] if line.startswith("error:")]
    assert "line 2" in stream.getvalue()  # the rest is shown, above the error line


@pytest.mark.parametrize("extra", [[], ["--traceback"]], ids=["plain", "traceback"])
def test_unwritable_output_is_exit_9_with_or_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    """A new user's `chattr +i build`: one line naming the path, exit 9, found in
    pre-flight (before any tool runs), whether or not --traceback is given."""
    from tests.support.fsfaults import unwritable

    root = write_crate(tmp_path / "c")
    (root / "build").mkdir()
    (root / "build" / "index.js").write_text("previous")
    with unwritable(root / "build") as why:
        code, _, err = run(capsys, str(root), *extra)
    assert code == EXIT_NOT_WRITABLE
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot write {root / 'build'}: ")
    assert why in errors[0] and "choose another --out-dir" in errors[0]
    assert ("Traceback (most recent call last)" in err) == bool(extra)
    # nothing ran: no step after pre-flight (step lines, not a traceback's file paths)
    steps = [line for line in err.splitlines() if line.startswith(("▸", "✓", "✗"))]
    assert not any("cargo build" in line or "toolchain" in line for line in steps), steps
    assert (root / "build" / "index.js").read_text() == "previous"
    code, _, err = run(capsys, str(root), "--out-dir", str(root / "Cargo.lock" / "build"))
    assert code == EXIT_NOT_WRITABLE
    assert_one_line_error(err, f"{root / 'Cargo.lock'} is not a directory")
