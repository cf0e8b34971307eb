"""Run workers-rs's own integration suite against crates built by our worker-build
(and, side by side, by the real worker-build 0.8.7): issue 10, part 2.

    .venv/bin/python compat/workers_rs_suite.py --repo PATH              # ours, both modes
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --real       # ours and the real tool
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --check --baseline OLD.json
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --modes test-panic-unwind --real

PATH (or env WORKERS_RS_REPO) is a git copy of cloudflare/workers-rs (a clone or a bare
git dir) that holds the pinned commit PINNED_COMMIT (`--commit` to try another). Nothing
of upstream is in our repository: everything below is made at run time under
.cache/workers-rs-suite/ (git-ignored) and reused by later runs.

1. Extract the commit's workspace, 2. relock it without upstream's wasm-bindgen
   submodule, 3. install the npm packages the specs need: compat/suite_setup.py. The
   wasm-bindgen CLI is then the locked version (0.2.127 at the pinned commit), resolved
   and installed by our own tool resolution (worker_build.tools.resolve).
4. For each mode (`test`: --dev; `test-panic-unwind`: --dev --panic-unwind) and tool
   (ours first): build, run vitest, run failed specs again: compat/suite_runs.py. Both
   tools build with the benchmark toolchain (harness/bench_toolchain.py: Debian's rustc
   1.96 with a precompiled wasm32 std, linked into a private RUSTUP_HOME as `wb-bench`
   and `nightly`; the `rustup` shim for --panic-unwind).
   vitest's timeout for tests that set none is 30 s (`--test-timeout MS`; upstream runs
   with vitest's default 5 s, which a slow machine misses: see DEFAULT_TEST_TIMEOUT_MS).
   Specs that fail are run once more (`--reruns N`, default 1; 0 turns it off): on a
   busy 2-core machine a workerd start or a 5 s test timeout is sometimes missed. A
   spec that passes only then shows as "pass .., run 2" with the first run's failure.
5. Report: a markdown table (spec x mode x tool), one line per failed test with its
   message, and a JSON file (default .cache/workers-rs-suite/results.json, or --json)
   with every test's outcome, the timings of each part and the machine load
   (compat/suite_report.py).

--check: exit 1 when a spec that passes with the real tool fails with ours, in any mode
that both ran. The real tool's results come from this run (--real) or from the JSON of an
earlier run (--baseline FILE). Exit 2: bad arguments or a set-up step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compat import suite_report
from compat.suite_report import SpecOutcome
from compat.suite_runs import MODES, RunResult, ToolSetup, load_baseline, make_tools, run_one
from compat.suite_setup import (
    CACHE,
    NPM_PACKAGES,
    SetupError,
    ensure_npm,
    ensure_tree,
    locked_version,
)
from harness.bench_toolchain import BenchToolchain, bench_toolchain, rustc_release
from harness.machine import loadavg, stopwatch
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy, Source, Tool

PINNED_COMMIT = "bb141710ebcf38b5a61c6e8f1d1c20c3dd2f3f6d"  # 2026-08-20, HEAD of the snapshot
TOOLS = ("ours", "real")
# vitest's default is 5 s. On 2 shared cores r2.spec.ts "delete" (1,000 R2 puts in one
# request) took 5-9 s with either tool's build (4 alternating runs each, load 5-7), so at
# 5 s it failed or passed by luck for both; tests that set a timeout (panic.spec.ts:
# 20 s) keep theirs.
DEFAULT_TEST_TIMEOUT_MS = 30_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--repo",
        type=Path,
        default=os.environ.get("WORKERS_RS_REPO"),
        help="git copy of cloudflare/workers-rs (env WORKERS_RS_REPO)",
    )
    ap.add_argument("--commit", default=PINNED_COMMIT, help=f"default {PINNED_COMMIT[:12]}")
    ap.add_argument("--real", action="store_true", help="also build and run with the real tool")
    ap.add_argument("--no-ours", action="store_true", help="only the real tool (with --real)")
    ap.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}"
    )
    ap.add_argument("--check", action="store_true", help="exit 1 on a spec real passes, ours not")
    ap.add_argument("--baseline", type=Path, help="real tool's results from an earlier --json")
    ap.add_argument("--json", type=Path, default=CACHE / "results.json", help="results file")
    ap.add_argument(
        "--reruns",
        type=int,
        default=1,
        help="run specs that failed again, up to N more times (default 1; 0: never)",
    )
    ap.add_argument(
        "--test-timeout",
        type=int,
        default=DEFAULT_TEST_TIMEOUT_MS,
        metavar="MS",
        help=f"vitest's timeout for tests that set none (default {DEFAULT_TEST_TIMEOUT_MS}; "
        "upstream runs with vitest's 5000)",
    )
    ap.add_argument(
        "--vitest-arg", action="append", default=[], help="extra vitest argument (repeatable)"
    )
    args = ap.parse_args(argv)
    args.vitest_arg = [f"--testTimeout={args.test_timeout}", *args.vitest_arg]
    args.modes = [m for m in args.modes.split(",") if m]
    for mode in args.modes:
        if mode not in MODES:
            ap.error(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if args.repo is None:
        ap.error("pass --repo PATH or set WORKERS_RS_REPO (a git copy of cloudflare/workers-rs)")
    if not re.fullmatch(r"[0-9a-f]{40}", args.commit):
        ap.error("--commit must be a full 40-digit commit id")
    if args.no_ours and not args.real:
        ap.error("--no-ours needs --real")
    if args.check and not (args.real or args.baseline):
        ap.error("--check needs the real tool's results: --real or --baseline FILE")
    return args


@dataclass
class Prepared:
    """Everything the runs need, made by `prepare`."""

    tree: Path
    bindgen: Tool
    toolchain: BenchToolchain
    setups: list[ToolSetup]
    ours_commit: str
    baseline: dict[str, dict[str, SpecOutcome]]


def prepare(args: argparse.Namespace, timings: dict[str, float]) -> Prepared:
    """Steps 1-3 and the tools; each part's seconds in `timings` when it did work."""
    tool_names = [
        t for t in TOOLS if (t != "ours" or not args.no_ours) and (t != "real" or args.real)
    ]
    tree = ensure_tree(args.repo.resolve(), args.commit, timings)  # first: checks the commit
    ensure_npm(timings)
    bindgen_version = locked_version((tree / "Cargo.lock").read_text(), "wasm-bindgen")
    with stopwatch(timings, "wasm-bindgen"):
        bindgen = resolve.wasm_bindgen(bindgen_version, InstallPolicy.ALLOW)
    if bindgen.source is not Source.INSTALLED:
        del timings["wasm-bindgen"]  # only an install is worth reporting
    with stopwatch(timings, "toolchain"):
        toolchain = bench_toolchain()
    with stopwatch(timings, "ours snapshot + real tool"):
        setups, commit = make_tools(tool_names, bindgen.path)
    baseline = load_baseline(args.baseline, args.modes) if args.baseline else {}
    return Prepared(tree, bindgen, toolchain, setups, commit, baseline)


