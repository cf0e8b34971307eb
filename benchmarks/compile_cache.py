"""The compile cache against the real worker-build and against today's builds (issue 17).

    .venv/bin/python benchmarks/compile_cache.py                       # everything, 3 runs
    .venv/bin/python benchmarks/compile_cache.py --runs 5 --json out.json
    .venv/bin/python benchmarks/compile_cache.py --parts cold --runs 1  # smallest

hello-worker `--release --panic-unwind`, no CARGO_TARGET_DIR anywhere (each crate copy
builds in its own `target/`). The real worker-build 0.8.7, its toolchain and our
snapshot of the committed HEAD are compare_real.py's (benchmarks/side_by_side.py); ours
runs with Debian's rustc (the same compiler), `--no-loader` (the real tool writes no
Python loader) and a cache directory of its own per variant under
.cache/bench/compile-cache/.

No SCCACHE_* variable is set but the Redis of `fresh` (and of the first machine that fills
it), so only those builds run sccache; the others share through the build directory.

cold (runs alternate, the order flips every round; everything a variant needs is made
before its timed build):
  real         the real tool, a fresh copy of hello-worker (std and every dependency
               compiled in its target directory)
  first        ours, the very first build on a machine: empty cache directory
  today-first  ours as before the compile cache (`--no-compile-cache`), empty cache
               directory: the peer `first` must not be slower than
  second       ours, a second crate from the same template (hello-worker renamed), its
               own fresh target directory, after hello-worker was built with the same
               cache directory (restored before each run to that state)      <= 0.30x real
  fresh        ours on a fresh machine: the same paths, no cache directory and no target
               directory, sharing a redis-server (on loopback) that a first machine
               filled; std included (the std cache entry comes from sccache) <= 0.35x real
rebuilds (after one untimed build of each; runs alternate):
  noop / edit  a build with nothing changed / with src/lib.rs's response text changed,
               by ours, ours `--no-compile-cache` (today's) and the real tool (no-ops
               --noop-runs times: they take a third of a second)

Printed: median wall and CPU time per variant (the build's process tree, plus the CPU
of the cache directory's sccache server and the compilers it ran; Redis's is not
counted), ratios against the real tool and against today's, each target beside its
ratio, and the machine's load before and after every run. "No slower" is met when the
median is at most the peer's, and "within noise" when it is above but the runs overlap.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.side_by_side import ORIGINAL_TEXT, SAMPLE, contenders
from harness.bench_toolchain import DEBIAN_RUSTC
from harness.machine import Sample, loadavg, log, timed_run
from harness.paths import BENCH
from harness.redis import redis_server
from worker_build.rust.compile_cache import server as server_mod
from worker_build.tools import sccache

WORK = BENCH / "compile-cache"
FLAGS = ("--release", "--panic-unwind")
TARGETS = {"second": 0.30, "fresh": 0.35}  # of the real tool's cold build
Env = dict[str, str]
SOCKETS = shutil.ignore_patterns("*.sock")  # a stopped sccache server's socket stays


def copy_crate(dest: Path, package: str | None = None) -> Path:
    """A fresh copy of hello-worker at `dest` (renamed to `package`)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("target", "build"))
    if package is not None:
        for name in ("Cargo.toml", "Cargo.lock"):
            path = dest / name
            path.write_text(path.read_text().replace('"hello-worker"', f'"{package}"'))
    return dest


def stop_servers(cache: Path) -> None:
    """Stop the sccache servers of a cache directory (before it is deleted or restored:
    a server keeps its storage's state in memory)."""
    found = sccache.find()
    if not isinstance(found, str):
        for socket in server_mod.sockets(cache):
            server_mod.stop(found.path, socket)


def server_cpu(cache: Path) -> float:
    """CPU seconds of the cache directory's sccache servers and the compilers they ran
    (their reaped children): the server, not the build, runs rustc on a miss, so the
    build's own process tree misses that work. Found in /proc by the socket they serve."""
    tick = os.sysconf("SC_CLK_TCK")
    marker = f"SCCACHE_SERVER_UDS={cache.absolute()}/".encode()
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "environ").read_bytes():
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone, or another user's
        # utime, stime, cutime, cstime: fields 14-17 of stat, 12-15 after the name
        total += sum(int(f) for f in fields[11:15]) / tick
    return total


