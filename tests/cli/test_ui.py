"""ui.py: progress, summary, --json, GitHub annotations, colour rules, worker-build.json.

The terminal cases run a small driver (or the real CLI) in a child process:
under a pseudo-terminal for the TTY case, with pipes and COLUMNS / NO_COLOR
for the rest. No real build tool runs here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.terminal import (
    ANSI,
    Stream,
    child_env,
    clean_env,
    plain_lines,
    run_in_pty,
    run_piped,
)
from worker_build.build import report as report_mod
from worker_build.cli import build, ui
from worker_build.errors import EXIT_CRATE, CommandFailedError, CrateError

VENV_BIN = Path(sys.executable).parent
_clean_env = clean_env  # autouse: every test here starts from the same environment
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
LONG_OUT = "/tmp/" + "a-rather-long-directory-name/" * 4 + "build"

FACTS: dict[str, Any] = {
    "out_dir": LONG_OUT,
    "profile": "release",
    "panic_strategy": "unwind",
    "toolchain": "rustc 1.96.0 (stable, WORKER_BUILD_RUSTC)",
    "tools": {
        "wasm-bindgen": "wasm-bindgen 0.2.130 (cache)",
        "wasm-opt": "wasm-opt 132 (PATH)",
        "esbuild": "esbuild 0.28.2 (node_modules)",
    },
    "eh_encoding": "legacy",
    "wasm_bytes": 329_254,
    "wasm_gzip_bytes": 84_992,
    "js_bytes": 31_130,
    "js_gzip_bytes": 7_680,
    "steps": [{"name": "cargo build", "seconds": 1.5}, {"name": "wasm-opt", "seconds": 0.3}],
    "notes": [],
    "seconds": 389.1,
}


# The driver: a build's events in the order the pipeline sends them. The cargo
# step writes straight to fd 2 like cargo does, between two markers. No sleep
# between a step's start and end: stopping the live display always draws a
# last frame, so the spinner is in the output however fast or slow the machine.
DRIVER = """
import json, os, sys
from worker_build.cli.ui import Mode, Reporter
r = Reporter(Mode.NORMAL)
r.step_started("wasm-opt"); r.step_finished("wasm-opt", 0.3)
r.step_started("cargo build")
os.write(2, b"@@cargo-start@@\\n   Compiling demo v0.1.0\\n@@cargo-end@@\\n")
r.step_finished("cargo build", 1.5)
r.summary(json.loads(sys.argv[1]))
"""


# --- the terminal ------------------------------------------------------------------------


def test_tty_spinner_colour_and_cargo_keeps_its_own_line() -> None:
    code, out = run_in_pty([sys.executable, "-c", DRIVER, json.dumps(FACTS)], child_env())
    assert code == 0, out
    before, _, rest = out.partition("@@cargo-start@@")
    during, _, _after = rest.partition("@@cargo-end@@")
    assert during, out
    # wasm-opt ran under a live spinner: cursor hidden, a frame drawn with its name
    assert "\x1b[?25l" in before
    assert re.search(f"[{SPINNER_FRAMES}]" + r"\x1b\[0m wasm-opt", before), before
    # cargo draws its own progress: a plain header, no spinner while it runs
    assert "cargo build" in ANSI.sub("", before).split("wasm-opt")[-1]
    assert "\x1b[?25l" not in during and not set(SPINNER_FRAMES) & set(during)
    assert "Compiling demo" in during
    # colour, and the finished steps as permanent lines with their durations
    assert "\x1b[32m✓" in out
    lines = plain_lines(out)
    assert "✓ wasm-opt 0.30s" in lines
    assert "✓ cargo build 1.50s" in lines
    assert "▸ cargo build" in lines
    assert any(line.startswith("✓ worker-build: built in 6m29.1s") for line in lines)


@pytest.mark.parametrize(
    "env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}], ids=["NO_COLOR", "TERM=dumb"]
)
def test_tty_without_colour_has_no_escape_codes_and_no_spinner(env: dict[str, str]) -> None:
    code, out = run_in_pty([sys.executable, "-c", DRIVER, json.dumps(FACTS)], child_env(**env))
    assert code == 0, out
    assert "\x1b" not in out
    assert not set(SPINNER_FRAMES) & set(out)
    lines = out.splitlines()
    assert lines[:2] == ["▸ wasm-opt", "✓ wasm-opt 0.30s"]
    assert "✓ cargo build 1.50s" in lines


def test_not_a_tty_plain_lines_never_wrapped() -> None:
    proc = run_piped([sys.executable, "-c", DRIVER, json.dumps(FACTS)], child_env(COLUMNS="30"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # people's output goes to stderr only
    err = proc.stderr
    assert "\x1b" not in err
    lines = err.splitlines()
    assert lines[:2] == ["▸ wasm-opt", "✓ wasm-opt 0.30s"]
    # the summary: every fact on one line, however narrow COLUMNS is
    rows = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert rows["output"].endswith(LONG_OUT)
    assert rows["profile"].split(None, 1)[1] == "release, panic=unwind"
    assert rows["toolchain"].endswith("rustc 1.96.0 (stable, WORKER_BUILD_RUSTC)")
    assert rows["wasm-bindgen"].endswith("  0.2.130 (cache)")
    assert rows["wasm-opt"].endswith("  132 (PATH)")
    assert rows["EH"].endswith("encoding    legacy")
    assert rows["index_bg.wasm"].endswith("321.5 KiB (83.0 KiB gzip)")
    assert rows["index.js"].endswith("30.4 KiB (7.5 KiB gzip)")


def test_force_color_without_tty_colours_but_never_animates() -> None:
    proc = run_piped([sys.executable, "-c", DRIVER, json.dumps(FACTS)], child_env(FORCE_COLOR="1"))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[32m" in proc.stderr
    assert "\x1b[?25l" not in proc.stderr and not set(SPINNER_FRAMES) & set(proc.stderr)


def test_cli_error_in_a_terminal_and_in_a_pipe(tmp_path: Path) -> None:
    exe = str(VENV_BIN / "worker-build")
    code, out = run_in_pty([exe, str(tmp_path)], child_env())
    assert code == EXIT_CRATE
    assert "\x1b[1;31merror:" in out
    piped = run_piped([exe, str(tmp_path)], child_env())
    assert piped.returncode == EXIT_CRATE
    assert "\x1b" not in piped.stderr
    assert [line for line in piped.stderr.splitlines() if line.startswith("error:")] == [
        f"error: no Cargo.toml in {tmp_path} "
        "(run worker-build in the crate's directory or pass its path)"
    ]


def test_terminal_detection_rules() -> None:
    detect = ui.Terminal.detect
    assert detect(Stream(tty=True), {}) == ui.Terminal(True, True, False, True)
    assert detect(Stream(tty=False), {}) == ui.Terminal(False, False, False, True)
    assert detect(Stream(tty=True), {"NO_COLOR": "1"}).color is False
    assert detect(Stream(tty=True), {"NO_COLOR": ""}).color is True  # empty means unset
    assert detect(Stream(tty=True), {"GITHUB_ACTIONS": "true"}).live is False
    assert detect(Stream(tty=True, encoding="ascii"), {}).unicode is False


def test_ascii_stream_gets_ascii_markers() -> None:
    stream = Stream(encoding="ascii")
    reporter = ui.Reporter(ui.Mode.NORMAL, stream=stream, env={})
    reporter.step_started("bundle")
    reporter.step_finished("bundle", 0.04)
    reporter.step_started("verify")
    reporter.step_failed("verify", 0.01)
    assert stream.getvalue().splitlines() == [
        "> bundle",
        "ok bundle 0.04s",
        "> verify",
        "FAILED verify 0.01s",
    ]


# --- modes -------------------------------------------------------------------------------------


def test_quiet_prints_only_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    stream = Stream()
    reporter = ui.Reporter(ui.Mode.QUIET, stream=stream, env={})
    reporter.step_started("cargo build")
    reporter.echo_command("cargo build --lib")
    reporter.step_finished("cargo build", 1.0)
    reporter.note("a note")
    reporter.summary(FACTS)
    assert stream.getvalue() == ""
    reporter.error(CrateError("no Cargo.toml in /x", "pass its path"))
    assert stream.getvalue() == "error: no Cargo.toml in /x (pass its path)\n"
    assert capsys.readouterr().out == ""


def test_verbose_echoes_commands_normal_does_not() -> None:
    for mode, expected in ((ui.Mode.VERBOSE, ["$ wasm-opt -O in.wasm"]), (ui.Mode.NORMAL, [])):
        stream = Stream()
        ui.Reporter(mode, stream=stream, env={}).echo_command("wasm-opt -O in.wasm")
        assert stream.getvalue().splitlines() == expected


def test_failed_tool_output_drops_cargo_json_messages() -> None:
    stream = Stream()
    output = (
        '{"reason":"compiler-artifact","target":{}}\n'
        "error[E0308]: mismatched types\n --> src/lib.rs:3:5\n"
        '{"reason":"build-finished","success":false}\n'
    )
    ui.Reporter(ui.Mode.NORMAL, stream=stream, env={}).error(
        CommandFailedError(["/usr/bin/cargo", "build"], 101, output, "fix the compile errors")
    )
    assert stream.getvalue().splitlines() == [
        "error[E0308]: mismatched types",
        " --> src/lib.rs:3:5",
        "error: cargo exited with code 101 (fix the compile errors)",
    ]


# --- --json ------------------------------------------------------------------------------------


DOWNLOAD_URL = "https://mirror.example/wb/0.2.130/wasm-bindgen-0.2.130-x86_64.tar.gz"
DOWNLOAD_DRIVER = f"""
from worker_build.cli.ui import Mode, Reporter
r = Reporter(Mode.NORMAL)
r.step_started("wasm-bindgen")
r.download_started("wasm-bindgen 0.2.130", "{DOWNLOAD_URL}", 3 << 20)
r.download_advanced(1 << 20, 3 << 20)
r.download_advanced(3 << 20, 3 << 20)
r.download_ended()
r.step_finished("wasm-bindgen", 1.0)
"""


def test_download_progress_on_a_terminal() -> None:
    code, out = run_in_pty([sys.executable, "-c", DOWNLOAD_DRIVER], child_env(), cols=160)
    assert code == 0, out
    text = ANSI.sub("", out)
    assert f"downloading wasm-bindgen 0.2.130 (3.0 MiB) from {DOWNLOAD_URL}" in text
    # the spinner line shows the bytes as they arrive: the first and last update at once
    assert "wasm-bindgen 0.2.130: 1.0 MiB of 3.0 MiB (33%)" in text
    assert "wasm-bindgen 0.2.130: 3.0 MiB of 3.0 MiB (100%)" in text
    assert "✓ wasm-bindgen 1.00s" in plain_lines(out)


@pytest.mark.parametrize("mode", [ui.Mode.NORMAL, ui.Mode.JSON, ui.Mode.QUIET])
def test_download_off_a_terminal_is_one_line(mode: ui.Mode) -> None:
    stream = Stream()
    reporter = ui.Reporter(mode, stream=stream, env={})
    reporter.step_started("wasm-bindgen")
    reporter.download_started("wasm-bindgen 0.2.130", DOWNLOAD_URL, None)
    for done in range(0, 5 << 20, 1 << 16):
        reporter.download_advanced(done, None)
    reporter.download_ended()
    lines = stream.getvalue().splitlines()
    expected = f"downloading wasm-bindgen 0.2.130 from {DOWNLOAD_URL}"
    assert lines == ([] if mode is ui.Mode.QUIET else ["▸ wasm-bindgen", expected])


TASK_WHAT = (
    "compiling wasm-bindgen-cli 0.2.130 with `cargo install` into /c, about 5 min on 2 cores"
)
TASK_WHY = "no prebuilt wasm-bindgen 0.2.130 reachable (host not found)"
TASK_DRIVER = f"""
import sys
from worker_build.cli.ui import Mode, Reporter
r = Reporter(Mode.NORMAL)
r.step_started("wasm-bindgen")
shown = r.task_started("{TASK_WHAT}", "{TASK_WHY}")
sys.stderr.write("   Compiling walrus v0.23.3\\n"); sys.stderr.flush()
r.task_ended()
r.step_finished("wasm-bindgen", 1.0)
print("shown:", shown)
"""


def test_a_long_job_on_a_terminal_says_why_then_shows_its_own_lines() -> None:
    """Issue 16: a silent 5-minute `cargo install`. The reason and the estimate are said
    first; the spinner stops so cargo's own lines are not drawn over, and comes back."""
    code, out = run_in_pty([sys.executable, "-c", TASK_DRIVER], child_env(), cols=200)
    assert code == 0, out
    lines = plain_lines(out)
    assert f"{TASK_WHY}; {TASK_WHAT}" in lines
    assert "   Compiling walrus v0.23.3" in lines  # a whole line of its own
    assert lines.index(f"{TASK_WHY}; {TASK_WHAT}") < lines.index("   Compiling walrus v0.23.3")
    assert "✓ wasm-bindgen 1.00s" in lines and "shown: True" in lines


