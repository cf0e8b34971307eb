"""Benchmark: acquiring wasm-bindgen, wasm-opt and esbuild on a fresh cache.

    .venv/bin/python benchmarks/tool_fetch.py [-n 5] [--cargo-install]

The real GitHub is not reachable here, so the release archives are served from
a loopback mirror (harness/mirror.py) at their real sizes, repacked from what this
machine has: wasm-bindgen 0.2.130's three binaries from worker-build's cache
(setup.sh installs them), binaryen 132 from npm's `binaryen` package (the npm
build, about the size of the native release; its `bin/wasm-opt` runs on Node
and reports version 132), esbuild from `@esbuild/linux-x64` in node_modules.
Each has its checksum file (or npm integrity) beside it, so the whole path runs:
checksum, streamed download, sha256/sha512, unpack with the safety checks,
`--version` of the unpacked binary, rename into the cache.

Each round runs, in an order rotated per round:
* `download (ours)`: a fresh process resolving the three tools with a fresh
  WORKER_BUILD_CACHE (what a user's first build pays), and per tool inside it;
* `npm install binaryen` / `npm install esbuild`: the fallback installers, fresh
  prefix each time (real npm registry; npm's own cache is warm);
* esbuild downloaded by us from the real registry.npmjs.org (the same network as
  npm install esbuild);
* the npm stand-in wasm-opt's `--version` alone (part of "ours", see above);
and once, with --cargo-install, `cargo install wasm-bindgen-cli` into a fresh
root (cold compile; minutes, both cores: run it on a quiet machine). Without it
the script prints the figure measured earlier, with its date and load.

The medians and the machine's load average (before and after) are printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness.machine import loadavg
from harness.mirror import Mirror, serving, sha256sum_line
from harness.paths import REPO
from worker_build.tools import prebuilt, resolve
from worker_build.util.cachedir import cache_root

BINDGEN = "0.2.130"
# Measured once on this kind of machine (2 cores), not in this run.
CARGO_INSTALL_CITED = (
    "cargo install wasm-bindgen-cli 0.2.130: 4-5 min on a fresh machine "
    "(issue 11, measured 2026-11; TOOLCHAIN.md: the whole first setup incl. it ~5m45s, "
    "2026-11-30)"
)

RESOLVE = """
import json, sys, time
from pathlib import Path
from worker_build.tools import resolve
t = {}
start = time.perf_counter()
for name, get in (
    ("wasm-bindgen", lambda: resolve.wasm_bindgen(sys.argv[1], resolve.InstallPolicy.ALLOW)),
    ("wasm-opt", lambda: resolve.wasm_opt(Path(sys.argv[2]), resolve.InstallPolicy.ALLOW)),
    ("esbuild", lambda: resolve.esbuild(Path(sys.argv[2]), resolve.InstallPolicy.ALLOW)),
):
    s = time.perf_counter()
    tool = get()
    t[name] = time.perf_counter() - s
    assert tool.source is resolve.Source.DOWNLOADED, tool
print(json.dumps(t))
"""

RESOLVE_ESBUILD = """
import sys
from pathlib import Path
from worker_build.tools import resolve
tool = resolve.esbuild(Path(sys.argv[1]), resolve.InstallPolicy.ALLOW)
assert tool.source is resolve.Source.DOWNLOADED, tool
"""


def tgz(top: str, source: Path, names: list[str] | None = None) -> bytes:
    """Repack `source` (or the `names` in it) under `top/`, as a release archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source, arcname=top, recursive=names is None)
        for name in names or []:
            tar.add(source / name, arcname=f"{top}/{name}")
    return buffer.getvalue()


def publish(mirror: Mirror) -> dict[str, int]:
    """The three archives at their upstream paths; returns their sizes."""
    wb_dir = cache_root() / "wasm-bindgen" / BINDGEN / "bin"
    if not (wb_dir / "wasm-bindgen").is_file():
        raise SystemExit(f"{wb_dir}/wasm-bindgen missing: run ./setup.sh first")
    target = prebuilt.WASM_BINDGEN_TARGETS[prebuilt.host()]
    wb_name = f"wasm-bindgen-{BINDGEN}-{target}.tar.gz"
    wb = tgz(
        wb_name.removesuffix(".tar.gz"),
        wb_dir,
        ["wasm-bindgen", "wasm-bindgen-test-runner", "wasm2es6js"],
    )
    mirror.file(f"/wb/{BINDGEN}/{wb_name}", wb)
    mirror.file(f"/wb/{BINDGEN}/{wb_name}.sha256sum", sha256sum_line(wb, wb_name))

    major = resolve.BINARYEN_MAJOR
    bn_name = f"binaryen-version_{major}-{prebuilt.BINARYEN_TARGETS[prebuilt.host()]}.tar.gz"
    bn = tgz(f"binaryen-version_{major}", REPO / "node_modules" / "binaryen")
    mirror.file(f"/binaryen/version_{major}/{bn_name}", bn)
    mirror.file(f"/binaryen/version_{major}/{bn_name}.sha256", sha256sum_line(bn, bn_name))

    plat = prebuilt.ESBUILD_PLATFORMS[prebuilt.host()]
    version = resolve.ESBUILD_VERSION
    eb = tgz("package", REPO / "node_modules" / "@esbuild" / plat)
    sri = "sha512-" + base64.b64encode(hashlib.sha512(eb).digest()).decode()
    mirror.file(
        f"/npm/@esbuild/{plat}/{version}", json.dumps({"dist": {"integrity": sri}}).encode()
    )
    mirror.file(f"/npm/@esbuild/{plat}/-/{plat}-{version}.tgz", eb)
    return {"wasm-bindgen": len(wb), "wasm-opt": len(bn), "esbuild": len(eb)}


