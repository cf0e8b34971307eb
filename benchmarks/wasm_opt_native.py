"""Benchmark: the npm (JavaScript/Wasm on Node) wasm-opt against a native binaryen.

    .venv/bin/python benchmarks/wasm_opt_native.py --module IN.wasm \\
        [--wasm-opt PATH ...] [--libbinaryen PATH/libbinaryen.so] [-n 5]

The edit rebuild is mostly wasm-opt, and the npm `binaryen` package (the default
fallback, and what node_modules holds) runs it on Node. This compares, process
to process, the same optimisation of the same module:

* `npm wasm-opt`: node_modules/.bin/wasm-opt with the flags the build step uses;
* each `--wasm-opt PATH`: another wasm-opt binary (e.g. binaryen's native release,
  as worker-build downloads it into its cache), same flags;
* `--libbinaryen PATH`: a native libbinaryen.so driven through its C API (ctypes, in
  a child Python process): read, all features, -O (level 2, shrink 0), debug info,
  write. No registry here serves a native wasm-opt >= 120; PyPI's `icpp-binaryen`
  bundles a libbinaryen.so of binaryen 116, which gives an idea of native speed
  (an older optimiser: its passes differ, so read the ratio as indicative):
      python3 -m venv /tmp/icpp && /tmp/icpp/bin/pip install icpp-binaryen
      --libbinaryen /tmp/icpp/lib/python3.*/site-packages/icpp_binaryen/lib/libbinaryen.so

Rounds alternate the order; the table shows median wall and CPU time (user+sys of
the child) and the output size, with the ratio to the npm wasm-opt. Machine load
is printed: wall time on a busy 2-core machine is mostly waiting, CPU time is not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from harness.machine import loadavg, timed_run
from harness.paths import NODE_BIN
from worker_build.build.options import WASM_OPT_FEATURES

# The build step's flags for a release build (worker_build/build/options.py).
FLAGS = ["-O", *WASM_OPT_FEATURES, "--debuginfo"]

C_API = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class Written(ctypes.Structure):
    _fields_ = [("binary", ctypes.c_void_p), ("size", ctypes.c_size_t),
                ("source_map", ctypes.c_void_p)]
lib.BinaryenModuleRead.restype = ctypes.c_void_p
lib.BinaryenModuleRead.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
lib.BinaryenFeatureAll.restype = ctypes.c_uint32
lib.BinaryenModuleSetFeatures.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
lib.BinaryenModuleOptimize.argtypes = [ctypes.c_void_p]
lib.BinaryenSetDebugInfo.argtypes = [ctypes.c_bool]
lib.BinaryenModuleAllocateAndWrite.restype = Written
lib.BinaryenModuleAllocateAndWrite.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
data = open(sys.argv[2], "rb").read()
module = lib.BinaryenModuleRead(data, len(data))
if not module:
    sys.exit("libbinaryen could not read the module")
lib.BinaryenModuleSetFeatures(module, lib.BinaryenFeatureAll())
lib.BinaryenSetOptimizeLevel(2)
lib.BinaryenSetShrinkLevel(0)
lib.BinaryenSetDebugInfo(True)
lib.BinaryenModuleOptimize(module)
out = lib.BinaryenModuleAllocateAndWrite(module, None)
open(sys.argv[3], "wb").write(ctypes.string_at(out.binary, out.size))
"""


def measure(argv: list[str]) -> tuple[float, float]:
    proc, sample = timed_run(argv, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return sample.wall, sample.cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", type=Path, required=True, help="the module to optimise")
    ap.add_argument("--wasm-opt", type=Path, action="append", default=[], dest="wasm_opts")
    ap.add_argument("--libbinaryen", type=Path, default=None)
    ap.add_argument("-n", "--rounds", type=int, default=5)
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="wasm-opt-bench-"))
    npm = NODE_BIN / "wasm-opt"
    cmds: dict[str, list[str]] = {
        "npm wasm-opt (Node)": [str(npm), *FLAGS, str(args.module), "-o", str(out / "npm.wasm")]
    }
    for i, exe in enumerate(args.wasm_opts):
        cmds[f"{exe}"] = [str(exe), *FLAGS, str(args.module), "-o", str(out / f"w{i}.wasm")]
    if args.libbinaryen is not None:
        cmds[f"libbinaryen C API ({args.libbinaryen.parent.parent.name})"] = [
            sys.executable, "-c", C_API, str(args.libbinaryen), str(args.module),
            str(out / "lib.wasm"),
        ]  # fmt: skip
    names = list(cmds)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    load = [loadavg()]
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            wall, cpu = measure(cmds[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    load.append(loadavg())
    sizes = {n: Path(cmds[n][-1]).stat().st_size for n in names}
    print(f"module {args.module} ({args.module.stat().st_size / 1024:.0f} KiB), "
          f"{args.rounds} rounds; load average (1/5/15 min) {load[0]} -> {load[1]}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    base_wall = statistics.median(walls[names[0]])
    base_cpu = statistics.median(cpus[names[0]])
    print(f"{'what':50} {'wall s':>7} {'x npm':>6} {'CPU s':>7} {'x npm':>6} {'out KiB':>8}")
    for n in names:
        wall, cpu = statistics.median(walls[n]), statistics.median(cpus[n])
        print(f"{n:50} {wall:7.2f} {wall / base_wall:6.2f} {cpu:7.2f} {cpu / base_cpu:6.2f} "
              f"{sizes[n] / 1024:8.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