@pytest.mark.parametrize("mode", [ui.Mode.NORMAL, ui.Mode.JSON, ui.Mode.QUIET])
def test_a_long_job_off_a_terminal(mode: ui.Mode) -> None:
    stream = Stream()
    reporter = ui.Reporter(mode, stream=stream, env={})
    reporter.step_started("wasm-bindgen")
    shown = reporter.task_started(TASK_WHAT, TASK_WHY)
    reporter.task_ended()
    reporter.task_started("installing npm's esbuild@0.28.2 into /c", "")
    reporter.task_ended()
    lines = stream.getvalue().splitlines()
    if mode is ui.Mode.QUIET:
        assert (shown, lines) == (False, [])
    else:
        assert shown is True
        assert lines == [
            "▸ wasm-bindgen",
            f"{TASK_WHY}; {TASK_WHAT}",
            "installing npm's esbuild@0.28.2 into /c",
        ]


def test_json_document_on_stdout_progress_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """Like cargo's JSON messages: stdout is only the document, people still see progress."""
    stream = Stream()
    reporter = ui.Reporter(ui.Mode.JSON, stream=stream, env={})
    reporter.step_started("cargo build")
    reporter.step_finished("cargo build", 1.5)
    reporter.summary(FACTS)
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["schema"] == report_mod.SCHEMA
    assert {k: doc[k] for k in FACTS} == FACTS
    lines = stream.getvalue().splitlines()
    assert lines[:2] == ["▸ cargo build", "✓ cargo build 1.50s"]
    assert "✓ worker-build: built in 6m29.1s" in lines


