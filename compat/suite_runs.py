"""One run of workers-rs's suite per tool and mode (step 4 of compat/workers_rs_suite.py):
build the sandbox crate, run vitest on it, run the specs that failed again.

As the root package.json's scripts do (`cd test && NO_MINIFY=1 worker-build <flags> &&
WORKERD_ALL_AUTOGATES=1 NODE_OPTIONS=--experimental-vm-modules npx vitest run`), per
mode (MODES) and tool: delete test/build, build (nice -n 10, CARGO_TARGET_DIR per tool
and mode, kept between runs), run vitest with its JSON reporter. One addition to
upstream's NODE_OPTIONS: `--import compat/loopback.mjs`, which binds servers that listen
on a bare port (mf-socket.ts's echo server, `listen(8080)`) to 127.0.0.1 instead of
every interface. The specs are run unchanged.

The tools (`make_tools`): ours from a snapshot of HEAD, so uncommitted edits are not
measured, and the real worker-build REAL_VERSION, given the same wasm-bindgen CLI as
WASM_BINDGEN_BIN (it would otherwise download it from GitHub); harness/realtool.py.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compat import suite_report
from compat.suite_report import SpecOutcome
from compat.suite_setup import CACHE, NODE22, SetupError, run_logged, spec_files, tail
from harness.machine import loadavg, log
from harness.realtool import OURS, install_real, snapshot_ours

REAL_VERSION = "0.8.7"
MODES: dict[str, tuple[str, ...]] = {
    "test": ("--dev",),
    "test-panic-unwind": ("--dev", "--panic-unwind"),
}
LOOPBACK = Path(__file__).resolve().parent / "loopback.mjs"
BUILD_TIMEOUT = 3 * 3600
VITEST_TIMEOUT = 30 * 60


@dataclass(frozen=True)
class ToolSetup:
    name: str
    argv: list[str]
    label: str
    extra_env: dict[str, str]


@dataclass
class RunResult:
    tool: str
    mode: str
    flags: tuple[str, ...]
    build_exit: int
    build_seconds: float
    build_warm: bool
    vitest_exit: int | None
    vitest_seconds: float
    specs: dict[str, SpecOutcome]
    rerun: list[str] = field(default_factory=list)  # specs run more than once
    rerun_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "mode": self.mode,
            "flags": list(self.flags),
            "build": {
                "exit": self.build_exit,
                "seconds": self.build_seconds,
                "target_dir": "reused" if self.build_warm else "cold",
            },
            "vitest": {
                "exit": self.vitest_exit,
                "seconds": self.vitest_seconds,
                "rerun": self.rerun,
                "rerun_seconds": self.rerun_seconds,
            },
            "specs": {name: o.to_json() for name, o in self.specs.items()},
        }


def load_baseline(path: Path, modes: list[str]) -> dict[str, dict[str, SpecOutcome]]:
    """The real tool's spec outcomes per mode from an earlier run's JSON (`to_json`)."""
    data = json.loads(path.read_text())
    found = {}
    for run in data.get("runs", []):
        if run["tool"] == "real" and run["mode"] in modes:
            found[run["mode"]] = {
                spec: SpecOutcome.from_json(spec, o) for spec, o in run["specs"].items()
            }
    if not found:
        raise SetupError(f"{path} holds no results of the real tool for {', '.join(modes)}")
    return found


def make_tools(names: list[str], wasm_bindgen: Path) -> tuple[list[ToolSetup], str]:
    """The tools `names` ("ours", "real") to run, and the commit ours is taken from."""
    ours_src, commit = snapshot_ours()
    setups = []
    for name in names:
        if name == "ours":
            label = f"worker-build (Python) at {commit}"
            setups.append(ToolSetup("ours", [str(OURS)], label, {"PYTHONPATH": str(ours_src)}))
        else:
            exe = install_real(REAL_VERSION)
            label = f"worker-build {REAL_VERSION} (crates.io)"
            setups.append(
                ToolSetup("real", [str(exe)], label, {"WASM_BINDGEN_BIN": str(wasm_bindgen)})
            )
    return setups, commit


def vitest_env(base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(NODE22.parent), env.get("PATH", "")])
    env["WORKERD_ALL_AUTOGATES"] = "1"
    env["NODE_OPTIONS"] = f"--experimental-vm-modules --import {LOOPBACK.as_uri()}"
    return env


def run_one(
    tree: Path,
    tool: ToolSetup,
    mode: str,
    toolchain: Mapping[str, str],
    vitest_args: list[str],
    reruns: int,
) -> RunResult:
    """Build the sandbox crate with `tool` in `mode`, then run its specs, failed ones
    again up to `reruns` times."""
    flags = MODES[mode]
    crate = tree / "test"
    out = CACHE / "runs" / f"{tool.name}-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.rmtree(crate / "build", ignore_errors=True)
    env = dict(toolchain, **tool.extra_env)
    target = CACHE / "target" / f"{tool.name}-{mode}"
    warm = (target / "wasm32-unknown-unknown").is_dir()
    env["CARGO_TARGET_DIR"] = str(target)
    env["NO_MINIFY"] = "1"
    specs = spec_files(tree)
    kind = "reusing its target dir" if warm else "cold target dir"
    log(f"{mode}: {tool.name}: building ({' '.join(flags)}; {kind}; load {loadavg()})...")
    start = time.perf_counter()
    code = run_logged(
        ["nice", "-n", "10", *tool.argv, *flags],
        cwd=crate,
        env=env,
        log_path=out / "build.log",
        timeout=BUILD_TIMEOUT,
    )
    build_seconds = round(time.perf_counter() - start, 1)
    if code != 0:
        log(f"{mode}: {tool.name}: build failed ({code}), see {out / 'build.log'}")
        log(tail(out / "build.log", 15))
        return RunResult(
            tool.name, mode, flags, code, build_seconds, warm, None, 0.0,
            suite_report.not_run(specs, f"build failed ({code}); see {out / 'build.log'}"),
        )  # fmt: skip
    log(f"{mode}: {tool.name}: built in {build_seconds:.0f} s; vitest (load {loadavg()})...")
    start = time.perf_counter()
    vitest_code, outcomes = run_vitest(crate, out, "vitest", [], toolchain, vitest_args, specs)
    vitest_seconds = round(time.perf_counter() - start, 1)
    rerun: list[str] = []
    for attempt in range(2, reruns + 2):
        again = suite_report.to_rerun(outcomes)
        if not again:
            break
        rerun += [s for s in again if s not in rerun]
        log(f"{mode}: {tool.name}: running again (run {attempt}): {' '.join(again)}")
        files = [f"tests/{s}" for s in again]
        _, new = run_vitest(
            crate, out, f"vitest-run{attempt}", files, toolchain, vitest_args, again
        )
        outcomes = suite_report.merge_rerun(outcomes, new)
    rerun_seconds = round(time.perf_counter() - start - vitest_seconds, 1)
    failed = sum(o.status not in suite_report.OK for o in outcomes.values())
    log(
        f"{mode}: {tool.name}: vitest {vitest_seconds:.0f} s (+{rerun_seconds:.0f} s again), "
        f"{failed} spec(s) not passing"
    )
    return RunResult(
        tool.name, mode, flags, code, build_seconds, warm, vitest_code, vitest_seconds, outcomes,
        rerun, rerun_seconds,
    )  # fmt: skip


def run_vitest(
    crate: Path,
    out: Path,
    name: str,
    files: list[str],
    toolchain: Mapping[str, str],
    vitest_args: list[str],
    specs: list[str],
) -> tuple[int, dict[str, SpecOutcome]]:
    """One `vitest run [files]` in the crate directory; the outcome of each of `specs`
    from its JSON report (out/NAME.json; the console output in out/NAME.log)."""
    report_path = out / f"{name}.json"
    vitest = CACHE / "npm" / "node_modules" / "vitest" / "vitest.mjs"
    code = run_logged(
        [
            "nice", "-n", "10", str(NODE22), str(vitest), "run",
            "--reporter=default", "--reporter=json", f"--outputFile.json={report_path}",
            *vitest_args, *files,
        ],
        cwd=crate,
        env=vitest_env(toolchain),
        log_path=out / f"{name}.log",
        timeout=VITEST_TIMEOUT,
    )  # fmt: skip
    if not report_path.is_file():
        why = f"vitest ({code}) wrote no report; see {out / name}.log"
        return code, suite_report.not_run(specs, why)
    return code, suite_report.parse_report(json.loads(report_path.read_text()), specs)
