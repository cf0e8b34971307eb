"""Per-call cost of the generated Python loader next to Node calling the same
exports through wasm-bindgen's JS glue.

    .venv/bin/python benchmarks/loader_calls.py [BINDGEN_DIR] [--calls 200000] [--repeat 5]

BINDGEN_DIR holds wasm-bindgen's output for sample-crates/pure-exports built with
panic=unwind and legacy EH (default: .cache/loader-tests/out-pure-exports-legacy,
which tests/test_loader_real.py builds; built here with the same helper when
missing). The Python side imports the loader emitted into that directory (it runs
the exnref translation `loader_bg.wasm` under wasmtime); Node 20 (/usr/bin/node)
runs the legacy module with the glue, whose `import source` line (not supported
by Node 20) is replaced by a `WebAssembly.Module` built from the same bytes.

Measured per function (`add(i, 1)`: two i32 in, one out; `greet("world")`: a
string in and a string out): the best of --repeat runs of --calls calls, in ns
per call, including each language's loop overhead. For `add`, wasmtime-py's
public `Func.__call__` on the same export is shown as well. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO / ".cache" / "loader-tests" / "out-pure-exports-legacy"
WASM_OPT = REPO / "node_modules" / ".bin" / "wasm-opt"
NODE = Path("/usr/bin/node")
SOURCE_IMPORT = 'import source wasmModule from "./index_bg.wasm";'
NODE_PRELUDE = (
    'import { readFileSync } from "node:fs";\n'
    "const wasmModule = new WebAssembly.Module("
    'readFileSync(new URL("./index_bg.wasm", import.meta.url)));'
)
NODE_BENCH = """import { add, greet } from "./glue.mjs";
const calls = %(calls)d, repeat = %(repeat)d;
function best(fn) {
  let bestNs = Infinity, sink = 0;
  for (let r = 0; r < repeat; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) sink += fn(i);
    const ns = Number(process.hrtime.bigint() - t0) / calls;
    if (ns < bestNs) bestNs = ns;
  }
  if (sink === 0.5) console.error("unreachable");  // keeps the results alive
  return bestNs;
}
best((i) => add(i, 1)); best(() => greet("world").length);  // warm-up (JIT)
console.log(JSON.stringify({
  add: best((i) => add(i, 1)),
  greet: best(() => greet("world").length),
}));
"""


def prepare(bindgen_dir: Path) -> Path:
    if not (bindgen_dir / "index_bg.wasm").is_file():
        sys.path.insert(0, str(REPO / "tests"))
        from test_loader_real import PURE, build_bindgen_output

        built = build_bindgen_output(PURE, "legacy")
        if built != bindgen_dir:
            shutil.copytree(built, bindgen_dir, dirs_exist_ok=True)
    if not (bindgen_dir / "loader.py").is_file():
        from worker_build.steps.loader import emit_loader

        emit_loader(bindgen_dir, wasm_opt=WASM_OPT)
    return bindgen_dir


def best_of(fn: Callable[[int], Any], calls: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for i in range(calls):
            fn(i)
        best = min(best, (time.perf_counter_ns() - start) / calls)
    return best


def python_side(bindgen_dir: Path, calls: int, repeat: int) -> dict[str, float]:
    spec = importlib.util.spec_from_file_location("loader_bench", bindgen_dir / "loader.py")
    assert spec is not None and spec.loader is not None
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    add, greet = loader.add, loader.greet
    assert add(2, 3) == 5 and greet("world") == "Hello, world!"
    best_of(lambda i: add(i, 1), calls // 10, 1)  # warm-up
    results = {
        "add": best_of(lambda i: add(i, 1), calls, repeat),
        "greet": best_of(lambda i: greet("world"), calls, repeat),
    }
    inst = loader._wb_library._current  # the public wasmtime API on the same export
    func, store = inst.exports["add"], inst.store
    results["add (wasmtime Func.__call__)"] = best_of(
        lambda i: func(store, i, 1), max(calls // 20, 1000), repeat
    )
    return results


def node_side(bindgen_dir: Path, calls: int, repeat: int) -> dict[str, float]:
    glue = (bindgen_dir / "index.js").read_text()
    if SOURCE_IMPORT not in glue:
        raise SystemExit(f"{bindgen_dir}/index.js does not start with {SOURCE_IMPORT!r}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copy(bindgen_dir / "index_bg.wasm", work / "index_bg.wasm")
        (work / "glue.mjs").write_text(glue.replace(SOURCE_IMPORT, NODE_PRELUDE, 1))
        (work / "bench.mjs").write_text(NODE_BENCH % {"calls": calls, "repeat": repeat})
        proc = subprocess.run(
            [str(NODE), "bench.mjs"], cwd=work, capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        raise SystemExit(f"node failed:\n{proc.stderr}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bindgen_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bindgen_dir = prepare(args.bindgen_dir)
    node_version = subprocess.run(
        [str(NODE), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    py = python_side(bindgen_dir, args.calls, args.repeat)
    js = node_side(bindgen_dir, args.calls, args.repeat)
    print(f"module: {bindgen_dir}  calls: {args.calls} x best of {args.repeat}")
    print(f"python {sys.version.split()[0]} (wasmtime loader)  vs  node {node_version} (JS glue)")
    print(f"{'function':<32}{'python ns/call':>16}{'node ns/call':>14}{'ratio':>9}")
    for name in ("add", "greet"):
        print(f"{name:<32}{py[name]:>16.0f}{js[name]:>14.1f}{py[name] / js[name]:>8.0f}x")
    name = "add (wasmtime Func.__call__)"
    print(f"{name:<32}{py[name]:>16.0f}{js['add']:>14.1f}{py[name] / js['add']:>8.0f}x")


if __name__ == "__main__":
    main()