def run(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=5, help="rounds (default 5)")
    ap.add_argument("--cargo-install", action="store_true", help="also time one cold cargo install")
    args = ap.parse_args()
    load_before = loadavg()
    work = Path(tempfile.mkdtemp(prefix="tool-fetch-"))
    walls: dict[str, list[float]] = {}
    inner: dict[str, list[float]] = {}
    try:
        with serving(Mirror()) as mirror:
            sizes = publish(mirror)
            env = {
                **os.environ,
                prebuilt.WASM_BINDGEN_MIRROR_VAR: f"{mirror.base}/wb",
                prebuilt.BINARYEN_MIRROR_VAR: f"{mirror.base}/binaryen",
                prebuilt.NPM_REGISTRY_VAR: f"{mirror.base}/npm",
                # node for the npm-built wasm-opt's --version; no tool of ours on it
                "PATH": "/usr/bin:/bin",
            }
            for var in ("WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN"):
                env.pop(var, None)
            real_npm_env = {k: v for k, v in env.items() if k != prebuilt.NPM_REGISTRY_VAR}
            real_npm_env.pop("npm_config_registry", None)
            crate = work / "crate"  # no node_modules above it
            crate.mkdir()
            npm = shutil.which("npm") or "npm"

            def npm_install(package: str, prefix: Path) -> tuple[float, str]:
                argv = [npm, "install", "--prefix", str(prefix), "--no-save", "--no-audit"]
                return run([*argv, "--no-fund", package], dict(os.environ), work)

            peers: dict[str, Callable[[Path], tuple[float, str]]] = {
                "download (ours)": lambda d: run(
                    [sys.executable, "-c", RESOLVE, BINDGEN, str(crate)],
                    {**env, "WORKER_BUILD_CACHE": str(d)},
                    crate,
                ),
                "npm install binaryen (fallback)": lambda d: npm_install(
                    f"binaryen@{resolve.BINARYEN_VERSION}", d
                ),
                "npm install esbuild (fallback)": lambda d: npm_install(
                    f"esbuild@{resolve.ESBUILD_VERSION}", d
                ),
                # the same registry npm uses, so this pair compares like with like
                "esbuild from registry.npmjs.org (ours)": lambda d: run(
                    [sys.executable, "-c", RESOLVE_ESBUILD, str(crate)],
                    {**real_npm_env, "WORKER_BUILD_CACHE": str(d)},
                    crate,
                ),
                # part of "ours": the check runs the stand-in's --version on Node
                "stand-in wasm-opt --version": lambda _d: run(
                    [str(REPO / "node_modules" / "binaryen" / "bin" / "wasm-opt"), "--version"],
                    env,
                    work,
                ),
            }
            names = list(peers)
            for rnd in range(args.n):
                for name in names[rnd % len(names) :] + names[: rnd % len(names)]:
                    fresh = work / f"{rnd}-{names.index(name)}"
                    wall, out = peers[name](fresh)
                    walls.setdefault(name, []).append(wall)
                    if name == "download (ours)":
                        for tool, seconds in json.loads(out).items():
                            inner.setdefault(tool, []).append(seconds)
                    shutil.rmtree(fresh, ignore_errors=True)
            cargo_line = CARGO_INSTALL_CITED
            if args.cargo_install:
                root = work / "cargo-root"
                wall, _ = run(
                    ["nice", "-n", "10", "cargo", "install", "wasm-bindgen-cli", "--version",
                     BINDGEN, "--root", str(root), "--locked"],
                    dict(os.environ), work,
                )  # fmt: skip
                walls["cargo install wasm-bindgen-cli (cold)"] = [wall]
                cargo_line = "cargo install measured in this run (1 run)"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = loadavg()

    print(f"tool acquisition on a fresh cache, {args.n} rounds, medians (wall)")
    mib = {k: f"{v / (1 << 20):.1f} MiB" for k, v in sizes.items()}
    print(f"archives from loopback: {', '.join(f'{k} {v}' for k, v in mib.items())}")
    ours = statistics.median(walls["download (ours)"])
    print(f"{'what':45} {'median':>9}  {'vs ours':>8}  runs")
    for name, values in walls.items():
        med = statistics.median(values)
        print(f"{name:45} {med:8.2f}s  {med / ours:7.2f}x  {len(values)}")
    for tool, values in inner.items():
        print(f"  {tool + ' (inside ours)':43} {statistics.median(values):8.2f}s")
    version = statistics.median(walls["stand-in wasm-opt --version"])
    print(
        f"  (of wasm-opt's time, {version:.2f}s is the npm stand-in's --version check on "
        "Node; binaryen's native wasm-opt answers it in milliseconds)"
    )
    wb = statistics.median(inner["wasm-bindgen"])
    if "cargo install wasm-bindgen-cli (cold)" in walls:
        cargo = walls["cargo install wasm-bindgen-cli (cold)"][0]
        print(f"wasm-bindgen: download {wb:.2f}s vs cargo install {cargo:.0f}s "
              f"({cargo / wb:.0f}x)")  # fmt: skip
    else:
        print(f"wasm-bindgen: download {wb:.2f}s vs {cargo_line}: "
              f"about {240 / wb:.0f}-{300 / wb:.0f}x")  # fmt: skip
    print(f"load average (1/5/15 min) before {load_before}, after {load_after}; 2 cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