class Bench:
    def __init__(self) -> None:
        both = contenders(True, ["--no-loader"])
        log(f"ours: worker-build at {both.ours_commit}; real: {both.real_version}")
        self.real_argv, self.real_env = both.real.argv, dict(both.real.env)
        self.ours_argv = both.ours.argv
        ours = dict(both.ours.env, WORKER_BUILD_RUSTC=str(DEBIAN_RUSTC))
        for var in ("RUSTC_BOOTSTRAP", "RUSTC_WRAPPER", "CARGO_BUILD_BUILD_DIR"):
            ours.pop(var, None)  # ours sets RUSTC_BOOTSTRAP itself where needed
        for env in (ours, self.real_env):
            env.pop("CARGO_TARGET_DIR", None)
            for var in [v for v in env if v.startswith("SCCACHE_")]:
                env.pop(var)
        self.ours_env = ours

    def ours(self, cache: Path, *extra: str, **env: str) -> Callable[[Path], Sample]:
        def run(crate: Path) -> Sample:
            full = dict(self.ours_env, WORKER_BUILD_CACHE=str(cache), **env)
            before = server_cpu(cache)
            sample = build([*self.ours_argv, str(crate), *FLAGS, "--no-loader", *extra], full)
            return Sample(sample.wall, sample.cpu + server_cpu(cache) - before)

        return run

    def real(self, crate: Path) -> Sample:
        return build([*self.real_argv, str(crate), *FLAGS], self.real_env)


