"""Benchmark: the whole `verify` process against wasm-tools and wasm-objdump | grep.

    .venv/bin/python benchmarks/verify_speed.py [--wasm FILE] [-n 15]

Without --wasm it uses the big generated module (benchmarks/bigcrate/make.py,
built first when missing). Each round runs every command once, in an order
rotated per round; the table shows the median wall time, throughput, the
ratio to `wasm-tools validate --features all`, and the median CPU time of
the process tree (user+sys, from getrusage of reaped children). Targets
(issue 3): `worker-build verify` within 3x of wasm-tools validate, and faster
than wasm-objdump | grep.

Entries: the installed console script (`worker-build verify`, today through
typer), `python -m worker_build.verify_cli`, and `python -c` calling
verify_cli.main: the cost of a console entry point that dispatches `verify`
before importing the CLI framework. The machine load is printed because the
decoder splits large modules over two processes (WORKER_BUILD_VERIFY_JOBS=1
turns that off), which only helps when a core is free.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
DEFAULT_WASM = ROOT / ".cache/bigcrate-out-legacy/index_bg.wasm"
# Installed packages come with compiled .pyc files; let the warm-up run write
# ours too (this machine's environment sets PYTHONDONTWRITEBYTECODE=1).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
EH_GREP = r"\|\s+(try|catch|catch_all|rethrow|delegate|throw|try_table|throw_ref)( |$)"


def commands(wasm: Path) -> dict[str, list[str]]:
    w = shlex.quote(str(wasm))
    return {
        "worker-build verify": [str(VENV_BIN / "worker-build"), "verify", str(wasm)],
        "python -m worker_build.verify_cli": [
            sys.executable, "-m", "worker_build.verify_cli", str(wasm),
        ],
        # a console entry point that dispatches `verify` before importing typer
        "verify_cli.main via console-style entry": [
            sys.executable, "-c",
            "import sys; from worker_build.verify_cli import main; sys.exit(main())", str(wasm),
        ],
        "wasm-tools validate --features all": [
            str(VENV_BIN / "wasm-tools"), "validate", "--features", "all", str(wasm),
        ],
        "wasm-objdump -d | grep -c": [
            "sh", "-c", f"{VENV_BIN / 'wasm-objdump'} -d {w} | grep -c -E '{EH_GREP}'",
        ],
    }  # fmt: skip


def measure(argv: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user+sys of the whole process tree), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, cwd=ROOT, check=False, env=ENV)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(
            f"{shlex.join(argv)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}"
        )
    return wall, cpu, proc.stdout.decode()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wasm", type=Path, default=None)
    ap.add_argument("-n", "--rounds", type=int, default=15)
    args = ap.parse_args()
    wasm = args.wasm
    if wasm is None:
        wasm = DEFAULT_WASM
        if not wasm.exists():
            subprocess.run([sys.executable, str(ROOT / "benchmarks/bigcrate/make.py")], check=True)
    size = wasm.stat().st_size
    cmds = commands(wasm)
    names = list(cmds)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    outputs: dict[str, str] = {}
    for n in names:  # warm-up (page cache, .pyc files)
        outputs[n] = measure(cmds[n])[2]
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            wall, cpu, _ = measure(cmds[n])
            walls[n].append(wall)
            cpus[n].append(cpu)
    eh_lines = outputs["wasm-objdump -d | grep -c"].strip()
    print(f"module: {wasm} ({size / 1e6:.2f} MB), {args.rounds} rounds, {os.cpu_count()} CPUs")
    print(f"load average at end: {os.getloadavg()[0]:.2f}; objdump|grep found {eh_lines} EH lines")
    summary = outputs["python -m worker_build.verify_cli"].splitlines()
    print("verify says: " + " | ".join(summary[1:4]))
    print(f"decoder jobs: {os.environ.get('WORKER_BUILD_VERIFY_JOBS', 'auto')}")
    base = statistics.median(walls["wasm-tools validate --features all"])
    print()
    print(f"{'command':42} {'median ms':>10} {'MB/s':>8} {'x wasm-tools':>13} {'CPU ms':>8}")
    for n in names:
        med = statistics.median(walls[n])
        cpu = statistics.median(cpus[n])
        rate = size / 1e6 / med
        print(f"{n:42} {med * 1000:10.1f} {rate:8.1f} {med / base:13.2f} {cpu * 1000:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
