"""ui.py: progress, summary, --json, GitHub annotations, colour rules, worker-build.json.

The terminal cases run a small driver (or the real CLI) in a child process:
under a pseudo-terminal for the TTY case, with pipes and COLUMNS / NO_COLOR
for the rest. No real build tool runs here.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from tests.support.cratefix import write_crate
from worker_build.build import report as report_mod
from worker_build.cli import build, ui
from worker_build.errors import EXIT_CRATE, CommandFailedError, CrateError

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SPINNER_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
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


class Stream(io.StringIO):
    """A captured stream that reports an encoding and whether it is a TTY."""

    def __init__(self, tty: bool = False, encoding: str = "utf-8") -> None:
        super().__init__()
        self._tty = tty
        self._encoding = encoding

    def isatty(self) -> bool:
        return self._tty

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in (
        "NO_COLOR",
        "FORCE_COLOR",
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "TERM",
        "WORKER_BUILD_RUSTC",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "NO_COLOR",
            "FORCE_COLOR",
            "GITHUB_ACTIONS",
            "GITHUB_STEP_SUMMARY",
            "COLUMNS",
            "TTY_COMPATIBLE",
            "TTY_INTERACTIVE",
        )
    }
    env["TERM"] = "xterm-256color"
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


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


def run_in_pty(argv: list[str], env: dict[str, str], cols: int = 100) -> tuple[int, str]:
    """Run argv with stdin/stdout/stderr on a fresh pseudo-terminal; return what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            if not ready:
                proc.kill()
                pytest.fail(f"{argv} wrote nothing for 60 s")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def run_piped(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def plain_lines(text: str) -> list[str]:
    return [line.rstrip() for line in ANSI.sub("", text).replace("\r", "\n").splitlines()]


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


def test_durations() -> None:
    assert ui.format_duration(0.049) == "0.05s"
    assert ui.format_duration(13.83) == "13.83s"
    assert ui.format_duration(374.84) == "6m14.8s"


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


def test_workflow_command_escaping() -> None:
    assert ui.workflow_command("error", "50%\r\nnext", title="a:b,c") == (
        "::error title=a%3Ab%2Cc::50%25%0D%0Anext"
    )


# --- worker-build.json ----------------------------------------------------------------------------


def test_successful_cli_build_writes_report_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """build.py wiring, with the pipeline replaced by one that writes a fake output."""
    from worker_build.build import options, pipeline
    from worker_build.build.context import BuildContext

    root = write_crate(tmp_path / "crate")

    def fake_build(raw: options.RawArgs, reporter: Any, finish: Any = None) -> pipeline.BuildResult:
        opts = options.resolve(raw, root, {})
        reporter.step_started("cargo build")
        reporter.step_finished("cargo build", 2.0)
        opts.out_dir.mkdir()
        (opts.out_dir / "index_bg.wasm").write_bytes(b"\0asm" + bytes(1000))
        (opts.out_dir / "index.js").write_text("export default {};\n" * 10)
        ctx = BuildContext(options=opts, staging=tmp_path / "staging")
        ctx.staging.mkdir()
        ctx.facts.update(toolchain="rustc 1.96.0 (stable, --rustc)", eh_encoding="none")
        ctx.facts.update(report_mod.measure(opts.out_dir))  # as pipeline.build records them
        result = pipeline.BuildResult(ctx, [("cargo build", 2.0)])
        if finish is not None:
            finish(result)
        return result

    monkeypatch.setattr(pipeline, "build", fake_build)
    assert build.main([str(root), "--json"]) == 0
    stdout_doc = json.loads(capsys.readouterr().out)
    report = root / "build" / "worker-build.json"
    assert report.is_file(), "build.py does not call report.write(facts) after a build"
    file_doc = json.loads(report.read_text())
    assert file_doc["wasm_bytes"] == 1004 == stdout_doc["wasm_bytes"]
    assert file_doc["steps"] == [{"name": "cargo build", "seconds": 2.0}]
    assert file_doc["ok"] is True and file_doc["out_dir"] == str(root / "build")


def test_loader_summary_counts_callable_and_not() -> None:
    # rpc-server: its only export is async, so nothing is callable; say so by name
    rows = ui.loader_rows({"files": ["loader.py"], "functions": [],
                           "unsupported": ["add: returns Promise<number> (an async fn)"]})  # fmt: skip
    assert rows == [
        ("python loader", "loader.py (0 callable, 1 not)"),
        ("  not callable", "add: returns Promise<number> (an async fn)"),
    ]
    rows = ui.loader_rows({
        "files": ["loader.py", "loader_bg.wasm"], "functions": ["f", "Point.x"],
        "unsupported": [f"u{i}: i128" for i in range(6)], "imports": ["log(str) -> None"],
        "unsupported_imports": ["any: a JS value"],
    })  # fmt: skip
    assert rows == [
        (
            "python loader",
            "loader.py, loader_bg.wasm (2 callable, 6 not, 1 JS imports to provide())",
        ),
        ("  not callable", "u0: i128; u1: i128; u2: i128; u3: i128; 2 more in the report"),
        ("  JS imports", "cannot be provided: any: a JS value"),
    ]


# --- under wrangler's [build] ------------------------------------------------------------------


def wrangler_lines(chunks: list[bytes]) -> list[str]:
    """What wrangler's runCommand logs for these chunks: each one split on newlines."""
    return [piece for chunk in chunks for piece in chunk.decode().split("\n")]


@pytest.mark.parametrize("kind", ["pipe", "socket"])
def test_wrangler_sees_whole_lines_and_no_empty_ones(kind: str) -> None:
    import socket

    from worker_build.cli.wrangler_log import LineChunks

    if kind == "pipe":
        read_fd, write_fd = os.pipe()
    else:  # Node's child stdio
        ours, theirs = socket.socketpair()
        read_fd, write_fd = theirs.detach(), ours.detach()
    with os.fdopen(write_fd, "w", encoding="utf-8") as pipe:
        stream = LineChunks(pipe)  # type: ignore[arg-type]
        chunks: list[bytes] = []

        def read() -> None:
            chunks.append(os.read(read_fd, 65536))

        stream.write("▸ pre-flight\n")  # one line: passed on without its newline
        read()
        stream.write("✓ pre-flight 0.00s\n▸ cargo build\n")
        read()
        stream.write("    Blocking")  # cargo writes its status word apart
        stream.write(" waiting for file lock\n")
        stream.write("   Compiling x\n")  # unread: after DRAIN_POLLS, the newline in front
        read()
        stream.write("error: no newline at exit")
        stream.close()
        read()
    os.close(read_fd)
    assert chunks == [
        "▸ pre-flight".encode(),
        "✓ pre-flight 0.00s\n▸ cargo build".encode(),
        b"    Blocking waiting for file lock\n   Compiling x",
        b"error: no newline at exit",
    ]
    assert wrangler_lines(chunks) == [
        "▸ pre-flight",
        "✓ pre-flight 0.00s",
        "▸ cargo build",
        "    Blocking waiting for file lock",
        "   Compiling x",
        "error: no newline at exit",
    ]


def test_wrangler_mode_only_under_wrangler_and_on_a_pipe(tmp_path: Path) -> None:
    import socket

    from worker_build.cli.wrangler_log import wanted

    read_fd, write_fd = os.pipe()
    ours, theirs = socket.socketpair()  # what Node gives a child's stdio
    with (
        os.fdopen(write_fd, "w") as pipe,
        ours.makefile("w") as sock,
        open(tmp_path / "log", "w") as file,
    ):
        assert wanted(pipe, {"WRANGLER_COMMAND": "deploy"})
        assert wanted(sock, {"WRANGLER_COMMAND": "dev"})
        assert not wanted(pipe, {})
        assert not wanted(file, {"WRANGLER_COMMAND": "deploy"})
        assert not wanted(Stream(tty=True), {"WRANGLER_COMMAND": "deploy"})
    os.close(read_fd)
    ours.close()
    theirs.close()


def test_cli_under_wrangler_writes_no_empty_lines(tmp_path: Path) -> None:
    """The real CLI with stderr on a pipe and WRANGLER_COMMAND set, read the way
    wrangler reads it (chunk by chunk, split on newlines)."""
    exe = str(VENV_BIN / "worker-build")
    env = child_env(WRANGLER_COMMAND="deploy")
    proc = subprocess.Popen([exe, str(tmp_path)], env=env, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    # Read only after it exits: every chunk after the first finds the previous one
    # unread and puts the newline in front (the other case is the unit test above).
    assert proc.wait(timeout=60) == EXIT_CRATE
    chunks = [proc.stderr.read()]
    lines = wrangler_lines(chunks)
    assert "" not in lines, lines
    assert lines[-1] == (
        f"error: no Cargo.toml in {tmp_path} "
        "(run worker-build in the crate's directory or pass its path)"
    )