def print_summary(
    args: argparse.Namespace,
    ready: Prepared,
    results: list[RunResult],
    comparison: suite_report.Comparison | None,
    timings: dict[str, float],
    load_before: str,
) -> None:
    """The table, failures, timings and load; `comparison` when both tools' results
    were there to compare."""
    setups, bindgen = ready.setups, ready.bindgen
    by_run = {(r.mode, r.tool): r.specs for r in results}
    print(f"workers-rs {args.commit[:12]}: " + "; ".join(f"{s.name} = {s.label}" for s in setups))
    print(f"wasm-bindgen {bindgen.version}; npm {' '.join(NPM_PACKAGES)}\n")
    print(suite_report.render_table(by_run))
    failures = suite_report.render_failures(by_run)
    if failures:
        print("\nFailures:\n" + failures)
    done = ", ".join(f"{k} {v}" for k, v in timings.items())
    print(f"\nTimings (s): {done or 'set-up all cached'}")
    for r in results:
        print(
            f"  {r.mode}: {r.tool}: build {r.build_seconds} "
            f"({'reused' if r.build_warm else 'cold'} target dir, exit {r.build_exit}), "
            f"vitest {r.vitest_seconds} (exit {r.vitest_exit})"
            + (f", again {r.rerun_seconds} ({' '.join(r.rerun)})" if r.rerun else "")
        )
    print(
        f"load (1/5/15 min) {load_before} -> {loadavg()}; {os.cpu_count()} cores; json: {args.json}"
    )
    if comparison is not None:
        for d in comparison.regressions:
            print(f"REGRESSION {d.mode}: {d.spec}: real {d.real}, ours {d.ours}; {list(d.tests)}")
        for d in comparison.improvements:
            print(f"better than real {d.mode}: {d.spec}: real {d.real}, ours {d.ours}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timings: dict[str, float] = {}
    load_before = loadavg()
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        ready = prepare(args, timings)
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    results: list[RunResult] = []
    for mode in args.modes:
        toolchain = ready.toolchain.env("--panic-unwind" in MODES[mode])
        for setup in ready.setups:
            results.append(
                run_one(ready.tree, setup, mode, toolchain, args.vitest_arg, args.reruns)
            )

    ours = {r.mode: r.specs for r in results if r.tool == "ours"}
    real = {r.mode: r.specs for r in results if r.tool == "real"} or ready.baseline
    comparison = suite_report.compare(real, ours)
    document: dict[str, Any] = {
        "upstream": {"repo": str(args.repo), "commit": args.commit},
        "tools": {s.name: s.label for s in ready.setups},
        "ours_commit": ready.ours_commit,
        "wasm_bindgen": f"{ready.bindgen.version} ({ready.bindgen.path})",
        "npm": list(NPM_PACKAGES),
        "vitest_args": args.vitest_arg,
        "toolchain": f"rustc {rustc_release()} (Debian) + precompiled wasm32 std",
        "machine": {"nproc": os.cpu_count(), "load_before": load_before, "load_after": loadavg()},
        "timings": timings,
        "runs": [r.to_json() for r in results],
        "regressions": [vars(d) for d in comparison.regressions],
        "improvements": [vars(d) for d in comparison.improvements],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=list) + "\n")

    print_summary(args, ready, results, comparison if real and ours else None, timings, load_before)
    if args.check and not comparison.ok:
        return 1
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # the running build or vitest was killed with its group
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