def build(argv: list[str], env: Env) -> Sample:
    logf = WORK / "last-build.log"
    with logf.open("w") as fh:
        proc, sample = timed_run(argv, env=env, stdout=fh, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(
            f"build failed ({proc.returncode}); see {logf}:\n{logf.read_text()[-4000:]}"
        )
    return sample


def measured(name: str, run: Callable[[], Sample], store: dict[str, list[dict[str, Any]]]) -> None:
    before = loadavg()
    sample = run()
    after = loadavg()
    store.setdefault(name, []).append(
        {"wall": sample.wall, "cpu": sample.cpu, "load_before": before, "load_after": after}
    )
    n = len(store[name])
    log(f"  {name:12} run {n}: {sample.wall:.1f}s wall, {sample.cpu:.1f}s cpu "
        f"(load {before} -> {after})")  # fmt: skip


# --- cold builds ---------------------------------------------------------------------------------


def part_cold(bench: Bench, runs: int, redis: str, names: list[str]) -> dict[str, Any]:
    crate = WORK / "crates" / "hello-worker"
    second = WORK / "crates" / "second-worker"
    caches = {n: WORK / f"cache-{n}" for n in ("first", "today-first", "second", "fresh")}
    template = WORK / "second-template"

    if "second" in names:  # a cache directory that built hello-worker, kept as a template
        log(f"cold: the second crate's cache: hello-worker built once (load {loadavg()})")
        stop_servers(caches["second"])
        shutil.rmtree(caches["second"], ignore_errors=True)
        bench.ours(caches["second"])(copy_crate(crate))
        stop_servers(caches["second"])
        shutil.rmtree(template, ignore_errors=True)
        shutil.copytree(caches["second"], template, symlinks=True, ignore=SOCKETS)
    if "fresh" in names:  # a first machine fills the Redis
        log(f"cold: a first machine fills the Redis (load {loadavg()})")
        stop_servers(caches["fresh"])
        shutil.rmtree(caches["fresh"], ignore_errors=True)
        bench.ours(caches["fresh"], SCCACHE_REDIS_ENDPOINT=redis)(copy_crate(crate))

    def prepare(name: str) -> Callable[[], Sample]:
        """Set the variant's machine up; its timed build."""
        if name == "real":
            copy_crate(crate)
            return lambda: bench.real(crate)
        stop_servers(caches[name])
        shutil.rmtree(caches[name], ignore_errors=True)
        if name == "second":
            shutil.copytree(template, caches[name], symlinks=True, ignore=SOCKETS)
            copy_crate(second, "second-worker")
            return lambda: bench.ours(caches[name])(second)
        copy_crate(crate)
        if name == "fresh":
            return lambda: bench.ours(caches[name], SCCACHE_REDIS_ENDPOINT=redis)(crate)
        extra = ("--no-compile-cache",) if name == "today-first" else ()
        return lambda: bench.ours(caches[name], *extra)(crate)

    samples: dict[str, list[dict[str, Any]]] = {}
    for i in range(runs):
        for name in names if i % 2 == 0 else list(reversed(names)):
            measured(name, prepare(name), samples)
    for cache in caches.values():
        stop_servers(cache)
    return samples


# --- rebuilds ------------------------------------------------------------------------------------


def set_text(crate: Path, n: int) -> None:
    lib = crate / "src" / "lib.rs"
    original = (SAMPLE / "src" / "lib.rs").read_text()
    lib.write_text(original.replace(ORIGINAL_TEXT, f"{ORIGINAL_TEXT} #{n}"))


def part_rebuilds(bench: Bench, runs: int, noop_runs: int) -> dict[str, Any]:
    tools: dict[str, Callable[[Path], Sample]] = {
        "ours": bench.ours(WORK / "cache-rebuilds"),
        "today": bench.ours(WORK / "cache-rebuilds", "--no-compile-cache"),
        "real": bench.real,
    }
    crates = {name: copy_crate(WORK / "crates" / f"rebuild-{name}") for name in tools}
    for name, run in tools.items():
        log(f"rebuilds: {name} builds once (load {loadavg()})")
        run(crates[name])
    samples: dict[str, list[dict[str, Any]]] = {}
    edits = 0
    for i in range(max(runs, noop_runs)):
        # A no-op takes a third of a second: a few runs cannot tell 10 ms from noise.
        for scenario in ("noop", "edit") if i < runs else ("noop",):
            order = list(tools) if i % 2 == 0 else list(reversed(tools))
            for name in order:
                if scenario == "edit":
                    edits += 1
                    set_text(crates[name], edits)
                measured(f"{scenario}-{name}", partial(tools[name], crates[name]), samples)
    stop_servers(WORK / "cache-rebuilds")
    return samples


# --- the report ----------------------------------------------------------------------------------


def medians(samples: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    return {
        n: {k: statistics.median(s[k] for s in runs) for k in ("wall", "cpu")}
        for n, runs in samples.items()
    }


def secs(value: float) -> str:
    return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"


def no_slower(runs: list[dict[str, Any]], peer_runs: list[dict[str, Any]]) -> str:
    """`met` when the median is at most the peer's; `within noise` when it is above
    but the two sets of runs overlap (the fastest of ours no slower than the slowest of
    the peer's: these builds vary by a few percent from run to run on one machine)."""
    walls, peer_walls = [r["wall"] for r in runs], [r["wall"] for r in peer_runs]
    if statistics.median(walls) <= statistics.median(peer_walls):
        return "met"
    if min(walls) <= max(peer_walls):
        return f"within noise (runs {secs(min(walls))}-{secs(max(walls))} vs " \
               f"{secs(min(peer_walls))}-{secs(max(peer_walls))})"  # fmt: skip
    return "NOT met"


def table(samples: dict[str, list[dict[str, Any]]], peers: dict[str, str]) -> str:
    med = medians(samples)
    rows = ["| variant | median wall | median cpu | wall / peer | cpu / peer | target | runs |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, m in med.items():
        peer = peers.get(name)
        ratio = cpu = target = ""
        if peer in med and peer != name:
            ratio = f"{m['wall'] / med[peer]['wall']:.2f}x {peer}"
            cpu = f"{m['cpu'] / med[peer]['cpu']:.2f}x"
            limit = TARGETS.get(name)
            met = {True: "met", False: "NOT met"}
            if limit is not None:
                target = f"<= {limit:.2f}x: {met[m['wall'] / med[peer]['wall'] <= limit]}"
            elif peer.startswith(("today", "noop-today", "edit-today")):
                target = f"no slower: {no_slower(samples[name], samples[peer])}"
        rows.append(f"| {name} | {secs(m['wall'])} | {secs(m['cpu'])} | {ratio} | {cpu} | {target} "
                    f"| {len(samples[name])} |")  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="cold,rebuilds", help="cold and/or rebuilds")
    ap.add_argument("--variants", default="real,first,today-first,second,fresh",
                    help="the cold variants to run (real is the peer of the others)")  # fmt: skip
    ap.add_argument("--runs", type=int, default=3, help="runs per variant")
    ap.add_argument("--noop-runs", type=int, default=21, help="runs of each no-op rebuild")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    WORK.mkdir(parents=True, exist_ok=True)
    bench = Bench()
    results: dict[str, Any] = {"nproc": os.cpu_count(), "load_start": loadavg()}
    with ExitStack() as stack:
        if "cold" in parts:
            names = args.variants.split(",")
            redis = stack.enter_context(redis_server(WORK / "redis")) if "fresh" in names else ""
            results["cold"] = part_cold(bench, args.runs, redis, names)
    if "rebuilds" in parts:
        results["rebuilds"] = part_rebuilds(bench, args.runs, args.noop_runs)
    results["load_end"] = loadavg()

    print(f"\nmachine: {results['nproc']} cores, load {results['load_start']} at the start, "
          f"{results['load_end']} at the end")  # fmt: skip
    if "cold" in results:
        cold = results["cold"]
        peers = {n: "real" for n in cold} | {"first": "today-first", "today-first": "real"}
        print("\ncold `--release --panic-unwind` builds of hello-worker (peer: the real tool, "
              "or today's for `first`):\n")  # fmt: skip
        print(table(cold, peers))
        med = medians(cold)
        if "real" in med and "first" in med:
            print(f"\nfirst / real: {med['first']['wall'] / med['real']['wall']:.2f}x wall")
    if "rebuilds" in results:
        reb = results["rebuilds"]
        peers = {n: n.replace("-ours", "-today") for n in reb if n.endswith("-ours")}
        peers |= {n: n.replace("-today", "-real") for n in reb if n.endswith("-today")}
        print("\nrebuilds (peer: today's for ours, the real tool for today's):\n")
        print(table(reb, peers))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
