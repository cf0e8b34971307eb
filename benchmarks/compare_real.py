"""Side-by-side timing of our worker-build against the real one (issue 7).

    .venv/bin/python benchmarks/compare_real.py                 # panic=abort (default build)
    .venv/bin/python benchmarks/compare_real.py --unwind        # --panic-unwind for both
    .venv/bin/python benchmarks/compare_real.py --runs 9 --cold-runs 3 --json out.json
    .venv/bin/python benchmarks/compare_real.py --unwind --ours-args=--no-loader \
        --scenarios noop,touch,edit     # same output set as the real tool (no Python loader)

What it sets up (everything under .cache/bench/, git-ignored, reused between runs):

- the real worker-build, `cargo install worker-build --version <V> --locked` from
  crates.io, where V is the `worker` version locked by sample-crates/hello-worker
  (0.8.7); built with the machine's default cargo, installed into
  .cache/bench/real-worker-build/.
- a Rust toolchain both tools use: Debian's rustc 1.96 (/usr/bin/rustc) with a
  sysroot of our own (.cache/bench/sysroot/) that holds a *precompiled* wasm32 std
  (panic=abort, optimized as rustup ships it: the std cache entry worker-build builds
  for a --dev build, see README "std cache"; host libraries and std sources are
  symlinks to Debian's), a `rustc` wrapper that adds `--sysroot` (unless the caller
  passes its own, as our std cache does), and Debian's cargo.
  It is linked into a private RUSTUP_HOME (.cache/bench/rustup-home) as `wb-bench` and
  selected with RUSTUP_TOOLCHAIN, so both tools find it through the ordinary rustup
  proxies exactly as they would on a user's machine; the machine's own rustup
  toolchains and default are never touched.
- for --unwind: the real tool runs `cargo +nightly` and checks rustup for nightly,
  `rust-src` and the wasm32 target. In the private RUSTUP_HOME `toolchains/nightly-<host>`
  is a symlink to the same sysroot (rustup refuses `toolchain link nightly`, a reserved
  name). rustup has no component manifest for such a toolchain, so `rustup component
  list --toolchain nightly` fails ("Missing manifest in toolchain
  'nightly-x86_64-unknown-linux-gnu'") and the real tool then runs `rustup component
  add rust-src --toolchain nightly`, which fails the same way and stops the build.
  A benchmark-only `rustup` wrapper first on PATH answers that one query from the
  toolchain's actual files (rust-src present iff lib/rustlib/src/rust/library/Cargo.lock
  exists) and passes everything else to the real rustup. RUSTC_BOOTSTRAP=1 is set for
  both tools (Debian's cargo is a stable 1.96 and needs it for `-Zbuild-std`).
- the same wasm-bindgen, wasm-opt and esbuild for both: WASM_BINDGEN_BIN,
  WASM_OPT_BIN, ESBUILD_BIN.
- a copy of hello-worker (.cache/bench/crates/), so touching/editing its source never
  disturbs other builds of the sample; each tool has its own CARGO_TARGET_DIR and out dir.
- our worker-build is run from a snapshot of the committed HEAD (`git archive`, on
  PYTHONPATH in front of the editable install), so edits in the working tree made while
  the benchmark runs do not change what is measured. Default options (Python loader on).

Scenarios, alternating real/ours (the order flips every round), medians and ratios:
  cold   target dir and out dir deleted (tool caches kept)
  noop   nothing changed since the previous build
  touch  src/lib.rs mtime bumped (cargo recompiles; the artifact bytes stay the same)
  edit   src/lib.rs content changed (a different response text each run)
  help   `worker-build --help`
Then both outputs are built from the pristine source and compared: wasm size and the
responses workerd serves for the same requests (tests/workerd.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / ".cache" / "bench"
SAMPLE = REPO / "sample-crates" / "hello-worker"
CRATE = BENCH / "crates" / "hello-worker"
DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_CARGO = Path("/usr/bin/cargo")
DEBIAN_RUSTLIB = Path("/usr/lib/rustlib")
HOST = "x86_64-unknown-linux-gnu"
WASM = "wasm32-unknown-unknown"
NODE_BIN = REPO / "node_modules" / ".bin"
VENV_BIN = Path(sys.executable).parent
CARGO_BIN = Path.home() / ".cargo" / "bin"
TOOLCHAIN_NAME = "wb-bench"
ORIGINAL_TEXT = "hello from hello-worker"

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


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, text=True, check=True, **kw)


# ------------------------------------------------------------------------------ setup


def locked_version(name: str) -> str:
    lock = tomllib.loads((SAMPLE / "Cargo.lock").read_text())
    versions = [p["version"] for p in lock["package"] if p["name"] == name]
    assert len(versions) == 1, (name, versions)
    return str(versions[0])


def install_real(version: str) -> Path:
    root = BENCH / "real-worker-build"
    exe = root / "bin" / "worker-build"
    if exe.is_file():
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
        if out == version:
            return exe
    log(f"installing the real worker-build {version} from crates.io (cargo install)...")
    env = dict(os.environ, CARGO_TARGET_DIR=str(BENCH / "install-target"))
    run(
        [
            "nice",
            "-n",
            "10",
            "cargo",
            "install",
            "worker-build",
            "--version",
            version,
            "--locked",
            "--force",
            "--root",
            str(root),
        ],
        env=env,
    )
    return exe


def rustc_release() -> str:
    out = run([str(DEBIAN_RUSTC), "-vV"], capture_output=True).stdout
    return next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("release:")
    )


def build_wasm_std() -> list[Path]:
    """A wasm32 std as rustup ships it precompiled (panic=abort, opt-level 3, one codegen
    unit, no debug assertions): the std cache entry worker-build itself builds for a
    panic=abort --dev build (its documented dev policy), built once if missing."""
    from harness.cargo import cargo_invocation
    from worker_build.build.options import RawArgs

    log("building a wasm32 std with worker-build's std cache (once)...")
    raw = RawArgs(path=SAMPLE, dev=True, panic_unwind=False, rustc=DEBIAN_RUSTC)
    std = cargo_invocation(raw).context.std
    assert std is not None and std.entry is not None, "worker-build used no std cache entry"
    return sorted(std.entry.libdir.glob("lib*.rlib"))


RUSTC_WRAPPER = """#!/bin/sh
# Benchmark toolchain (benchmarks/compare_real.py): Debian's rustc with this sysroot,
# unless the caller names a sysroot itself (rustc rejects a second --sysroot; our
# std cache runs its compiler with its own).
for arg in "$@"; do
  case "$arg" in --sysroot|--sysroot=*) exec {rustc} "$@" ;; esac
