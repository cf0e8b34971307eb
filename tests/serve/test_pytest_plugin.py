"""worker_build.pytest_plugin, run the way users run it: pytest sessions of small test files
(pytester), with the plugin loaded through its `pytest11` entry point.

The slow tests serve hello-worker for real: a session that builds it once and tests the
recovery semantics through the `worker` fixture, and sessions that fail or are interrupted
(SIGINT, SIGKILL) while a workerd runs, after which that workerd must be gone; and
bindings-worker's `[env.full]` in miniflare, each of its bindings through the fixture.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.paths import SAMPLES
from tests.support.bindings_worker import bindings_worker, node22_env
from tests.support.builds import Built, cargo_target_dir, tool_env
from tests.support.procs import alive
from worker_build.util.cachedir import cache_root

pytest_plugins = ["pytester"]
# Every session runs in a subprocess: an in-process one re-enables and then disables
# faulthandler, which resets SIGILL to its default and so removes wasmtime's trap handler
# for the rest of this session (a later wasm trap would kill the test run).

WAIT = 120.0  # bound of every wait for another process's event


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_the_plugin_is_registered_under_pytest11() -> None:
    found = {e.name: e.value for e in importlib.metadata.entry_points(group="pytest11")}
    assert found.get("worker_build") == "worker_build.pytest_plugin"


def test_help_lists_the_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*worker-build*", "*--worker-build-crate=PATH*"])
    result.stdout.fnmatch_lines(["*worker_build_scope*"])


def test_a_rootdir_without_a_crate_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(worker):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*holds no Cargo.toml (set worker_build_crate*"])
    assert result.ret != 0


def test_out_dir_in_the_build_flags_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", Cargo="[package]\nname = 'x'\n")
    pytester.makepyfile("def test_x(worker):\n    pass\n")
    result = pytester.runpytest_subprocess("--worker-build-args=--dev --out-dir elsewhere")
    result.stdout.fnmatch_lines(["*give the output directory with worker_build_out_dir*"])


def test_an_unknown_scope_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nworker_build_scope = class\n")
    pytester.makepyfile("def test_x(worker):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*worker_build_scope = 'class': use one of function*"])


@pytest.mark.parametrize(
    ("loader", "message"),
    [
        (None, "*loader.py does not exist: build without --no-loader*"),
        ("def add(a, b):\n    return a + b\n", "*is not a Worker crate's loader*"),
    ],
)
def test_output_without_a_worker_loader(
    pytester: pytest.Pytester, loader: str | None, message: str
) -> None:
    pytester.makefile(".toml", Cargo="[package]\nname = 'x'\n")
    (pytester.path / "build").mkdir()
    if loader is not None:
        (pytester.path / "build" / "loader.py").write_text(loader)
    pytester.makepyfile("def test_x(worker):\n    pass\n")
    result = pytester.runpytest_subprocess("--worker-build-no-build")
    result.stdout.fnmatch_lines([message])
    result.assert_outcomes(errors=1)


# -- with the real tools -----------------------------------------------------------------------

HELLO_TESTS = """
def counts(worker, path, n):
    return [int(worker.fetch(path).text) for _ in range(n)]

def test_root(worker):
    assert worker.fetch("/").status == 200

def test_panic_keeps_the_count(worker):
    assert counts(worker, "/count", 2) == [1, 2]
    assert worker.fetch("/panic").status == 500
    assert counts(worker, "/count", 1) == [3]

def test_abort_resets(worker):
    assert counts(worker, "/count", 2) == [1, 2]
    assert worker.fetch("/abort").status == 500
    assert counts(worker, "/count", 1) == [1]

def test_durable_object_counter(worker):
    assert counts(worker, "/do/increment", 2) == [1, 2]
    assert worker.fetch("/do/stored").text == "2"

def test_that_fails_shows_the_log(worker):
    worker.fetch("/panic")
    assert False, "deliberately"
"""


# pytester points HOME at a temporary directory: the sessions it runs keep the real
# caches (cargo's registry, worker-build's tools) through these, read before that happens.
REAL_HOMES = {
    "CARGO_HOME": os.environ.get("CARGO_HOME", str(Path.home() / ".cargo")),
    "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")),
    "WORKER_BUILD_CACHE": str(cache_root()),
}


@pytest.fixture
def build_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session's builds use the test fixtures' toolchain, caches and cargo target dir."""
    for name, value in {**tool_env(), **REAL_HOMES}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CARGO_TARGET_DIR", str(cargo_target_dir("hello-worker", "legacy")))


@pytest.mark.slow
@pytest.mark.usefixtures("build_env")
def test_a_session_builds_once_and_serves_each_test(pytester: pytest.Pytester) -> None:
    out = pytester.path / "out"
    pytester.makeini(
        f"[pytest]\nworker_build_crate = {SAMPLES / 'hello-worker'}\n"
        f"worker_build_args = --panic-unwind\nworker_build_out_dir = {out}\n"
    )
    pytester.makepyfile(test_hello=HELLO_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=1800)
    result.assert_outcomes(passed=4, failed=1)
    assert (out / "loader.py").is_file()
    result.stdout.fnmatch_lines(
        [
            "*workerd log (last lines)*",
            "*hello-worker: deliberate panic*",
            "worker-build: build * s; workerd started 5x: first * s, median * s, max * s",
        ]
    )


