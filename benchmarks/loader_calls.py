"""Per-call cost of the generated Python loader next to Node calling the same
exports through wasm-bindgen's JS glue, in one run.

    .venv/bin/python benchmarks/loader_calls.py [--calls 100000] [--repeat 7]

Calls measured (ns per call, the median of --repeat runs of --calls calls, each
language's loop overhead included; wall clock and CPU time, which leaves out the
time the OS gave to other processes on a busy machine):
  add(i, 1)            two i32 in, one out (sample-crates/pure-exports)
  greet("world")       a string in, a string out (pure-exports)
  Point.length()       a method on a struct, `&self` (sample-crates/bindgen-types)
  plus_one(v)          a Vec<f64> of 100 elements in and out (bindgen-types); Python
                       passes an array('d'), Node a Float64Array
and, for `add`, wasmtime-py's public `Func.__call__` on the same export.

Both crates are built with panic=unwind and legacy EH (cargo + wasm-bindgen, by
tests/integration/test_loader_real.py's helper, sharing the tests' cargo target dirs) into
.cache/loader-tests/. Python imports the loader emitted there (it runs the exnref
translation `loader_bg.wasm` on wasmtime); Node (/usr/bin/node, which runs legacy
EH) runs the module with the glue, whose `import source` line is replaced by a
`WebAssembly.Module` built from the same bytes. The machine's load average is
printed before and after. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.machine import loadavg
from harness.paths import NODE_BIN, SAMPLES

WASM_OPT = NODE_BIN / "wasm-opt"
NODE = Path("/usr/bin/node")
CRATES = ("pure-exports", "bindgen-types")
SOURCE_IMPORT = 'import source wasmModule from "./index_bg.wasm";'
NODE_PRELUDE = (
    'import { readFileSync } from "node:fs";\n'
    "const wasmModule = new WebAssembly.Module("
    'readFileSync(new URL("./index_bg.wasm", import.meta.url)));'
)
NODE_BENCH = """import { add, greet } from "./pure-exports/glue.mjs";
import { Point, plus_one } from "./bindgen-types/glue.mjs";
const calls = %(calls)d, repeat = %(repeat)d;
const p = new Point(3, 4);
const v = new Float64Array(%(n)d).map((_, i) => i);
const middle = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function median(fn) {  // [wall ns, CPU ns] per call, medians of the runs
  const wall = [], cpu = [];
  let sink = 0;
  for (let r = 0; r < repeat; r++) {
    const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += fn(i);
    wall.push(Number(process.hrtime.bigint() - t0) / calls);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) * 1000 / calls);
  }
  if (sink === 0.5) console.error("unreachable");  // keeps the results alive
  return [middle(wall), middle(cpu)];
}
const cases = {
  "add(i, 1)": (i) => add(i, 1),
  'greet("world")': () => greet("world").length,
  "Point.length()": () => p.length(),
  "plus_one(v)": () => plus_one(v)[0],
};
for (const fn of Object.values(cases)) median(fn);  // warm-up (JIT)
const out = {};
for (const [name, fn] of Object.entries(cases)) out[name] = median(fn);
console.log(JSON.stringify(out));
"""


def prepare(crate: str) -> Path:
    """wasm-bindgen's output for `crate` (legacy EH) with the loader emitted into it."""
    from tests.integration.test_loader_real import build_bindgen_output
    from worker_build.build.steps.python_loader import emit_loader

    out = build_bindgen_output(SAMPLES / crate, "legacy")
    emit_loader(out, wasm_opt=WASM_OPT)
    return out