done
exec {rustc} --sysroot "{sysroot}" "$@"
"""


def write_rustc_wrapper(sysroot: Path) -> None:
    wrapper = sysroot / "bin" / "rustc"
    # the real path: worktrees reach the shared sysroot through a symlink of their own
    real = sysroot.resolve()
    text = RUSTC_WRAPPER.replace("{rustc}", str(DEBIAN_RUSTC)).replace("{sysroot}", str(real))
    if wrapper.is_file() and wrapper.read_text() == text:
        return
    # renamed into place: a build running on the shared sysroot never sees half a script
    staged = wrapper.with_name(f".rustc.{os.getpid()}")
    staged.write_text(text)
    staged.chmod(0o755)
    staged.replace(wrapper)


def assemble_sysroot() -> Path:
    sysroot = BENCH / "sysroot"
    stamp = sysroot / ".stamp"
    want = f"rustc {rustc_release()}"
    if stamp.is_file() and stamp.read_text() == want:
        write_rustc_wrapper(sysroot)
        return sysroot
    rlibs = build_wasm_std()
    shutil.rmtree(sysroot, ignore_errors=True)
    libdir = sysroot / "lib" / "rustlib" / WASM / "lib"
    libdir.mkdir(parents=True)
    for rlib in rlibs:
        shutil.copy2(rlib, libdir / rlib.name)
    (sysroot / "lib" / "rustlib" / HOST).symlink_to(DEBIAN_RUSTLIB / HOST)
    (sysroot / "lib" / "rustlib" / "src").symlink_to(DEBIAN_RUSTLIB / "src")
    (sysroot / "bin").mkdir()
    write_rustc_wrapper(sysroot)
    (sysroot / "bin" / "cargo").symlink_to(DEBIAN_CARGO)
    stamp.write_text(want)
    return sysroot


RUSTUP_SHIM = """#!/bin/sh
# Benchmark-only (see benchmarks/compare_real.py): rustup keeps no component manifest
# for a linked toolchain, so `rustup component list` fails on it. Answer the real
# worker-build's one query (is rust-src installed for nightly?) from the toolchain's
# actual files; pass everything else to the real rustup.
if [ "$1 $2 $3 $4" = "component list --toolchain nightly" ] && [ $# -eq 4 ]; then
  sysroot=$(rustc +nightly --print sysroot) || exit 1
  if [ -f "$sysroot/lib/rustlib/src/rust/library/Cargo.lock" ]; then
    echo "rust-src (installed)"
  else
    echo "rust-src"
  fi
  exit 0
fi
exec "{rustup}" "$@"
"""


def setup_rustup(sysroot: Path) -> tuple[Path, Path]:
    home = BENCH / "rustup-home"
    toolchains = home / "toolchains"
    if not (toolchains / TOOLCHAIN_NAME).exists():
        home.mkdir(parents=True, exist_ok=True)
        run(
            [str(CARGO_BIN / "rustup"), "toolchain", "link", TOOLCHAIN_NAME, str(sysroot)],
            env=dict(os.environ, RUSTUP_HOME=str(home)),
        )
    nightly = toolchains / f"nightly-{HOST}"
    if not nightly.is_symlink():
        nightly.symlink_to(sysroot)
    shim_dir = BENCH / "rustup-shim"
    shim_dir.mkdir(parents=True, exist_ok=True)
    shim = shim_dir / "rustup"
    shim.write_text(RUSTUP_SHIM.replace("{rustup}", str(CARGO_BIN / "rustup")))
    shim.chmod(0o755)
    return home, shim_dir


def snapshot_ours() -> tuple[Path, str]:
    commit = run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True).stdout.strip()
    dest = BENCH / "ours-src" / commit
    if not (dest / "worker_build" / "__init__.py").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "HEAD", "worker_build", "templates"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        # as `pip install` does: bytecode up front (PYTHONDONTWRITEBYTECODE may be set)
        run([sys.executable, "-m", "compileall", "-q", str(dest)], capture_output=True)
    dirty = run(
        ["git", "status", "--porcelain", "worker_build", "templates"], cwd=REPO, capture_output=True
    ).stdout.strip()
    return dest, commit + (" (working tree has uncommitted changes, not measured)" if dirty else "")


def fresh_crate() -> None:
    shutil.rmtree(CRATE, ignore_errors=True)
    shutil.copytree(SAMPLE, CRATE, ignore=shutil.ignore_patterns("target", "build"))


# ------------------------------------------------------------------------------ tools


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # user+system seconds of the tool and every process it waited for


def timed(argv: list[str], **kw: Any) -> tuple[subprocess.CompletedProcess[str], Sample]:
    """Wall time and CPU time of one run. CPU time (RUSAGE_CHILDREN covers the whole
    waited-for process tree: cargo, rustc, node, ...) is the work done, much less
    disturbed than wall time by other processes on a busy machine; idle waits do not
    count in it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, text=True, stdin=subprocess.DEVNULL, check=False, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, Sample(wall, cpu)


@dataclass
class Tool:
    name: str
    argv: list[str]
    env: dict[str, str]
    target: Path
    out: Path
    extra: list[str] = field(default_factory=list)

    def build(self) -> Sample:
        argv = [*self.argv, str(CRATE), "--release", "-d", str(self.out), *self.extra]
        logf = BENCH / f"last-{self.name}.log"
        with logf.open("w") as fh:
            proc, sample = timed(argv, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise SystemExit(
                f"{self.name} build failed ({proc.returncode}); see {logf}:\n"
                + logf.read_text()[-4000:]
            )
        return sample

    def help(self) -> Sample:
        proc, sample = timed([*self.argv, "--help"], env=self.env, capture_output=True)
        # the real 0.8.7 prints its help through an error path and exits 1
        text = proc.stdout + proc.stderr
        if "Usage" not in text and "usage" not in text:
            raise SystemExit(f"{self.name} --help printed no usage:\n{text}")
        return sample

    def clean(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)


def toolchain_env(unwind: bool, rustup_home: Path, shim_dir: Path) -> dict[str, str]:
    """The environment both tools build in: this process's environment without the
    variables that would select another compiler or change the build, plus the private
    rustup home (toolchain `wb-bench`, and `nightly` for --panic-unwind), the rustup
    shim for --panic-unwind, and the same wasm-opt and esbuild for both. Used by
    benchmarks/compare_real.py and compat/workers_rs_suite.py; callers add
    WASM_BINDGEN_BIN and CARGO_TARGET_DIR."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "WORKER_BUILD_RUSTC",
            "WORKER_BUILD_CARGO",
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "NO_MINIFY",
            "CARGO_TARGET_DIR",
            "RUSTC",
            "RUSTC_BOOTSTRAP",
            "PYTHONPATH",
            "RUSTUP_TOOLCHAIN",
            "WASM_BINDGEN_BIN",
            "WASM_OPT_BIN",
            "ESBUILD_BIN",
            # set machine-wide here, rarely by users: it makes every anyhow error of
            # the real tool (its --help path included) capture a backtrace
            "RUST_BACKTRACE",
        }
    }
    path = [
        str(CARGO_BIN),
        *[p for p in base.get("PATH", "").split(os.pathsep) if p and p != str(CARGO_BIN)],
    ]
    if unwind:
        path.insert(0, str(shim_dir))
    base.update(
        PATH=os.pathsep.join(path),
        RUSTUP_HOME=str(rustup_home),
        RUSTUP_TOOLCHAIN=TOOLCHAIN_NAME,
        WASM_OPT_BIN=str(NODE_BIN / "wasm-opt"),
        ESBUILD_BIN=str(NODE_BIN / "esbuild"),
    )
    if unwind:
        base["RUSTC_BOOTSTRAP"] = "1"
    return base


def make_tools(
    unwind: bool,
    real_exe: Path,
    ours_src: Path,
    rustup_home: Path,
    shim_dir: Path,
    ours_args: list[str],
) -> list[Tool]:
    base = toolchain_env(unwind, rustup_home, shim_dir)
    bindgen = locked_version("wasm-bindgen")
    base["WASM_BINDGEN_BIN"] = str(
        Path.home() / ".cache/worker-build/wasm-bindgen" / bindgen / "bin" / "wasm-bindgen"
    )
    extra = ["--panic-unwind"] if unwind else []
    mode = "unwind" if unwind else "abort"
    tools = []
    for name, argv, env in (
        ("real", [str(real_exe)], dict(base)),
        ("ours", [str(VENV_BIN / "worker-build")], dict(base, PYTHONPATH=str(ours_src))),
    ):
        target = BENCH / f"target-{name}-{mode}"
        env["CARGO_TARGET_DIR"] = str(target)
        own = ours_args if name == "ours" else []
        tools.append(Tool(name, argv, env, target, BENCH / f"out-{name}-{mode}", [*extra, *own]))
    return tools


# ------------------------------------------------------------------------------ scenarios


def set_text(n: int | None) -> None:
    lib = CRATE / "src" / "lib.rs"
    original = (SAMPLE / "src" / "lib.rs").read_text()
    text = original if n is None else original.replace(ORIGINAL_TEXT, f"{ORIGINAL_TEXT} #{n}")
    assert n is None or text != original
    lib.write_text(text)


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
    sys.path.insert(0, str(REPO / "tests"))
    from harness.workerd import Workerd  # type: ignore[import-not-found]  # tests/workerd.py

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


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
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
    args = ap.parse_args()

    BENCH.mkdir(parents=True, exist_ok=True)
    version = locked_version("worker")
    real_exe = install_real(version)
    sysroot = assemble_sysroot()
    rustup_home, shim_dir = setup_rustup(sysroot)
    ours_src, commit = snapshot_ours()
    fresh_crate()
    ours_args = args.ours_args.split()
    tools = make_tools(args.unwind, real_exe, ours_src, rustup_home, shim_dir, ours_args)

    results: dict[str, Any] = {
        "mode": "--panic-unwind" if args.unwind else "default (panic=abort)",
        "real": f"worker-build {version} (crates.io)",
        "ours": f"worker-build at {commit} {' '.join(ours_args)}".rstrip(),
        "toolchain": f"rustc {rustc_release()} (Debian) + precompiled wasm32 std, rustup-linked",
        "nproc": os.cpu_count(),
        "scenarios": {},
    }
    Scenario = Callable[[list[Tool], int], dict[str, list[Sample]]]
    scenarios: dict[str, tuple[Scenario, int]] = {
        "help": (scenario_help, args.help_runs),
        "noop": (scenario_noop, args.runs),
        "touch": (scenario_touch, args.runs),
        "edit": (scenario_edit, args.runs),
        "cold": (scenario_cold, args.cold_runs),
    }
    for name in args.scenarios.split(","):
        fn, runs = scenarios[name]
        load_before = loadavg()
        log(f"{name}: {runs} runs per tool (load {load_before})")
        times = fn(tools, runs)
        wall = {tool: statistics.median(s.wall for s in ts) for tool, ts in times.items()}
        cpu = {tool: statistics.median(s.cpu for s in ts) for tool, ts in times.items()}
        results["scenarios"][name] = {
            "runs": {tool: [dataclasses.asdict(s) for s in ts] for tool, ts in times.items()},
            "median_wall": wall,
            "median_cpu": cpu,
            "ratio_wall": wall["ours"] / wall["real"],
            "ratio_cpu": cpu["ours"] / cpu["real"] if cpu["real"] else None,
            "load_before": load_before,
            "load_after": loadavg(),
        }
    if not args.no_compare:
        log("comparing outputs in workerd...")
        results["outputs"] = compare_outputs(tools)
    set_text(None)

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
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
