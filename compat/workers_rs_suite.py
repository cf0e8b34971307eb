"""Run workers-rs's own integration suite against crates built by our worker-build
(and, side by side, by the real worker-build 0.8.7): issue 10, part 2.

    .venv/bin/python compat/workers_rs_suite.py --repo PATH              # ours, both modes
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --real       # ours and the real tool
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --check --baseline OLD.json
    .venv/bin/python compat/workers_rs_suite.py --repo PATH --modes test-panic-unwind --real

PATH (or env WORKERS_RS_REPO) is a git copy of cloudflare/workers-rs (a clone or a bare
git dir) that holds the pinned commit PINNED_COMMIT (`--commit` to try another). Nothing
of upstream is in our repository: everything below is made at run time under
.cache/workers-rs-suite/ (git-ignored) and reused by later runs.

1. Extract: `git archive <commit>` of the whole workspace (the sandbox crate `test/`
   is a member of the root workspace, with path dependencies on worker, worker-macros,
   worker-sys; cargo needs every member's manifest) into src-<commit>/.
2. Lock: upstream's Cargo.toml patches the wasm-bindgen crates to its `wasm-bindgen`
   git submodule, which `git archive` does not contain (and CI cannot fetch). The
   `[patch.crates-io]` section is removed and the same versions are taken from
   crates.io: the patched crates are pinned `=<locked version>` once so that cargo
   records them, then the manifest is restored (patch section still removed). The
   resulting Cargo.lock must lock exactly the same (name, version) set as upstream's,
   or the run stops. The wasm-bindgen CLI is then the locked version (0.2.127 at the
   pinned commit), resolved and installed by our own tool resolution
   (worker_build.tools.resolve), and given to the real tool as WASM_BINDGEN_BIN (it would
   otherwise download it from GitHub).
3. npm: NPM_PACKAGES (miniflare, vite, vitest, uuid; exact versions) into a private
   npm/ directory, linked as src-<commit>/node_modules; run with Node 22
   (.cache/node22, from setup.sh), which miniflare 4 needs.
4. For each mode, as the root package.json's scripts do (`cd test && NO_MINIFY=1
   worker-build <flags> && WORKERD_ALL_AUTOGATES=1 NODE_OPTIONS=--experimental-vm-modules
   npx vitest run`):
       test               --dev
       test-panic-unwind  --dev --panic-unwind
   and for each tool (ours first): delete test/build, build (nice -n 10, CARGO_TARGET_DIR
   per tool and mode, kept between runs), run vitest with its JSON reporter.
   Both tools build with the benchmark toolchain of benchmarks/compare_real.py (Debian's
   rustc 1.96 with a precompiled wasm32 std, linked into a private RUSTUP_HOME as
   `wb-bench` and `nightly`; the `rustup` shim for --panic-unwind), imported from there.
   Ours runs from a `git archive` snapshot of HEAD (compare_real.snapshot_ours), so
   uncommitted edits are not measured.
   One addition to upstream's NODE_OPTIONS: `--import compat/loopback.mjs`, which binds
   servers that listen on a bare port (mf-socket.ts's echo server, `listen(8080)`) to
   127.0.0.1 instead of every interface. The specs are run unchanged.
   vitest's timeout for tests that set none is 30 s (`--test-timeout MS`; upstream runs
   with vitest's default 5 s, which a slow machine misses: see DEFAULT_TEST_TIMEOUT_MS).
   Specs that fail are run once more (`--reruns N`, default 1; 0 turns it off): on a
   busy 2-core machine a workerd start or a 5 s test timeout is sometimes missed. A
   spec that passes only then shows as "pass .., run 2" with the first run's failure.
5. Report: a markdown table (spec x mode x tool), one line per failed test with its
   message, and a JSON file (default .cache/workers-rs-suite/results.json, or --json)
   with every test's outcome, the timings of each part and the machine load.

--check: exit 1 when a spec that passes with the real tool fails with ours, in any mode
that both ran. The real tool's results come from this run (--real) or from the JSON of an
earlier run (--baseline FILE). Exit 2: bad arguments or a set-up step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(HERE))

import compare_real  # noqa: E402  (benchmarks/compare_real.py: the shared toolchain set-up)
import suite_report  # noqa: E402
from suite_report import SpecOutcome  # noqa: E402

from worker_build.tools import resolve  # noqa: E402
from worker_build.tools.tool import InstallPolicy, Source  # noqa: E402

PINNED_COMMIT = "bb141710ebcf38b5a61c6e8f1d1c20c3dd2f3f6d"  # 2026-08-20, HEAD of the snapshot
REAL_VERSION = "0.8.7"
# Exact versions: miniflare as upstream's package-lock.json; vite/vitest the newest this
# machine's registry serves for Node 22 (upstream locks vitest 4.1.11, vite 8.2.1).
NPM_PACKAGES = ("miniflare@4.20260730.0", "vite@8.3.8", "vitest@4.1.12", "uuid@14.0.2")
MODES: dict[str, tuple[str, ...]] = {
    "test": ("--dev",),
    "test-panic-unwind": ("--dev", "--panic-unwind"),
}
TOOLS = ("ours", "real")
CACHE = REPO / ".cache" / "workers-rs-suite"
NODE22 = REPO / ".cache" / "node22" / "node_modules" / ".bin" / "node"
LOOPBACK = HERE / "loopback.mjs"
# Bump when the way a source tree is prepared changes: older trees are then rebuilt.
PREP_VERSION = "1"
BUILD_TIMEOUT = 3 * 3600
VITEST_TIMEOUT = 30 * 60
NPM_TIMEOUT = 15 * 60
# vitest's default is 5 s. On 2 shared cores r2.spec.ts "delete" (1,000 R2 puts in one
# request) took 5-9 s with either tool's build (4 alternating runs each, load 5-7), so at
# 5 s it failed or passed by luck for both; tests that set a timeout (panic.spec.ts:
# 20 s) keep theirs.
DEFAULT_TEST_TIMEOUT_MS = 30_000


class SetupError(Exception):
    """A step before the suite runs failed; the message says what to do."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def timed(timings: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[key] = round(time.perf_counter() - start, 1)