def median_ns(fn: Callable[[int], Any], calls: int, repeat: int) -> tuple[float, float]:
    """(wall ns, CPU ns) per call, medians of the runs. wasm runs on this thread, so
    its CPU time is the thread's; it leaves out the time the OS ran other work."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        for i in range(calls):
            fn(i)
        cpu.append((time.thread_time_ns() - start_cpu) / calls)
        wall.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(wall), statistics.median(cpu)


Timings = dict[str, tuple[float, float]]


def python_side(dirs: dict[str, Path], calls: int, repeat: int, n: int) -> Timings:
    from worker_build.loader.runtime import LoaderWarning, import_loader

    pure = import_loader(dirs["pure-exports"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoaderWarning)  # host_any: not used here
        types = import_loader(dirs["bindgen-types"])
    add, greet, plus_one = pure.add, pure.greet, types.plus_one
    p = types.Point(3, 4)
    v = array("d", range(n))
    assert add(2, 3) == 5 and greet("world") == "Hello, world!" and p.length() == 5.0
    assert plus_one(v)[n - 1] == n
    cases: dict[str, Callable[[int], Any]] = {
        "add(i, 1)": lambda i: add(i, 1),
        'greet("world")': lambda i: greet("world"),
        "Point.length()": lambda i: p.length(),
        "plus_one(v)": lambda i: plus_one(v),
    }
    for fn in cases.values():  # warm-up
        median_ns(fn, max(calls // 20, 100), 1)
    results = {name: median_ns(fn, calls, repeat) for name, fn in cases.items()}
    inst = pure._wb_library._current  # the public wasmtime API on the same export
    func, store = inst.exports["add"], inst.store
    results["add(i, 1) via wasmtime Func.__call__"] = median_ns(
        lambda i: func(store, i, 1), max(calls // 20, 1000), repeat
    )
    return results


def node_side(dirs: dict[str, Path], calls: int, repeat: int, n: int) -> Timings:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for crate, bindgen_dir in dirs.items():
            glue = (bindgen_dir / "index.js").read_text()
            if SOURCE_IMPORT not in glue:
                raise SystemExit(f"{bindgen_dir}/index.js does not start with {SOURCE_IMPORT!r}")
            (work / crate).mkdir()
            shutil.copy(bindgen_dir / "index_bg.wasm", work / crate / "index_bg.wasm")
            (work / crate / "glue.mjs").write_text(glue.replace(SOURCE_IMPORT, NODE_PRELUDE, 1))
        (work / "bench.mjs").write_text(NODE_BENCH % {"calls": calls, "repeat": repeat, "n": n})
        proc = subprocess.run(
            [str(NODE), "bench.mjs"], cwd=work, capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        raise SystemExit(f"node failed:\n{proc.stderr}")
    return {name: (wall, cpu) for name, (wall, cpu) in json.loads(proc.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--n", type=int, default=100, help="elements of the Vec<f64>")
    args = parser.parse_args()
    dirs = {crate: prepare(crate) for crate in CRATES}
    node_version = subprocess.run(
        [str(NODE), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    load_before = loadavg()
    py = python_side(dirs, args.calls, args.repeat, args.n)
    js = node_side(dirs, args.calls, args.repeat, args.n)
    load_after = loadavg()
    print(f"calls: {args.calls} x {args.repeat} runs (median); Vec<f64> of {args.n} elements")
    print(f"python {sys.version.split()[0]} (wasmtime loader)  vs  node {node_version} (JS glue)")
    print(f"load average (1/5/15 min): before {load_before}, after {load_after}")
    print("ns per call: wall clock, and CPU time (the thread's, for Python; Node's process)")
    head = (
        f"{'call':<38}{'py wall':>9}{'py CPU':>9}{'node wall':>11}{'node CPU':>10}{'CPU ratio':>11}"
    )
    print(head)
    rows = [(name, py[name], js[name]) for name in js]
    name = "add(i, 1) via wasmtime Func.__call__"
    rows.append((name, py[name], js["add(i, 1)"]))
    for name, (pw, pc), (nw, nc) in rows:
        ratio = f"{pc / nc:.0f}x" if nc > 0 else "-"
        print(f"{name:<38}{pw:>9.0f}{pc:>9.0f}{nw:>11.1f}{nc:>10.1f}{ratio:>11}")


if __name__ == "__main__":
    main()
