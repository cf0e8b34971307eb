"""pytest plugin (entry point `pytest11`): test a Worker crate in the real runtime.

    def test_root(worker):
        assert worker.fetch("/").status == 200

The crate is built once per session with worker-build (incremental: a no-op when nothing
changed) and its generated `loader.py` serves the build on 127.0.0.1 (in workerd, or in
miniflare when a binding needs it); `worker` is the client `loader.serve()` returns. Each
test gets a fresh runtime by default.

Configuration (a command-line option wins over its ini option):

| command line | ini (pytest.ini / [tool.pytest.ini_options]) | default |
|---|---|---|
| `--worker-build-crate PATH` | `worker_build_crate` | the rootdir |
| `--worker-build-args ARGS` | `worker_build_args` (e.g. `--dev --panic-unwind`) | none |
| `--worker-build-out-dir DIR` | `worker_build_out_dir` (relative to the crate) | `build` |
| `--worker-build-no-build` | `worker_build_build = false` (serve the existing output) | build |
| `--worker-build-env NAME` | `worker_build_environment` (the wrangler `[env.NAME]`) | none |
| | `worker_build_scope` = function, module or session | function |

Fixtures to override in a conftest.py: `worker_build_bindings` (the `bindings=` of
`serve()`, default {}), `worker_build_storage` (a directory for Durable Object and KV data,
default None: in memory), `worker_build_output` (the build directory: return your own to
skip the build). Startup times are reported in the terminal summary.
"""

from __future__ import annotations

import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from worker_build.util.pyimport import import_file

if TYPE_CHECKING:  # imported when first used: pytest loads this plugin in every session
    from worker_build.serve import Worker

SCOPES = ("function", "module", "session")
BUILD_TIMEOUT = 3600.0  # a cold build compiles std: minutes on a small machine
LOG_TAIL_LINES = 60

_timings = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("worker-build", "Worker crate served by worker-build")
    group.addoption("--worker-build-crate", metavar="PATH", help="the Worker crate to build")
    group.addoption("--worker-build-args", metavar="ARGS", help='worker-build flags, e.g. "--dev"')
    group.addoption(
        "--worker-build-out-dir", metavar="DIR", help="output directory (default: build)"
    )
    group.addoption(
        "--worker-build-no-build",
        action="store_true",
        default=None,
        help="serve the existing output without building",
    )
    group.addoption("--worker-build-env", metavar="NAME", help="serve with the wrangler [env.NAME]")
    parser.addini("worker_build_crate", "the Worker crate (relative to the rootdir)")
    parser.addini("worker_build_args", "worker-build flags for the session's build")
    parser.addini("worker_build_out_dir", "output directory, relative to the crate")
    parser.addini("worker_build_build", "build before serving (false: serve as is)", "bool", True)
    parser.addini("worker_build_scope", "scope of the `worker` fixture", default="function")
    parser.addini("worker_build_environment", "the wrangler [env.NAME] to serve with")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_timings] = {"build": None, "startups": []}


def _scope(fixture_name: str, config: pytest.Config) -> str:
    scope = str(config.getini("worker_build_scope") or "function")
    if scope not in SCOPES:
        raise pytest.UsageError(f"worker_build_scope = {scope!r}: use one of {', '.join(SCOPES)}")
    return scope


def _crate(config: pytest.Config) -> Path:
    option = config.getoption("worker_build_crate")
    if option:
        crate: Path = config.invocation_params.dir / str(option)
    else:
        ini = str(config.getini("worker_build_crate") or "")
        base = config.inipath.parent if config.inipath else config.rootpath
        crate = base / ini if ini else config.rootpath
    if not (crate / "Cargo.toml").is_file():
        raise pytest.UsageError(
            f"worker-build: {crate} holds no Cargo.toml (set worker_build_crate in the ini "
            "file or pass --worker-build-crate PATH)"
        )
    return crate.resolve()


def _build_args(config: pytest.Config) -> list[str]:
    text = config.getoption("worker_build_args") or str(config.getini("worker_build_args") or "")
    args = shlex.split(text)
    if any(a in ("-d", "--out-dir") or a.startswith("--out-dir=") for a in args):
        raise pytest.UsageError(
            "worker-build: give the output directory with worker_build_out_dir / "
            "--worker-build-out-dir, not in the build flags"
        )
    return args


