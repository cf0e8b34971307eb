"""Side-by-side timing of our worker-build against the real one (issue 7).

    .venv/bin/python benchmarks/compare_real.py                 # panic=abort (default build)
    .venv/bin/python benchmarks/compare_real.py --unwind        # --panic-unwind for both
    .venv/bin/python benchmarks/compare_real.py --runs 9 --cold-runs 3 --json out.json
    .venv/bin/python benchmarks/compare_real.py --unwind --ours-args=--no-loader \\
        --scenarios noop,touch,edit     # same output set as the real tool (no Python loader)

The set-up (everything under .cache/bench/, git-ignored, reused between runs):
- the real worker-build, installed from crates.io at the `worker` version hello-worker
  locks (0.8.7), and ours from a snapshot of the committed HEAD, default options (Python
  loader on): harness/realtool.py;
- one Rust toolchain for both, Debian's rustc 1.96 with a precompiled wasm32 std behind
  a private rustup home, and the same wasm-bindgen, wasm-opt and esbuild:
  harness/bench_toolchain.py;
- a copy of hello-worker both build, each tool with its own target and out dir:
  benchmarks/side_by_side.py.

Scenarios, alternating real/ours (the order flips every round), medians and ratios:
  cold   target dir and out dir deleted (tool caches kept)
  noop   nothing changed since the previous build
  touch  src/lib.rs mtime bumped (cargo recompiles; the artifact bytes stay the same)
  edit   src/lib.rs content changed (a different response text each run)
  help   `worker-build --help`
Then both outputs are built from the pristine source and compared: wasm size and the
responses workerd serves for the same requests (harness/workerd.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.side_by_side import CRATE, Tool, contenders, fresh_crate, set_text
from harness.bench_toolchain import rustc_release
from harness.machine import Sample, loadavg, log
from harness.paths import BENCH
from harness.workerd import Workerd

# Requests both outputs must answer alike (status and body) in workerd.
REQUESTS = (
    "/",
    "/count",
    "/count",
    "/do/increment",
    "/do/increment",
    "/do/stored",
    "/nope",
    "/panic",
    "/count",
    "/do/increment",
)


# ------------------------------------------------------------------------------ scenarios


def alternate(
    tools: list[Tool],
    runs: int,
    before: Callable[[Tool, int], None],
    measure: Callable[[Tool], Sample],
) -> dict[str, list[Sample]]:
    times: dict[str, list[Sample]] = {t.name: [] for t in tools}
    for i in range(runs):
        order = tools if i % 2 == 0 else list(reversed(tools))
        for tool in order:
            before(tool, i)
            sample = measure(tool)
            times[tool.name].append(sample)
            log(
                f"  {tool.name:4} run {i + 1}/{runs}: {sample.wall:.3f}s wall, "
                f"{sample.cpu:.3f}s cpu (load {loadavg()})"
            )
    return times


def scenario_cold(tools: list[Tool], runs: int) -> dict[str, list[Sample]]:
    set_text(None)
    return alternate(tools, runs, lambda t, i: t.clean(), Tool.build)


def warm(tools: list[Tool]) -> None:
    for tool in tools:
        tool.build()
        tool.build()


def scenario_noop(tools: list[Tool], runs: int) -> dict[str, list[Sample]]:
    set_text(None)
    warm(tools)
    return alternate(tools, runs, lambda t, i: None, Tool.build)


def scenario_touch(tools: list[Tool], runs: int) -> dict[str, list[Sample]]:
    set_text(None)
    warm(tools)
    lib = CRATE / "src" / "lib.rs"
    return alternate(tools, runs, lambda t, i: os.utime(lib), Tool.build)


def scenario_edit(tools: list[Tool], runs: int) -> dict[str, list[Sample]]:
    # Warm first: when edit runs alone, each tool's first build would be a cold one
    # and count among the edit samples.
    set_text(None)
    warm(tools)
    counter = iter(range(1, 10_000))
    return alternate(tools, runs, lambda t, i: set_text(next(counter)), Tool.build)


def scenario_help(tools: list[Tool], runs: int) -> dict[str, list[Sample]]:
    return alternate(tools, runs, lambda t, i: None, Tool.help)


# ------------------------------------------------------------------------------ outputs


def compare_outputs(tools: list[Tool]) -> dict[str, Any]:
    set_text(None)
    for tool in tools:
        tool.build()
    sizes = {t.name: (t.out / "index_bg.wasm").stat().st_size for t in tools}
    answers: dict[str, list[tuple[int, str]]] = {}
    for tool in tools:
        with Workerd(tool.out, log_path=BENCH / f"workerd-{tool.name}.log") as server:
            answers[tool.name] = []
            for path in REQUESTS:
                resp = server.get(path)
                answers[tool.name].append((resp.status, resp.body.strip()))
    real, ours = answers["real"], answers["ours"]
    rows = [
        {"path": p, "real": list(r), "ours": list(o), "same": r == o}
        for p, r, o in zip(REQUESTS, real, ours, strict=True)
    ]
    modules = [(t.out / "index_bg.wasm").read_bytes() for t in tools]
    return {
        "wasm_bytes": sizes,
        # the module after wasm-bindgen, wasm-opt and the producers section (sdk entry)
        "wasm_identical": all(m == modules[0] for m in modules),
        "responses": rows,
        "all_same": all(row["same"] for row in rows),
    }


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unwind", action="store_true", help="compare --panic-unwind builds")
    ap.add_argument("--runs", type=int, default=7, help="runs per tool for noop/touch/edit")
    ap.add_argument("--cold-runs", type=int, default=3, help="runs per tool for cold builds")
    ap.add_argument("--help-runs", type=int, default=21)
    ap.add_argument(
        "--scenarios",
        default="help,noop,touch,edit,cold",
        help="comma-separated subset of help,noop,touch,edit,cold",
    )
    ap.add_argument("--no-compare", action="store_true", help="skip the workerd comparison")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--ours-args",
        default="",
        help="extra flags for our worker-build only, e.g. --ours-args=--no-loader "
        "(the real tool writes no Python loader)",
    )
    return ap.parse_args(argv)


Scenario = Callable[[list[Tool], int], dict[str, list[Sample]]]


def run_scenario(name: str, fn: Scenario, tools: list[Tool], runs: int) -> dict[str, Any]:
    """One scenario's samples, medians and ours/real ratios, with the load around it."""
    load_before = loadavg()
    log(f"{name}: {runs} runs per tool (load {load_before})")
    times = fn(tools, runs)
    wall = {tool: statistics.median(s.wall for s in ts) for tool, ts in times.items()}
    cpu = {tool: statistics.median(s.cpu for s in ts) for tool, ts in times.items()}
    return {
        "runs": {tool: [dataclasses.asdict(s) for s in ts] for tool, ts in times.items()},
        "median_wall": wall,
        "median_cpu": cpu,
        "ratio_wall": wall["ours"] / wall["real"],
        "ratio_cpu": cpu["ours"] / cpu["real"] if cpu["real"] else None,
        "load_before": load_before,
        "load_after": loadavg(),
    }