@pytest.mark.slow
def test_module_scope_shares_one_runtime_across_tests(
    pytester: pytest.Pytester, hello_unwind: Built
) -> None:
    pytester.makefile(".toml", Cargo="[package]\nname = 'x'\n")
    pytester.makepyfile(
        "def test_first(worker):\n    assert worker.fetch('/count').text == '1'\n"
        "def test_second(worker):\n    assert worker.fetch('/count').text == '2'\n"
    )
    result = pytester.runpytest_subprocess(
        "--worker-build-no-build",
        f"--worker-build-out-dir={hello_unwind.out}",
        "-o",
        "worker_build_scope=module",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["worker-build: workerd started 1x*"])


# A session whose first test records the pid of its workerd and then fails or waits for an
# interrupt; the second test (when it runs) checks that the first one's workerd is gone.
LIFECYCLE_TESTS = """
import os, pathlib, time

PIDS = pathlib.Path(os.environ["PID_FILE"])

def test_records_its_server(worker):
    PIDS.write_text(str(worker.pid))
    if os.environ["MODE"] == "fail":
        assert False, "deliberately"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # until the parent interrupts this session
        time.sleep(0.05)

def test_the_previous_server_is_gone(worker):
    pid = int(PIDS.read_text())
    assert pid != worker.pid
    stat = pathlib.Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
"""


def start_session(pytester: pytest.Pytester, out: Path, mode: str) -> subprocess.Popen[bytes]:
    pytester.makefile(".toml", Cargo="[package]\nname = 'x'\n")
    pytester.makepyfile(test_lifecycle=LIFECYCLE_TESTS)
    env = {**os.environ, "PID_FILE": str(pytester.path / "pid"), "MODE": mode}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--worker-build-no-build",
         f"--worker-build-out-dir={out}", "-x" if mode != "fail" else "-q"],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip


def recorded_pid(pytester: pytest.Pytester, session: subprocess.Popen[bytes]) -> int:
    pid_file = pytester.path / "pid"
    wait_until(lambda: pid_file.is_file() and pid_file.read_text(), "the test to record a pid")
    assert session.poll() is None
    return int(pid_file.read_text())


@pytest.mark.slow
def test_a_failed_test_stops_its_server_before_the_next_test(
    pytester: pytest.Pytester, hello_unwind: Built
) -> None:
    session = start_session(pytester, hello_unwind.out, "fail")
    output, _ = session.communicate(timeout=WAIT)
    text = output.decode()
    assert "1 failed, 1 passed" in text, text
    assert not alive(int((pytester.path / "pid").read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_session_leaves_no_server(
    pytester: pytest.Pytester, hello_unwind: Built, sig: signal.Signals
) -> None:
    session = start_session(pytester, hello_unwind.out, "wait")
    server = recorded_pid(pytester, session)
    assert alive(server)
    session.send_signal(sig)
    session.communicate(timeout=WAIT)
    # SIGINT: pytest's teardown and atexit stop it; SIGKILL: nothing runs in the session,
    # the parent-death signal does. Either way it ends soon after; the wait is bounded.
    wait_until(lambda: not alive(server), f"workerd {server} to end after {sig.name}")


# bindings-worker's [env.full] through the `worker` fixture: each binding only miniflare
# provides locally, exercised by a request (one runtime for the module).
FULL_TESTS = """
def test_runs_in_miniflare(worker):
    assert worker.runtime == "miniflare"
    assert worker.fetch("/welcome").text == "grüße aus 日本 😀"
    assert worker.fetch("/self").text == "via SELF: hello from vars"

def test_r2(worker):
    assert worker.fetch("/r2/k", method="PUT", body="v").text == "put"
    assert worker.fetch("/r2/k").text == "v"

def test_d1(worker):
    assert worker.fetch("/d1", method="POST", body="n").json()[-1]["text"] == "n"

def test_queue_producer_and_consumer(worker):
    mark = worker.logs.mark()
    assert worker.fetch("/enqueue", method="POST", body="from pytest").text == "sent"
    worker.logs.wait_for('consumed "from pytest" from jobs', since=mark)

def test_rate_limiter(worker):
    assert [worker.fetch("/limit/p").text for _ in range(3)][-1] == "limited"

def test_assets(worker):
    assert worker.fetch("/hello.txt").text == "hello from assets, grüße\\n"
    assert worker.fetch("/assets-binding").text.startswith("via ASSETS: hello")

def test_analytics_engine(worker):
    assert worker.fetch("/event").text == "written"

def test_that_fails_shows_the_log(worker):
    worker.fetch("/log")
    assert False, "deliberately"
"""


@pytest.fixture(scope="module")
def bindings_build() -> Built:
    """Built before pytester points HOME elsewhere (cargo would lose its registry cache)."""
    return bindings_worker()


@pytest.mark.slow
def test_the_fixture_serves_an_environment_in_miniflare(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, bindings_build: Built
) -> None:
    node22_env(monkeypatch)
    pytester.makefile(".toml", Cargo="[package]\nname = 'x'\n")
    pytester.makepyfile(test_full=FULL_TESTS)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--worker-build-no-build",
        f"--worker-build-out-dir={bindings_build.out}",
        "--worker-build-env=full",
        "-o",
        "worker_build_scope=module",
        timeout=600,
    )
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*miniflare log (last lines)*",
            "*bindings-worker: logged GET*",
            "worker-build: miniflare started 1x: first * s, median * s, max * s",
        ]
    )