def _out_dir(config: pytest.Config, crate: Path) -> Path:
    text = config.getoption("worker_build_out_dir") or str(
        config.getini("worker_build_out_dir") or "build"
    )
    return (crate / text).resolve()


def _should_build(config: pytest.Config) -> bool:
    if config.getoption("worker_build_no_build"):
        return False
    return bool(config.getini("worker_build_build"))


def _environment(config: pytest.Config) -> str | None:
    text = config.getoption("worker_build_env") or config.getini("worker_build_environment")
    return str(text) if text else None


def _say(config: pytest.Config, text: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)


@pytest.fixture(scope="session")
def worker_build_output(pytestconfig: pytest.Config) -> Path:
    """The Worker's build directory, built once per session (unless building is off)."""
    crate = _crate(pytestconfig)
    out = _out_dir(pytestconfig, crate)
    if not _should_build(pytestconfig):
        return out
    argv = [sys.executable, "-m", "worker_build", str(crate), "--out-dir", str(out)]
    argv += _build_args(pytestconfig)
    _say(pytestconfig, f"worker-build: building {crate} ...")
    started = time.perf_counter()
    try:
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"worker-build did not finish within {BUILD_TIMEOUT:.0f} s", pytrace=False)
    pytestconfig.stash[_timings]["build"] = time.perf_counter() - started
    if result.returncode != 0:
        pytest.fail(
            f"worker-build {shlex.join(argv[3:])} failed (exit {result.returncode}):\n"
            f"{result.stderr[-6000:]}",
            pytrace=False,
        )
    return out


@pytest.fixture(scope="session")
def worker_build_loader(worker_build_output: Path) -> ModuleType:
    """The build's generated loader.py, imported (once per session)."""
    path = worker_build_output / "loader.py"
    if not path.is_file():
        pytest.fail(
            f"{path} does not exist: build without --no-loader (loader = false)", pytrace=False
        )
    name = f"worker_build_loader_{abs(hash(str(path)))}"
    module = import_file(path, name, register=True)
    assert module is not None, f"{path} is a Python file"
    if not callable(getattr(module, "serve", None)):
        pytest.fail(
            f"{path} is not a Worker crate's loader (no serve(); the crate exports no "
            "Worker handler such as #[event(fetch)])",
            pytrace=False,
        )
    return module


@pytest.fixture(scope="session")
def worker_build_bindings() -> dict[str, Any]:
    """Override to replace bindings of the wrangler configuration ({name: value or None})."""
    return {}


@pytest.fixture(scope="session")
def worker_build_storage() -> Path | None:
    """Override to keep Durable Object and KV data in a directory (default: in memory)."""
    return None


@pytest.fixture(scope=_scope)  # type: ignore[arg-type]
def worker(
    request: pytest.FixtureRequest,
    worker_build_loader: ModuleType,
    worker_build_bindings: dict[str, Any],
    worker_build_storage: Path | None,
) -> Iterator[Worker]:
    """The Worker served on 127.0.0.1 (see the module docstring)."""
    with worker_build_loader.serve(
        bindings=worker_build_bindings,
        storage=worker_build_storage,
        environment=_environment(request.config),
    ) as served:
        runtime = getattr(served, "runtime", "workerd")  # a loader of an older worker-build
        request.config.stash[_timings]["startups"].append((runtime, served.startup_seconds))
        yield served


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used `worker` gets the tail of the server's log in its report."""
    report: Any = yield
    served: Any = getattr(item, "funcargs", {}).get("worker")
    if report.failed and call.when == "call" and hasattr(served, "logs"):
        tail = "\n".join(served.logs.lines[-LOG_TAIL_LINES:])
        runtime = getattr(served, "runtime", "workerd")
        report.sections.append((f"{runtime} log (last lines)", tail))
    return report  # type: ignore[no-any-return]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    timings = config.stash.get(_timings, None)
    if not timings or (timings["build"] is None and not timings["startups"]):
        return
    parts = []
    if timings["build"] is not None:
        parts.append(f"build {timings['build']:.1f} s")
    for runtime in dict.fromkeys(r for r, _ in timings["startups"]):  # in order of use
        startups = [seconds for r, seconds in timings["startups"] if r == runtime]
        parts.append(
            f"{runtime} started {len(startups)}x: first {startups[0]:.2f} s, "
            f"median {statistics.median(startups):.2f} s, max {max(startups):.2f} s"
        )
    terminalreporter.write_line("worker-build: " + "; ".join(parts))