def test_json_error_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = build.main([str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_CRATE
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == EXIT_CRATE
    assert doc["error"]["type"] == "CrateError"
    assert doc["error"]["message"] == f"no Cargo.toml in {tmp_path}"
    assert doc["error"]["fix"] == "run worker-build in the crate's directory or pass its path"
    assert doc["failed_step"] == "pre-flight" and doc["steps"] == []
    assert "error: no Cargo.toml" in err


# --- GitHub Actions ------------------------------------------------------------------------------


def test_github_groups_annotation_and_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    stream = Stream()
    reporter = ui.Reporter(ui.Mode.NORMAL, stream=stream, env=env)
    reporter.step_started("cargo build")
    reporter.step_finished("cargo build", 1.5)
    reporter.step_started("wasm-bindgen")
    reporter.step_failed("wasm-bindgen", 0.2)
    output = '{"reason":"compiler-artifact"}\nerror: 100% of the schema\nis different\n'
    reporter.error(CommandFailedError(["wasm-bindgen", "x.wasm"], 1, output, "match versions"))
    lines = stream.getvalue().splitlines()
    assert lines[:4] == [
        "::group::worker-build: cargo build",
        "::endgroup::",
        "✓ cargo build 1.50s",
        "::group::worker-build: wasm-bindgen",
    ]
    assert lines[4:6] == ["::endgroup::", "✗ wasm-bindgen 0.20s (its output is in the group above)"]
    annotation = [line for line in lines if line.startswith("::error")]
    assert annotation == [
        "::error title=worker-build::wasm-bindgen exited with code 1 (match versions)"
        "%0Aerror: 100%25 of the schema%0Ais different"
    ]
    assert "worker-build failed (exit 1)" in summary.read_text()

    reporter = ui.Reporter(ui.Mode.NORMAL, stream=Stream(), env=env)
    reporter.summary(FACTS)
    text = summary.read_text()
    assert "| wasm-bindgen | 0.2.130 (cache) |" in text
    assert "| EH encoding | legacy |" in text
    assert "| cargo build | 1.50s |" in text


def test_github_annotation_keeps_json_stdout_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code = build.main([str(tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == EXIT_CRATE
    assert json.loads(out)["exit_code"] == EXIT_CRATE  # nothing but JSON on stdout
    assert f"::error title=worker-build::no Cargo.toml in {tmp_path}" in err.splitlines()[-1]


def test_no_annotations_outside_github() -> None:
    stream = Stream()
    ui.Reporter(ui.Mode.NORMAL, stream=stream, env={}).error(CrateError("bad", "fix it"))
    assert "::" not in stream.getvalue()


# --- worker-build.json ----------------------------------------------------------------------------
