"""Bounded loopback load on hello-worker in workerd: our output against the real worker-build's.

    .venv/bin/python benchmarks/load.py                       # both modes, 3 runs per tool
    .venv/bin/python benchmarks/load.py --modes unwind --runs 5 --json out.json
    .venv/bin/python benchmarks/load.py --only BUILD_DIR      # one existing output, no peer
    .venv/bin/python benchmarks/load.py --replay              # also ours with --replay-on-abort

Both tools build the same copy of sample-crates/hello-worker with the same compiler and
tools (benchmarks/side_by_side.py, as compare_real.py: the real worker-build 0.8.7 from
crates.io in .cache/bench, Debian's rustc with a private sysroot behind rustup, our
worker-build from a snapshot of HEAD with `--no-loader`), `--release`, with
`--panic-unwind` ("unwind") and without ("abort": panic=abort, every panic is an
abort). Then, per mode, runs alternate between the two outputs (the order flips every
run); each run is a fresh workerd.

The plan of a run is fixed before it starts (seeded shuffle): 1 in 50 requests aborts
(`/abort`), 1 in 4 panics (`/panic`), the rest are normal and cycle through `--normal`
(default `/`, `/count`, `/do/increment`: the last one is in flight across an await in the
Durable Object, so an abort elsewhere can kill it). `--concurrency` client threads
(keep-alive connections on 127.0.0.1) work through it.

With `--replay`, a third output joins the rotation: ours built with `--replay-on-abort`
(same cargo build as ours, so the same module). Every output is served with the
`nodejs_als` compatibility flag, which the replay needs, so the three run alike. Our
outputs are served through a small entry module that adds `/__resets` (the shim's count of
instance resets, read once the run is over), to check that the instance was reset no more
often than abort-causing requests were sent (`/abort`, and `/panic` in the abort build).

Reported per tool and run: collateral failures (normal requests without a 200), the
longest request, raw status counts per kind, requests left hanging (no answer within
`--timeout`), panics answered with a 500, and the PanicErrors the runtime logged (counted
in workerd's log, so the figure does not depend on any response body). Nothing about time
is asserted; `--check` exits 1 if a request was left hanging.

The run stops by itself: each request has a timeout and the whole run a deadline, after
which the remaining planned requests are reported as "not sent".
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.side_by_side import contenders, fresh_crate
from harness.machine import loadavg, log
from harness.realtool import real_version
from harness.workerd import Workerd

NORMAL_PATHS = ("/", "/count", "/do/increment")
PANIC_PATH = "/panic"
ABORT_PATH = "/abort"
MODES = ("unwind", "abort")
REPLAY = "ours+replay"  # ours built with --replay-on-abort
COMPATIBILITY_FLAGS = ("nodejs_als",)
# Served in front of our outputs: the shim's reset count at /__resets.
RESETS_ENTRY = """\
import Worker, { Counter } from "./index.js";
export { Counter };
export default class extends Worker {
  fetch(request) {
    if (new URL(request.url).pathname !== "/__resets") return super.fetch(request);
    return new Response(String(globalThis.__workerBuild?.resets ?? -1));
  }
}
"""


@dataclass
class Outcome:
    kind: str  # normal | panic | abort
    path: str
    status: int | None  # None: no HTTP response (connection error / timeout)
    body: str
    latency: float  # seconds
    error: str = ""


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    not_sent: int = 0
    wall: float = 0.0


def plan(
    requests: int, seed: int, normal_paths: tuple[str, ...] = NORMAL_PATHS
) -> list[tuple[str, str]]:
    aborts = requests // 50
    panics = requests // 4
    normal = requests - aborts - panics
    items = [("abort", ABORT_PATH)] * aborts + [("panic", PANIC_PATH)] * panics
    items += [("normal", normal_paths[i % len(normal_paths)]) for i in range(normal)]
    random.Random(seed).shuffle(items)
    return items


def run_load(
    port: int, items: list[tuple[str, str]], concurrency: int, timeout: float, deadline: float
) -> Results:
    results = Results()
    lock = threading.Lock()
    next_index = 0
    stop_at = time.monotonic() + deadline

    def take() -> tuple[str, str] | None:
        nonlocal next_index
        with lock:
            if next_index >= len(items) or time.monotonic() > stop_at:
                return None
            item = items[next_index]
            next_index += 1
            return item

    def client() -> None:
        conn: http.client.HTTPConnection | None = None
        while (item := take()) is not None:
            kind, path = item
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            start = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read().decode("utf-8", "replace")
                outcome = Outcome(kind, path, resp.status, body, time.perf_counter() - start)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                outcome = Outcome(
                    kind, path, None, "", time.perf_counter() - start, type(e).__name__
                )
                if conn is not None:
                    conn.close()
                conn = None
            with lock:
                results.outcomes.append(outcome)
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline + timeout + 5)
    results.wall = time.perf_counter() - started
    with lock:
        results.not_sent = len(items) - next_index
    return results


def classify(outcome: Outcome) -> str:
    """The raw outcome: the status code, or why there was none."""
    if outcome.status is None:
        return f"no response ({outcome.error})"
    return str(outcome.status)


def summarize(results: Results, log_text: str) -> dict[str, Any]:
    by_kind: dict[str, Counter[str]] = {}
    for o in results.outcomes:
        by_kind.setdefault(o.kind, Counter())[classify(o)] += 1
    normal = [o for o in results.outcomes if o.kind == "normal"]
    collateral = [o for o in normal if o.status != 200]
    hanging = [o for o in results.outcomes if o.status is None]
    latencies = sorted(o.latency for o in results.outcomes)

    def pct(q: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, round(q * (len(latencies) - 1)))] * 1000, 1)

    # Every instance counts from 1, so each "1" from /count is one instance that served it.
    fresh_counts = sum(
        1 for o in results.outcomes if o.path == "/count" and o.status == 200 and o.body == "1"
    )
    return {
        "requests": len(results.outcomes),
        "not_sent": results.not_sent,
        "wall_s": round(results.wall, 2),
        "status_counts": {kind: dict(sorted(c.items())) for kind, c in sorted(by_kind.items())},
        "collateral_failures": len(collateral),
        "collateral_by_path": dict(Counter(o.path for o in collateral)),
        "hanging": len(hanging),
        "longest_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "longest_ms_by_kind": {
            kind: round(max(o.latency for o in results.outcomes if o.kind == kind) * 1000, 1)
            for kind in sorted(by_kind)
        },
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "panics_answered_500": sum(
            1 for o in results.outcomes if o.kind == "panic" and o.status == 500
        ),
        "panic_errors_in_log": log_text.count("PanicError: hello-worker: deliberate panic"),
        "cross_context_warnings_in_log": log_text.count("different request context"),
        "replays_in_log": log_text.count("[worker-build] replaying "),
        "not_replayed_in_log": log_text.count("[worker-build] not replaying "),
        "replay_pauses_in_log": log_text.count("[worker-build] replay paused"),
        "instance_restarts_seen_via_count": max(0, fresh_counts - 1),
    }


def measure(
    build_dir: Path,
    items: list[tuple[str, str]],
    args: argparse.Namespace,
    label: str,
    count_resets: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        log_path = Path(tmp) / "workerd.log"
        entry = None
        if count_resets:
            entry = Path(tmp) / "entry.js"
            entry.write_text(RESETS_ENTRY)
        with Workerd(
            build_dir,
            storage_dir=Path(tmp) / "do",
            log_path=log_path,
            entry=entry,
            compatibility_flags=COMPATIBILITY_FLAGS,
        ) as worker:
            worker.get("/")  # the first request instantiates the isolate: not measured
            load_before = loadavg()
            results = run_load(worker.port, items, args.concurrency, args.timeout, args.deadline)
            alive = worker.get("/").status
            resets = int(worker.get("/__resets").body) if count_resets else None
            log_text = worker.log_text()
        if args.keep_logs:
            kept = args.keep_logs / f"{label}.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text(log_text)
    summary = summarize(results, log_text)
    summary["root_after_run"] = alive
    summary["resets"] = resets
    aborting = {ABORT_PATH} if label.startswith("unwind") else {ABORT_PATH, PANIC_PATH}
    summary["aborting_requests"] = sum(1 for o in results.outcomes if o.path in aborting)
    summary["load_before"] = load_before
    summary["load_after"] = loadavg()
    return summary


def span(values: list[Any], unit: str = "") -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    low, high = min(values), max(values)
    pattern = "{:,.0f}" if isinstance(low, float) else "{:,}"
    text = pattern.format(low) if low == high else f"{pattern.format(low)}-{pattern.format(high)}"
    return text + unit


def print_tables(report: dict[str, Any]) -> None:
    print(f"\n{report['ours']}; real = {report['real']}")
    print(
        f"{report['requests']} requests at concurrency {report['concurrency']}, "
        f"normal paths {', '.join(report['normal_paths'])}; {report['runs']} runs per tool "
        f"and mode; {report['nproc']} cores\n"
    )
    print(
        "| build | tool | collateral failures | longest request | hanging | p99 "
        "| panics answered 500 | PanicError in log | cross-context warnings "
        "| replays (not replayed, pauses) | resets / aborting requests |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode, tools in report["modes"].items():
        for name, runs in tools.items():
            replays = "-"
            if name == REPLAY:
                replays = (
                    f"{span([r['replays_in_log'] for r in runs])} "
                    f"({span([r['not_replayed_in_log'] for r in runs])}, "
                    f"{span([r['replay_pauses_in_log'] for r in runs])})"
                )
            resets = "-"
            if runs and runs[0]["resets"] is not None:
                resets = ", ".join(f"{r['resets']}/{r['aborting_requests']}" for r in runs)
            print(
                f"| {mode} | {name} | {span([r['collateral_failures'] for r in runs])} "
                f"| {span([r['longest_ms'] for r in runs], ' ms')} "
                f"| {span([r['hanging'] for r in runs])} "
                f"| {span([r['p99_ms'] for r in runs], ' ms')} "
                f"| {span([r['panics_answered_500'] for r in runs])} "
                f"| {span([r['panic_errors_in_log'] for r in runs])} "
                f"| {span([r['cross_context_warnings_in_log'] for r in runs])} "
                f"| {replays} | {resets} |"
            )
    print("\nraw status counts per run (kind: status x count):")
    for mode, tools in report["modes"].items():
        for name, runs in tools.items():
            for i, r in enumerate(runs, 1):
                counts = "; ".join(
                    f"{kind} " + ", ".join(f"{s} x{n}" for s, n in c.items())
                    for kind, c in r["status_counts"].items()
                )
                print(
                    f"  {mode} {name} run {i}: {counts} (collateral by path "
                    f"{r['collateral_by_path']}; longest by kind {r['longest_ms_by_kind']} ms; "
                    f"load {r['load_before']} -> {r['load_after']})"
                )


def build_all(mode: str, ours_args: list[str], replay: bool) -> tuple[dict[str, Path], str]:
    """hello-worker built by both tools for `mode` (side_by_side's set-up), and with
    `replay` by ours with --replay-on-abort too (ours' cargo target dir: the same module):
    the output dirs and the commit our worker-build was taken from."""
    both = contenders(mode == "unwind", ours_args)
    tools = both.tools
    if replay:
        ours = both.ours
        out = ours.out.with_name(f"out-ours-replay-{mode}")
        tools.append(replace(ours, name=REPLAY, out=out, extra=[*ours.extra, "--replay-on-abort"]))
    fresh_crate()
    outs = {}
    for tool in tools:
        log(f"building hello-worker ({mode}) with {tool.name}...")
        tool.build()
        outs[tool.name] = tool.out
    return outs, both.ours_commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default=",".join(MODES), help="unwind,abort or one of them")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and mode")
    parser.add_argument("--only", type=Path, help="measure this build dir alone (no peer)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--deadline", type=float, default=600.0, help="whole run, seconds")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--normal",
        default=",".join(NORMAL_PATHS),
        help="comma-separated paths the normal requests cycle through",
    )
    parser.add_argument("--ours-args", default="--no-loader", help="extra flags for ours")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-logs", type=Path, help="keep each run's workerd log here")
    parser.add_argument(
        "--replay", action="store_true", help="also ours built with --replay-on-abort"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if a request of ours hung or a promise was settled across requests",
    )
    args = parser.parse_args(argv)

    normal_paths = tuple(p for p in args.normal.split(",") if p)
    items = plan(args.requests, args.seed, normal_paths)
    if args.only is not None:
        summary = measure(args.only, items, args, "only")
        print(json.dumps(summary, indent=2))
        return 1 if args.check and summary["hanging"] else 0

    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    report: dict[str, Any] = {
        "real": f"worker-build {real_version()} (crates.io)",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "normal_paths": list(normal_paths),
        "runs": args.runs,
        "nproc": os.cpu_count(),
        "modes": {},
    }
    commits = set()
    names = ["real", "ours", *([REPLAY] if args.replay else [])]
    for mode in modes:
        outs, commit = build_all(mode, args.ours_args.split(), args.replay)
        commits.add(commit)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for i in range(args.runs):
            shift = i % len(names)  # each tool goes first in turn
            for name in names[shift:] + names[:shift]:
                label = f"{mode}-{name}-{i + 1}"
                summary = measure(outs[name], items, args, label, count_resets=name != "real")
                log(
                    f"  {mode} {name} run {i + 1}/{args.runs}: collateral "
                    f"{summary['collateral_failures']}, longest {summary['longest_ms']} ms, "
                    f"hanging {summary['hanging']} (load {summary['load_after']})"
                )
                runs[name].append(summary)
        report["modes"][mode] = runs
    report["ours"] = "ours = worker-build at " + ", ".join(sorted(commits))
    print_tables(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    ours_runs = [
        run
        for tools in report["modes"].values()
        for name, runs_of_tool in tools.items()
        if name != "real"
        for run in runs_of_tool
    ]
    bad = any(r["hanging"] or r["cross_context_warnings_in_log"] for r in ours_runs)
    return 1 if args.check and bad else 0


if __name__ == "__main__":
    sys.exit(main())
