"""The shared std cache side by side with -Zbuild-std and the real worker-build (issue 11).

    .venv/bin/python benchmarks/std_cache.py                  # sizes, then cold builds
    .venv/bin/python benchmarks/std_cache.py --part sizes
    .venv/bin/python benchmarks/std_cache.py --part cold --runs 3 --json out.json

The real worker-build, its toolchain and our snapshot are compare_real.py's
(benchmarks/side_by_side.py: Debian's rustc 1.96 for both; for the real tool a
rustup-linked sysroot with a precompiled, rustup-style wasm32 std, and nightly
-Zbuild-std for --panic-unwind). Ours runs with WORKER_BUILD_RUSTC=/usr/bin/rustc (the
same compiler); for the cold builds with a cache directory of its own under
.cache/bench/stdcache/, so "std cache cold" and "warm" are under control, for the sizes
with the user's (entries other builds made are reused).

1. sizes: index_bg.wasm of hello-worker built --release and --dev, with and without
   --panic-unwind, by ours (std cache), ours with --no-std-cache (-Zbuild-std in the
   target directory, the behaviour before the cache) and the real tool. Each variant
   keeps its own target directory, so a second run of this part compiles little.
2. cold: a cold `--release --panic-unwind` build of a second crate (hello-worker copied
   under another package name), fresh target directory every run, runs alternating:
     real       the real tool (std from source in the target directory, as always)
     ours-warm  ours with the std cache warm (the entry for this key exists)
     ours-cold  ours with the std cache empty (its first build: builds the entry)
   Medians of wall and CPU time (the whole process tree), ratios against real, the
   machine's load before and after every run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.side_by_side import SAMPLE, contenders
from harness.bench_toolchain import DEBIAN_RUSTC
from harness.machine import Sample, loadavg, log, timed_run
from harness.paths import BENCH

WORK = BENCH / "stdcache"
OURS_CACHE = WORK / "wb-cache"
SECOND = WORK / "crates" / "second-worker"


def second_crate() -> Path:
    """hello-worker under another package name: a crate the std cache has not seen."""
    if not (SECOND / "Cargo.toml").is_file():
        shutil.rmtree(SECOND, ignore_errors=True)
        shutil.copytree(SAMPLE, SECOND, ignore=shutil.ignore_patterns("target", "build"))
        manifest = SECOND / "Cargo.toml"
        manifest.write_text(manifest.read_text().replace('"hello-worker"', '"second-worker"', 1))
        lock = SECOND / "Cargo.lock"
        lock.write_text(lock.read_text().replace('name = "hello-worker"', 'name = "second-worker"'))
    return SECOND


def environments() -> dict[str, tuple[list[str], dict[str, str]]]:
    """argv prefix and environment per tool, for --panic-unwind and not (the real tool
    needs the rustup shim only for --panic-unwind; it does no harm otherwise)."""
    both = contenders(True, [])
    log(f"ours: worker-build at {both.ours_commit}")
    real, ours = both.real, both.ours
    ours_env = dict(
        ours.env, WORKER_BUILD_RUSTC=str(DEBIAN_RUSTC), WORKER_BUILD_CACHE=str(OURS_CACHE)
    )
    ours_env.pop("RUSTC_BOOTSTRAP", None)  # ours sets it itself where it is needed
    ours_env.pop("CARGO_TARGET_DIR", None)
    real_env = dict(real.env)
    real_env.pop("CARGO_TARGET_DIR", None)
    shared = dict(ours_env)
    shared.pop("WORKER_BUILD_CACHE")  # the user's cache: entries other builds made are used
    return {
        "real": (real.argv, real_env),
        "ours": (ours.argv, ours_env),
        "ours-shared-cache": (ours.argv, shared),
    }


def build(
    tool: tuple[list[str], dict[str, str]], crate: Path, out: Path, target: Path, *flags: str
) -> Sample:
    argv, env = tool
    env = dict(env, CARGO_TARGET_DIR=str(target))
    logf = WORK / "last-build.log"
    with logf.open("w") as fh:
        proc, sample = timed_run(
            [*argv, str(crate), "-d", str(out), *flags],
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    if proc.returncode != 0:
        raise SystemExit(
            f"build failed ({proc.returncode}); see {logf}:\n" + logf.read_text()[-4000:]
        )
    return sample


# --- 1. sizes ----------------------------------------------------------------------------------


def part_sizes(tools: dict[str, tuple[list[str], dict[str, str]]]) -> dict[str, Any]:
    rows: dict[str, dict[str, int]] = {}
    variants = {
        "ours (std cache)": ("ours-shared-cache", ["--no-loader"]),
        "ours (--no-std-cache)": ("ours-shared-cache", ["--no-loader", "--no-std-cache"]),
        "real": ("real", []),
    }
    for profile in ("--release", "--dev"):
        for unwind in (True, False):
            config = f"{profile}{' --panic-unwind' if unwind else ''}"
            rows[config] = {}
            for name, (tool, extra) in variants.items():
                slug = f"{name.split()[0]}-{'nocache' if '--no-std-cache' in extra else 'x'}"
                where = f"{slug}-{profile[2:]}-{'unwind' if unwind else 'abort'}"
                out = WORK / "sizes" / f"out-{where}"
                flags = [profile, *extra, *(["--panic-unwind"] if unwind else [])]
                log(f"sizes: {config}: {name} (load {loadavg()})")
                build(tools[tool], SAMPLE, out, WORK / "sizes" / f"target-{where}", *flags)
                rows[config][name] = (out / "index_bg.wasm").stat().st_size
    return rows


# --- 2. cold builds ----------------------------------------------------------------------------


def part_cold(tools: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, Any]:
    crate = second_crate()
    flags = ("--release", "--panic-unwind")
    target = WORK / "cold-target"
    # the real tool writes no Python loader; the compile cache would share the crate's
    # dependencies too (benchmarks/compile_cache.py measures that): std alone here
    ours_flags = (*flags, "--no-loader", "--no-compile-cache")

    def prepare(name: str) -> None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(WORK / "cold-out", ignore_errors=True)
        if name == "ours-cold":
            shutil.rmtree(OURS_CACHE / "std", ignore_errors=True)

    def run(name: str) -> Sample:
        tool = tools["real" if name == "real" else "ours"]
        return build(
            tool, crate, WORK / "cold-out", target, *(flags if name == "real" else ours_flags)
        )

    # warm the std cache for this key once (a build of another crate would do the same)
    log(f"cold: warming the std cache (load {loadavg()})")
    build(tools["ours"], SAMPLE, WORK / "warm-out", WORK / "warm-target", *ours_flags)
    names = ["real", "ours-warm", "ours-cold"]
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for i in range(runs):
        # ours-cold builds the entry again, so ours-warm is warm in either order
        order = names if i % 2 == 0 else list(reversed(names))
        for name in order:
            prepare(name)
            before = loadavg()
            sample = run(name)
            after = loadavg()
            samples[name].append(
                {"wall": sample.wall, "cpu": sample.cpu, "load_before": before, "load_after": after}
            )
            log(
                f"  {name:9} run {i + 1}/{runs}: {sample.wall:.1f}s wall, {sample.cpu:.1f}s cpu "
                f"(load {before} -> {after})"
            )
    med = {
        n: {k: statistics.median(s[k] for s in samples[n]) for k in ("wall", "cpu")} for n in names
    }
    return {
        "runs": samples,
        "median": med,
        "ratio": {n: {k: med[n][k] / med["real"][k] for k in ("wall", "cpu")} for n in names},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("sizes", "cold", "all"), default="all")
    ap.add_argument("--runs", type=int, default=3, help="cold runs per variant")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    tools = environments()
    results: dict[str, Any] = {"nproc": os.cpu_count(), "load_start": loadavg()}
    if args.part in ("sizes", "all"):
        results["sizes"] = part_sizes(tools)
    if args.part in ("cold", "all"):
        results["cold"] = part_cold(tools, args.runs)
    results["load_end"] = loadavg()

    print(
        f"\nmachine: {results['nproc']} cores, load {results['load_start']} at the start, "
        f"{results['load_end']} at the end"
    )
    if "sizes" in results:
        print("\nindex_bg.wasm bytes (hello-worker):\n")
        names = list(next(iter(results["sizes"].values())))
        print("| build | " + " | ".join(names) + " | std cache / real |")
        print("|---|" + "---|" * (len(names) + 1))
        for config, row in results["sizes"].items():
            ratio = row["ours (std cache)"] / row["real"]
            print(
                f"| `{config}` | " + " | ".join(f"{row[n]:,}" for n in names) + f" | {ratio:.3f} |"
            )
    if "cold" in results:
        cold = results["cold"]
        print("\ncold `--release --panic-unwind` build of a second crate (fresh target dir):\n")
        print("| variant | median wall | median cpu | wall / real | cpu / real | runs |")
        print("|---|---|---|---|---|---|")
        for name, m in cold["median"].items():
            r = cold["ratio"][name]
            print(
                f"| {name} | {m['wall']:.1f}s | {m['cpu']:.1f}s | {r['wall']:.2f}x "
                f"| {r['cpu']:.2f}x | {len(cold['runs'][name])} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
