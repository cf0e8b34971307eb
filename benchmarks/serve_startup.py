"""Benchmark: startup of `loader.serve()` in plain workerd, `loader.serve()` in miniflare, and
Miniflare started from Node directly, on the same hello-worker build.

    .venv/bin/python benchmarks/serve_startup.py [-n 15] [--build-dir DIR]

Measured up to the first answered request (`GET /` == 200), medians of alternating rounds:
- cold: a fresh process each time (Python + `import loader` + serve(), against Node +
  `import { Miniflare }` + new Miniflare()), timed by this script from spawn to the child's
  "ready" line;
- warm: in one long-lived process, another start after the first (serve() again in Python;
  new Miniflare() again in Node), timed inside that process.

serve() picks plain workerd when it can provide every binding and miniflare otherwise
(R2, D1, queues, ...): `serve(runtime="miniflare")` vs `serve(runtime="workerd")` is what a
Worker pays for a binding only miniflare provides. Miniflare from Node is the peer because
it is what `wrangler dev` and vitest-pool-workers start: the same workerd binary behind its
own proxy and loopback services. Node is the 22 that setup.sh installs (.cache/node22;
NODE_BIN for serve()). The goal for serve() in workerd is under 1 s warm. The load average
is printed before and after: the machine is shared, so compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness.machine import loadavg, log
from harness.paths import BENCH, CACHE, REPO
from harness.workerd import build_hello_worker

NODE22 = CACHE / "node22" / "node_modules" / ".bin" / "node"
DEFAULT_BUILD = BENCH / "serve-startup"
TIMEOUT = 120.0  # bound of each measured start

# Python, with the build directory on PYTHONPATH as a user would run it (python_run):
# `runs` starts of the build's loader; prints one JSON line per start.
PY_WARM = """
import json, sys, time
import loader
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    with loader.serve(runtime=sys.argv[2]) as worker:
        assert worker.fetch("/").status == 200
        print(json.dumps({"seconds": time.perf_counter() - t,
                          "startup": worker.startup_seconds}), flush=True)
"""
PY_COLD = """
import sys
import loader
with loader.serve(runtime=sys.argv[1]) as worker:
    assert worker.fetch("/").status == 200
    print("ready", flush=True)
"""
# Node: the same for Miniflare.
JS_SETUP = """
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
const dir = process.argv[1];
// Miniflare 5 (wrangler 4.164's) takes its v4 option shape through this converter.
const options = convertV4MiniflareOptions({
  modules: [
    { type: "ESModule", path: `${dir}/index.js` },
    { type: "CompiledWasm", path: `${dir}/index_bg.wasm` },
  ],
  modulesRoot: dir,
  compatibilityDate: "2025-09-01",
  durableObjects: { COUNTER: "Counter" },
});
async function start() {
  const mf = new Miniflare(options);
  const response = await mf.dispatchFetch("http://localhost/");
  if (response.status !== 200) throw new Error(`status ${response.status}`);
  await response.text();
  return mf;
}
"""
JS_WARM = (
    JS_SETUP
    + """
for (let i = 0; i < Number(process.argv[2]); i++) {
  const t = performance.now();
  const mf = await start();
  console.log(JSON.stringify({ seconds: (performance.now() - t) / 1000 }));
  await mf.dispose();
}
"""
)
JS_COLD = JS_SETUP + '\nconst mf = await start();\nconsole.log("ready");\nawait mf.dispose();\n'


Run = tuple[list[str], dict[str, str]]  # argv, environment


def python_run(script: str, build: Path, *extra: str) -> Run:
    path = os.pathsep.join(p for p in (str(build), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, NODE_BIN=str(NODE22))
    return [sys.executable, "-c", script, *extra], env


def node_run(script: str, build: Path, *extra: str) -> Run:
    return [str(NODE22), "--input-type=module", "-e", script, str(build), *extra], dict(os.environ)


def cold_start(run: Run) -> float:
    """Seconds from spawning the child to its "ready" line; the child then exits."""
    argv, env = run
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        ready = time.perf_counter() - started
        _, err = child.communicate(timeout=TIMEOUT)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    if line.strip() != b"ready" or child.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({child.returncode}):\n{err.decode()[-3000:]}")
    return ready


def warm_starts(run: Run) -> list[dict[str, float]]:
    """The per-start JSON lines of one long-lived process; the first start is dropped."""
    argv, env = run
    result = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, timeout=TIMEOUT * 10, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed:\n{result.stderr.decode()[-3000:]}")
    rows = [json.loads(line) for line in result.stdout.decode().splitlines() if line]
    return rows[1:]


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=15, help="rounds (cold) and starts (warm)")
    ap.add_argument("--build-dir", type=Path, default=DEFAULT_BUILD)
    args = ap.parse_args()
    if not NODE22.exists():
        raise SystemExit(f"{NODE22} is missing: run ./setup.sh")

    build = args.build_dir.resolve()
    log(f"building hello-worker (--panic-unwind) into {build} ...")
    build_hello_worker(build, panic_unwind=True, loader=True)
    load_before = loadavg()

    runs = {
        "serve() workerd": lambda *extra: python_run(PY_COLD, build, "workerd", *extra),
        "serve() miniflare": lambda *extra: python_run(PY_COLD, build, "miniflare", *extra),
        "Miniflare (Node)": lambda *extra: node_run(JS_COLD, build, *extra),
    }
    cold: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(args.n):
        order = list(cold) if i % 2 == 0 else list(reversed(cold))
        for name in order:
            cold[name].append(cold_start(runs[name]()))
    starts = str(args.n + 1)
    ours = warm_starts(python_run(PY_WARM, build, starts, "workerd"))
    ours_mf = warm_starts(python_run(PY_WARM, build, starts, "miniflare"))
    peer = warm_starts(node_run(JS_WARM, build, starts))
    warm = {
        "serve() workerd": [r["seconds"] for r in ours],
        "serve() miniflare": [r["seconds"] for r in ours_mf],
        "Miniflare (Node)": [r["seconds"] for r in peer],
    }
    listening = [r["startup"] for r in ours]

    print(f"hello-worker {build}; {args.n} rounds; load {load_before} -> {loadavg()}")
    print(f"{'':18} {'cold ms':>9} {'warm ms':>9}")
    for name in cold:
        print(f"{name:18} {median_ms(cold[name]):9.0f} {median_ms(warm[name]):9.0f}")

    def ratio(a: str, b: str) -> str:
        parts = (f"{kind} {median_ms(t[a]) / median_ms(t[b]):.2f}" for kind, t in
                 (("cold", cold), ("warm", warm)))  # fmt: skip
        return f"ratio {a} / {b}: " + ", ".join(parts)

    print(ratio("serve() miniflare", "serve() workerd"))
    print(ratio("serve() workerd", "Miniflare (Node)"))
    print(
        f"serve() workerd warm: listening after {median_ms(listening):.0f} ms (median), "
        f"first response after {median_ms(warm['serve() workerd']):.0f} ms; goal < 1000 ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
