"""Bounded loopback load run against a built hello-worker served by workerd.

    .venv/bin/python benchmarks/load.py BUILD_DIR [--requests 2000] [--concurrency 16]
    .venv/bin/python benchmarks/load.py --build unwind .cache/shim-tests/bench-unwind
    .venv/bin/python benchmarks/load.py --build abort  .cache/shim-tests/bench-abort

`--build unwind|abort` first builds sample-crates/hello-worker into BUILD_DIR with the test
helper (tests/workerd.py; panic=unwind, or panic=abort as without `--panic-unwind`).

The plan is fixed before the run (seeded shuffle): 1 in 50 requests aborts (`/abort`), 1 in 4
panics (`/panic`), the rest are normal (`/` and `/count` alternately; `--normal` changes the
list, e.g. `/,/count,/do/increment` adds requests that await a Durable Object).
`--concurrency` client threads (keep-alive connections on 127.0.0.1) work through it.
Reported: requests, outcomes by kind, latency percentiles, and the instance restarts seen
through `/count` (each fresh instance answers 1 first). Nothing about time is asserted;
`--check` exits 1 unless every normal request got a 200 and every panic/abort request its own
500.

The run stops by itself: each request has a timeout and the whole run a deadline, after
which the remaining planned requests are reported as "not sent".
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from workerd import Workerd, build_hello_worker  # noqa: E402

NORMAL_PATHS = ("/", "/count")
PANIC_PATH = "/panic"
ABORT_PATH = "/abort"


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
    """What happened, as a short label (the failure kinds of the report)."""
    if outcome.status is None:
        return f"no response ({outcome.error})"
    if outcome.status == 200:
        return "200"
    if outcome.status == 500:
        head = outcome.body.split(":", 1)[0].strip() or "empty body"
        return f"500 {head}"
    return str(outcome.status)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarize(results: Results) -> dict[str, object]:
    by_kind: dict[str, Counter[str]] = {}
    latencies: dict[str, list[float]] = {"all": []}
    for o in results.outcomes:
        by_kind.setdefault(o.kind, Counter())[classify(o)] += 1
        latencies["all"].append(o.latency)
        latencies.setdefault(o.kind, []).append(o.latency)

    normal = [o for o in results.outcomes if o.kind == "normal"]
    collateral = [o for o in normal if o.status != 200]
    expected_500 = [o for o in results.outcomes if o.kind in ("panic", "abort")]
    missing_500 = [o for o in expected_500 if o.status != 500]
    panics_with_panic_body = sum(
        1 for o in results.outcomes if o.kind == "panic" and "PanicError" in o.body
    )

    # Every instance counts from 1, so each "1" from /count is one instance that served it
    # (completion order is not server order, so drops in the sequence would prove nothing).
    fresh_counts = sum(
        1 for o in results.outcomes if o.path == "/count" and o.status == 200 and o.body == "1"
    )

    def pct(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {
            f"p{int(q * 100)}_ms": round(percentile(ordered, q) * 1000, 2) for q in (0.5, 0.9, 0.99)
        }

    return {
        "requests": len(results.outcomes),
        "not_sent": results.not_sent,
        "wall_s": round(results.wall, 2),
        "outcomes": {kind: dict(sorted(c.items())) for kind, c in sorted(by_kind.items())},
        "collateral_failures": len(collateral),
        "collateral_by_kind": dict(Counter(classify(o) for o in collateral)),
        "panic_or_abort_without_own_500": len(missing_500),
        "panics_answered_with_PanicError": panics_with_panic_body,
        "instance_restarts_seen_via_count": max(0, fresh_counts - 1),
        "latency": {kind: pct(values) for kind, values in sorted(latencies.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", type=Path, help="worker-build output dir (build/)")
    parser.add_argument("--build", choices=("unwind", "abort"), help="build hello-worker first")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--deadline", type=float, default=600.0, help="whole run, seconds")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument(
        "--normal",
        default=",".join(NORMAL_PATHS),
        help="comma-separated paths the normal requests cycle through "
        "(add /do/increment for requests that are in flight across an await)",
    )
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--check", action="store_true", help="exit 1 on any failure")
    args = parser.parse_args(argv)

    if args.build:
        build_hello_worker(args.build_dir, panic_unwind=args.build == "unwind")

    normal_paths = tuple(p for p in args.normal.split(",") if p)
    items = plan(args.requests, args.seed, normal_paths)
    log = args.build_dir.parent / f"{args.build_dir.name}-workerd.log"
    with Workerd(args.build_dir, log_path=log) as worker:
        # Warm up (first request instantiates the isolate) outside the measurement.
        worker.get("/")
        results = run_load(worker.port, items, args.concurrency, args.timeout, args.deadline)
        alive = worker.get("/").status
    summary = summarize(results)
    summary["build_dir"] = str(args.build_dir)
    summary["concurrency"] = args.concurrency
    summary["normal_paths"] = list(normal_paths)
    summary["root_after_run"] = alive
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    clean = (
        summary["collateral_failures"] == 0
        and summary["panic_or_abort_without_own_500"] == 0
        and summary["not_sent"] == 0
    )
    return 0 if clean or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