def run_logged(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, timeout: float
) -> int:
    """Run to completion with stdout+stderr to `log_path`; the process group is killed
    when `timeout` passes (returns -SIGKILL then)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as fh:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return proc.wait(timeout=timeout)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            fh.write(f"\n[workers_rs_suite] killed after {timeout:.0f} s or interrupted\n")
            raise


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ------------------------------------------------------------------------------ source tree


def patched_crates(manifest: str) -> list[str]:
    return sorted(tomllib.loads(manifest).get("patch", {}).get("crates-io", {}))


def drop_patch_section(manifest: str) -> str:
    """The manifest without its `[patch.crates-io]` table (up to the next table header
    or the end); everything else byte for byte."""
    match = re.search(r"^\[patch\.crates-io\][^\n]*\n", manifest, re.M)
    if match is None:
        return manifest
    rest = manifest[match.end() :]
    following = re.search(r"^\[", rest, re.M)
    end = match.end() + following.start() if following else len(manifest)
    return manifest[: match.start()] + manifest[end:]


def pin_workspace_deps(manifest: str, pins: Mapping[str, str]) -> str:
    """`name = { version = "X", ... }` / `name = "X"` under [workspace.dependencies] ->
    version "=pin". Every name in `pins` must be there."""
    table = re.search(r"^\[workspace\.dependencies\][^\n]*\n", manifest, re.M)
    if table is None:
        raise SetupError("the root Cargo.toml has no [workspace.dependencies] table")
    following = re.search(r"^\[", manifest[table.end() :], re.M)
    end = table.end() + following.start() if following else len(manifest)
    body = manifest[table.end() : end]
    for name, version in pins.items():
        key = re.escape(name)
        new, n = re.subn(
            rf'^({key}\s*=\s*(?:\{{[^\n]*?version\s*=\s*)?")[^"]*"',
            rf'\g<1>={version}"',
            body,
            count=1,
            flags=re.M,
        )
        if n != 1:
            raise SetupError(f"cannot pin {name}: not a versioned [workspace.dependencies] entry")
        body = new
    return manifest[: table.end()] + body + manifest[end:]


def unsourced_versions(lock: str, names: list[str]) -> dict[str, str]:
    """Locked version of each patched crate (its lock entry has no `source`)."""
    found: dict[str, str] = {}
    for pkg in tomllib.loads(lock)["package"]:
        if pkg["name"] in names and "source" not in pkg:
            found[pkg["name"]] = pkg["version"]
    return found


def locked_set(lock: str) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in tomllib.loads(lock)["package"]}


def locked_version(lock: str, name: str) -> str:
    versions = {v for n, v in locked_set(lock) if n == name}
    if len(versions) != 1:
        raise SetupError(f"Cargo.lock locks {len(versions)} versions of {name}")
    return versions.pop()


def cargo_env() -> dict[str, str]:
    """Debian's cargo 1.96 for the lock step (rust-toolchain.toml asks rustup for 1.88,
    which is not installed here; this step compiles nothing)."""
    env = {k: v for k, v in os.environ.items() if k not in {"CARGO_TARGET_DIR", "RUSTFLAGS"}}
    env["RUSTC"] = str(compare_real.DEBIAN_RUSTC)
    return env


def relock(tree: Path) -> None:
    """Replace the submodule-patched wasm-bindgen crates by the same versions from
    crates.io (see the module docstring, step 2)."""
    manifest_path, lock_path = tree / "Cargo.toml", tree / "Cargo.lock"
    manifest, lock = manifest_path.read_text(), lock_path.read_text()
    names = patched_crates(manifest)
    if not names:
        return
    pins = unsourced_versions(lock, names)
    unpatched = drop_patch_section(manifest)
    pinnable = {
        n: v for n, v in pins.items() if re.search(rf"^{re.escape(n)}\s*=", unpatched, re.M)
    }
    manifest_path.write_text(pin_workspace_deps(unpatched, pinnable))
    argv = [str(compare_real.DEBIAN_CARGO), "metadata", "--format-version", "1"]
    proc = subprocess.run(argv, cwd=tree, env=cargo_env(), capture_output=True, text=True)
    manifest_path.write_text(unpatched)
    if proc.returncode != 0:
        raise SetupError(f"cargo could not lock the crates.io wasm-bindgen:\n{proc.stderr[-3000:]}")
    proc = subprocess.run(argv, cwd=tree, env=cargo_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(f"cargo metadata failed after relocking:\n{proc.stderr[-3000:]}")
    before, after = locked_set(lock), locked_set(lock_path.read_text())
    if before != after:
        raise SetupError(
            "relocking changed the locked versions: "
            f"lost {sorted(before - after)}, gained {sorted(after - before)}"
        )


def ensure_tree(repo: Path, commit: str, timings: dict[str, float]) -> Path:
    """The prepared source tree of `commit` (made once, reused while PREP_VERSION holds)."""
    tree = CACHE / f"src-{commit[:12]}"
    stamp = tree / ".workers-rs-suite"
    if stamp.is_file() and stamp.read_text() == PREP_VERSION:
        return tree
    check = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True
    )
    if check.returncode != 0:
        raise SetupError(
            f"commit {commit} is not in {repo} (fetch it there, or pass --repo a "
            "copy of cloudflare/workers-rs that has it)"
        )
    staging = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with timed(timings, "extract"):
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(staging)], input=archive, check=True)
    if not (staging / "test" / "Cargo.toml").is_file():
        raise SetupError(f"{commit} has no test/Cargo.toml: not a workers-rs commit with its suite")
    with timed(timings, "relock"):
        relock(staging)
    (staging / "node_modules").symlink_to(CACHE / "npm" / "node_modules")
    (staging / ".workers-rs-suite").write_text(PREP_VERSION)
    shutil.rmtree(tree, ignore_errors=True)
    staging.rename(tree)
    return tree


def spec_files(tree: Path) -> list[str]:
    return sorted(p.name for p in (tree / "test" / "tests").glob("*.spec.ts"))


# ------------------------------------------------------------------------------ npm


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(NODE22.parent), env.get("PATH", "")])
    return env


def ensure_npm(timings: dict[str, float]) -> None:
    """NPM_PACKAGES in .cache/workers-rs-suite/npm (installed once per package list)."""
    npm_dir = CACHE / "npm"
    stamp = npm_dir / ".packages"
    want = "\n".join(NPM_PACKAGES)
    if stamp.is_file() and stamp.read_text() == want:
        return
    if not NODE22.is_file():
        raise SetupError(f"Node 22 is missing at {NODE22} (run ./setup.sh)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    deps = dict(spec.rsplit("@", 1) for spec in NPM_PACKAGES)
    (npm_dir / "package.json").write_text(
        json.dumps({"private": True, "type": "module", "dependencies": deps}, indent=2) + "\n"
    )
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm is not on PATH (install Node.js and npm)")
    with timed(timings, "npm install"):
        code = run_logged(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=npm_dir,
            env=node_env(),
            log_path=npm_dir / "install.log",
            timeout=NPM_TIMEOUT,
        )
    if code != 0:
        raise SetupError(f"npm install failed ({code}):\n{tail(npm_dir / 'install.log')}")
    stamp.write_text(want)


# ------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class ToolSetup:
    name: str
    argv: list[str]
    label: str
    extra_env: dict[str, str]


@dataclass
class RunResult:
    tool: str
    mode: str
    flags: tuple[str, ...]
    build_exit: int
    build_seconds: float
    build_warm: bool
    vitest_exit: int | None
    vitest_seconds: float
    specs: dict[str, SpecOutcome]
    rerun: list[str] = field(default_factory=list)  # specs run more than once
    rerun_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "mode": self.mode,
            "flags": list(self.flags),
            "build": {
                "exit": self.build_exit,
                "seconds": self.build_seconds,
                "target_dir": "reused" if self.build_warm else "cold",
            },
            "vitest": {
                "exit": self.vitest_exit,
                "seconds": self.vitest_seconds,
                "rerun": self.rerun,
                "rerun_seconds": self.rerun_seconds,
            },
            "specs": {name: o.to_json() for name, o in self.specs.items()},
        }


def vitest_env(base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env["PATH"] = os.pathsep.join([str(NODE22.parent), env.get("PATH", "")])
    env["WORKERD_ALL_AUTOGATES"] = "1"
    env["NODE_OPTIONS"] = f"--experimental-vm-modules --import {LOOPBACK.as_uri()}"
    return env


def run_one(
    tree: Path,
    tool: ToolSetup,
    mode: str,
    toolchain: Mapping[str, str],
    vitest_args: list[str],
    reruns: int,
) -> RunResult:
    flags = MODES[mode]
    crate = tree / "test"
    out = CACHE / "runs" / f"{tool.name}-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    shutil.rmtree(crate / "build", ignore_errors=True)
    env = dict(toolchain, **tool.extra_env)
    target = CACHE / "target" / f"{tool.name}-{mode}"
    warm = (target / "wasm32-unknown-unknown").is_dir()
    env["CARGO_TARGET_DIR"] = str(target)
    env["NO_MINIFY"] = "1"
    specs = spec_files(tree)
    kind = "reusing its target dir" if warm else "cold target dir"
    log(f"{mode}: {tool.name}: building ({' '.join(flags)}; {kind}; load {loadavg()})...")
    start = time.perf_counter()
    code = run_logged(
        ["nice", "-n", "10", *tool.argv, *flags],
        cwd=crate,
        env=env,
        log_path=out / "build.log",
        timeout=BUILD_TIMEOUT,
    )
    build_seconds = round(time.perf_counter() - start, 1)
    if code != 0:
        log(f"{mode}: {tool.name}: build failed ({code}), see {out / 'build.log'}")
        log(tail(out / "build.log", 15))
        return RunResult(
            tool.name, mode, flags, code, build_seconds, warm, None, 0.0,
            suite_report.not_run(specs, f"build failed ({code}); see {out / 'build.log'}"),
        )  # fmt: skip
    log(f"{mode}: {tool.name}: built in {build_seconds:.0f} s; vitest (load {loadavg()})...")
    start = time.perf_counter()
    vitest_code, outcomes = run_vitest(crate, out, "vitest", [], toolchain, vitest_args, specs)
    vitest_seconds = round(time.perf_counter() - start, 1)
    rerun: list[str] = []
    for attempt in range(2, reruns + 2):
        again = suite_report.to_rerun(outcomes)
        if not again:
            break
        rerun += [s for s in again if s not in rerun]
        log(f"{mode}: {tool.name}: running again (run {attempt}): {' '.join(again)}")
        files = [f"tests/{s}" for s in again]
        _, new = run_vitest(
            crate, out, f"vitest-run{attempt}", files, toolchain, vitest_args, again
        )
        outcomes = suite_report.merge_rerun(outcomes, new)
    rerun_seconds = round(time.perf_counter() - start - vitest_seconds, 1)
    failed = sum(o.status not in suite_report.OK for o in outcomes.values())
    log(
        f"{mode}: {tool.name}: vitest {vitest_seconds:.0f} s (+{rerun_seconds:.0f} s again), "
        f"{failed} spec(s) not passing"
    )
    return RunResult(
        tool.name, mode, flags, code, build_seconds, warm, vitest_code, vitest_seconds, outcomes,
        rerun, rerun_seconds,
    )  # fmt: skip


def run_vitest(
    crate: Path,
    out: Path,
    name: str,
    files: list[str],
    toolchain: Mapping[str, str],
    vitest_args: list[str],
    specs: list[str],
) -> tuple[int, dict[str, SpecOutcome]]:
    """One `vitest run [files]` in the crate directory; the outcome of each of `specs`
    from its JSON report (out/NAME.json; the console output in out/NAME.log)."""
    report_path = out / f"{name}.json"
    vitest = CACHE / "npm" / "node_modules" / "vitest" / "vitest.mjs"
    code = run_logged(
        [
            "nice", "-n", "10", str(NODE22), str(vitest), "run",
            "--reporter=default", "--reporter=json", f"--outputFile.json={report_path}",
            *vitest_args, *files,
        ],
        cwd=crate,
        env=vitest_env(toolchain),
        log_path=out / f"{name}.log",
        timeout=VITEST_TIMEOUT,
    )  # fmt: skip
    if not report_path.is_file():
        why = f"vitest ({code}) wrote no report; see {out / name}.log"
        return code, suite_report.not_run(specs, why)
    return code, suite_report.parse_report(json.loads(report_path.read_text()), specs)


def load_baseline(path: Path, modes: list[str]) -> dict[str, dict[str, SpecOutcome]]:
    data = json.loads(path.read_text())
    found = {}
    for run in data.get("runs", []):
        if run["tool"] == "real" and run["mode"] in modes:
            found[run["mode"]] = {
                spec: SpecOutcome.from_json(spec, o) for spec, o in run["specs"].items()
            }
    if not found:
        raise SetupError(f"{path} holds no results of the real tool for {', '.join(modes)}")
    return found


def make_tools(names: list[str], wasm_bindgen: Path) -> tuple[list[ToolSetup], str]:
    ours_src, commit = compare_real.snapshot_ours()
    setups = []
    for name in names:
        if name == "ours":
            setups.append(
                ToolSetup(
                    "ours",
                    [str(compare_real.VENV_BIN / "worker-build")],
                    f"worker-build (Python) at {commit}",
                    {"PYTHONPATH": str(ours_src)},
                )
            )
        else:
            exe = compare_real.install_real(REAL_VERSION)
            setups.append(
                ToolSetup(
                    "real",
                    [str(exe)],
                    f"worker-build {REAL_VERSION} (crates.io)",
                    {"WASM_BINDGEN_BIN": str(wasm_bindgen)},
                )
            )
    return setups, commit


# ------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--repo",
        type=Path,
        default=os.environ.get("WORKERS_RS_REPO"),
        help="git copy of cloudflare/workers-rs (env WORKERS_RS_REPO)",
    )
    ap.add_argument("--commit", default=PINNED_COMMIT, help=f"default {PINNED_COMMIT[:12]}")
    ap.add_argument("--real", action="store_true", help="also build and run with the real tool")
    ap.add_argument("--no-ours", action="store_true", help="only the real tool (with --real)")
    ap.add_argument(
        "--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}"
    )
    ap.add_argument("--check", action="store_true", help="exit 1 on a spec real passes, ours not")
    ap.add_argument("--baseline", type=Path, help="real tool's results from an earlier --json")
    ap.add_argument("--json", type=Path, default=CACHE / "results.json", help="results file")
    ap.add_argument(
        "--reruns",
        type=int,
        default=1,
        help="run specs that failed again, up to N more times (default 1; 0: never)",
    )
    ap.add_argument(
        "--test-timeout",
        type=int,
        default=DEFAULT_TEST_TIMEOUT_MS,
        metavar="MS",
        help=f"vitest's timeout for tests that set none (default {DEFAULT_TEST_TIMEOUT_MS}; "
        "upstream runs with vitest's 5000)",
    )
    ap.add_argument(
        "--vitest-arg", action="append", default=[], help="extra vitest argument (repeatable)"
    )
    args = ap.parse_args(argv)
    args.vitest_arg = [f"--testTimeout={args.test_timeout}", *args.vitest_arg]
    args.modes = [m for m in args.modes.split(",") if m]
    for mode in args.modes:
        if mode not in MODES:
            ap.error(f"unknown mode {mode!r} (choose from {', '.join(MODES)})")
    if args.repo is None:
        ap.error("pass --repo PATH or set WORKERS_RS_REPO (a git copy of cloudflare/workers-rs)")
    if not re.fullmatch(r"[0-9a-f]{40}", args.commit):
        ap.error("--commit must be a full 40-digit commit id")
    if args.no_ours and not args.real:
        ap.error("--no-ours needs --real")
    if args.check and not (args.real or args.baseline):
        ap.error("--check needs the real tool's results: --real or --baseline FILE")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tool_names = [
        t for t in TOOLS if (t != "ours" or not args.no_ours) and (t != "real" or args.real)
    ]
    timings: dict[str, float] = {}
    load_before = loadavg()
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        tree = ensure_tree(args.repo.resolve(), args.commit, timings)  # first: checks the commit
        ensure_npm(timings)
        lock = (tree / "Cargo.lock").read_text()
        bindgen_version = locked_version(lock, "wasm-bindgen")
        with timed(timings, "wasm-bindgen"):
            bindgen = resolve.wasm_bindgen(bindgen_version, InstallPolicy.ALLOW)
        if bindgen.source is not Source.INSTALLED:
            del timings["wasm-bindgen"]  # only an install is worth reporting
        with timed(timings, "toolchain"):
            sysroot = compare_real.assemble_sysroot()
            rustup_home, shim_dir = compare_real.setup_rustup(sysroot)
        with timed(timings, "ours snapshot + real tool"):
            setups, commit = make_tools(tool_names, bindgen.path)
        baseline = load_baseline(args.baseline, args.modes) if args.baseline else {}
    except (SetupError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    results: list[RunResult] = []
    for mode in args.modes:
        toolchain = compare_real.toolchain_env(
            "--panic-unwind" in MODES[mode], rustup_home, shim_dir
        )
        for setup in setups:
            results.append(run_one(tree, setup, mode, toolchain, args.vitest_arg, args.reruns))

    by_run = {(r.mode, r.tool): r.specs for r in results}
    ours = {r.mode: r.specs for r in results if r.tool == "ours"}
    real = {r.mode: r.specs for r in results if r.tool == "real"} or baseline
    comparison = suite_report.compare(real, ours)
    document = {
        "upstream": {"repo": str(args.repo), "commit": args.commit},
        "tools": {s.name: s.label for s in setups},
        "ours_commit": commit,
        "wasm_bindgen": f"{bindgen.version} ({bindgen.path})",
        "npm": list(NPM_PACKAGES),
        "vitest_args": args.vitest_arg,
        "toolchain": f"rustc {compare_real.rustc_release()} (Debian) + precompiled wasm32 std",
        "machine": {"nproc": os.cpu_count(), "load_before": load_before, "load_after": loadavg()},
        "timings": timings,
        "runs": [r.to_json() for r in results],
        "regressions": [vars(d) for d in comparison.regressions],
        "improvements": [vars(d) for d in comparison.improvements],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2, default=list) + "\n")

    print(f"workers-rs {args.commit[:12]}: " + "; ".join(f"{s.name} = {s.label}" for s in setups))
    print(f"wasm-bindgen {bindgen.version}; npm {' '.join(NPM_PACKAGES)}\n")
    print(suite_report.render_table(by_run))
    failures = suite_report.render_failures(by_run)
    if failures:
        print("\nFailures:\n" + failures)
    done = ", ".join(f"{k} {v}" for k, v in timings.items())
    print(f"\nTimings (s): {done or 'set-up all cached'}")
    for r in results:
        print(
            f"  {r.mode}: {r.tool}: build {r.build_seconds} "
            f"({'reused' if r.build_warm else 'cold'} target dir, exit {r.build_exit}), "
            f"vitest {r.vitest_seconds} (exit {r.vitest_exit})"
            + (f", again {r.rerun_seconds} ({' '.join(r.rerun)})" if r.rerun else "")
        )
    print(
        f"load (1/5/15 min) {load_before} -> {loadavg()}; {os.cpu_count()} cores; json: {args.json}"
    )
    if real and ours:
        for d in comparison.regressions:
            print(f"REGRESSION {d.mode}: {d.spec}: real {d.real}, ours {d.ours}; {list(d.tests)}")
        for d in comparison.improvements:
            print(f"better than real {d.mode}: {d.spec}: real {d.real}, ours {d.ours}")
    if args.check and not comparison.ok:
        return 1
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # the running build or vitest was killed with its group
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