def print_results(results: dict[str, Any]) -> None:
    print(f"\n{results['mode']}: ours = {results['ours']}; real = {results['real']}")
    print(f"toolchain: {results['toolchain']}; {results['nproc']} cores\n")
    print(
        "| scenario | real wall | ours wall | ours/real wall | real cpu | ours cpu "
        "| ours/real cpu | runs | load (1/5/15 min) before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results["scenarios"].items():
        w, c = r["median_wall"], r["median_cpu"]
        cpu_ratio = f"{r['ratio_cpu']:.2f}x" if r["ratio_cpu"] is not None else "-"
        print(
            f"| {name} | {w['real']:.3f}s | {w['ours']:.3f}s | {r['ratio_wall']:.2f}x "
            f"| {c['real']:.3f}s | {c['ours']:.3f}s | {cpu_ratio} "
            f"| {len(r['runs']['ours'])} | {r['load_before']} -> {r['load_after']} |"
        )
    if "outputs" in results:
        out = results["outputs"]
        print(
            f"\nindex_bg.wasm: real {out['wasm_bytes']['real']} B, "
            f"ours {out['wasm_bytes']['ours']} B, byte-identical: {out['wasm_identical']}"
        )
        print(f"workerd responses identical for all {len(REQUESTS)} requests: {out['all_same']}")
        for row in out["responses"]:
            if not row["same"]:
                print(f"  {row['path']}: real {row['real']} / ours {row['ours']}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    BENCH.mkdir(parents=True, exist_ok=True)
    ours_args = args.ours_args.split()
    both = contenders(args.unwind, ours_args)
    fresh_crate()
    results: dict[str, Any] = {
        "mode": "--panic-unwind" if args.unwind else "default (panic=abort)",
        "real": f"worker-build {both.real_version} (crates.io)",
        "ours": f"worker-build at {both.ours_commit} {' '.join(ours_args)}".rstrip(),
        "toolchain": f"rustc {rustc_release()} (Debian) + precompiled wasm32 std, rustup-linked",
        "nproc": os.cpu_count(),
        "scenarios": {},
    }
    scenarios: dict[str, tuple[Scenario, int]] = {
        "help": (scenario_help, args.help_runs),
        "noop": (scenario_noop, args.runs),
        "touch": (scenario_touch, args.runs),
        "edit": (scenario_edit, args.runs),
        "cold": (scenario_cold, args.cold_runs),
    }
    for name in args.scenarios.split(","):
        fn, runs = scenarios[name]
        results["scenarios"][name] = run_scenario(name, fn, both.tools, runs)
    if not args.no_compare:
        log("comparing outputs in workerd...")
        results["outputs"] = compare_outputs(both.tools)
    set_text(None)
    print_results(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
