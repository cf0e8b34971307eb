"""The Rust toolchain our worker-build and the real one both build with when compared
(benchmarks/compare_real.py, load.py, std_cache.py and compat/workers_rs_suite.py).

Everything lives under .cache/bench/ (git-ignored) and is reused between runs:

- Debian's rustc 1.96 (/usr/bin/rustc) with a sysroot of our own (.cache/bench/sysroot/)
  that holds a *precompiled* wasm32 std (panic=abort, optimized as rustup ships it: the
  std cache entry worker-build builds for a --dev build, see README "std cache"; host
  libraries and std sources are symlinks to Debian's), a `rustc` wrapper that adds
  `--sysroot` (unless the caller passes its own, as our std cache does), and Debian's
  cargo.
- It is linked into a private RUSTUP_HOME (.cache/bench/rustup-home) as `wb-bench` and
  selected with RUSTUP_TOOLCHAIN, so both tools find it through the ordinary rustup
  proxies exactly as they would on a user's machine; the machine's own rustup toolchains
  and default are never touched.
- For --panic-unwind the real tool runs `cargo +nightly` and checks rustup for nightly,
  `rust-src` and the wasm32 target. In the private RUSTUP_HOME `toolchains/nightly-<host>`
  is a symlink to the same sysroot (rustup refuses `toolchain link nightly`, a reserved
  name). rustup has no component manifest for such a toolchain, so `rustup component
  list --toolchain nightly` fails ("Missing manifest in toolchain
  'nightly-x86_64-unknown-linux-gnu'") and the real tool then runs `rustup component
  add rust-src --toolchain nightly`, which fails the same way and stops the build. A
  benchmark-only `rustup` shim first on PATH answers that one query from the
  toolchain's actual files (rust-src present iff lib/rustlib/src/rust/library/Cargo.lock
  exists) and passes everything else to the real rustup. RUSTC_BOOTSTRAP=1 is set for
  both tools (Debian's cargo is a stable 1.96 and needs it for `-Zbuild-std`).
- The same wasm-opt and esbuild for both (WASM_OPT_BIN, ESBUILD_BIN); callers add
  WASM_BINDGEN_BIN and CARGO_TARGET_DIR.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.machine import log
from harness.paths import BENCH, NODE_BIN, SAMPLES

DEBIAN_RUSTC = Path("/usr/bin/rustc")
DEBIAN_CARGO = Path("/usr/bin/cargo")
DEBIAN_RUSTLIB = Path("/usr/lib/rustlib")
HOST = "x86_64-unknown-linux-gnu"
WASM = "wasm32-unknown-unknown"
CARGO_BIN = Path.home() / ".cargo" / "bin"
TOOLCHAIN_NAME = "wb-bench"

# What a build must not inherit from the caller: each would select another compiler or
# tool, or change the build, for one of the two tools only.
_DROPPED_ENV = frozenset({
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
    # set machine-wide here, rarely by users: it makes every anyhow error of the real
    # tool (its --help path included) capture a backtrace
    "RUST_BACKTRACE",
})  # fmt: skip


def rustc_release() -> str:
    """Debian's rustc version, as `rustc -vV` says (`1.96.0`)."""
    out = subprocess.run(
        [str(DEBIAN_RUSTC), "-vV"], capture_output=True, text=True, check=True
    ).stdout
    return next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("release:")
    )


def _build_wasm_std() -> list[Path]:
    """A wasm32 std as rustup ships it precompiled (panic=abort, opt-level 3, one codegen
    unit, no debug assertions): the std cache entry worker-build itself builds for a
    panic=abort --dev build (its documented dev policy), built once if missing."""
    from harness.cargo import cargo_invocation
    from worker_build.build.options import RawArgs

    log("building a wasm32 std with worker-build's std cache (once)...")
    raw = RawArgs(path=SAMPLES / "hello-worker", dev=True, panic_unwind=False, rustc=DEBIAN_RUSTC)
    std = cargo_invocation(raw).context.std
    assert std is not None and std.entry is not None, "worker-build used no std cache entry"
    return sorted(std.entry.libdir.glob("lib*.rlib"))


RUSTC_WRAPPER = """#!/bin/sh
# Benchmark toolchain (harness/bench_toolchain.py): Debian's rustc with this sysroot,
# unless the caller names a sysroot itself (rustc rejects a second --sysroot; our
# std cache runs its compiler with its own).
for arg in "$@"; do
  case "$arg" in --sysroot|--sysroot=*) exec {rustc} "$@" ;; esac
done
exec {rustc} --sysroot "{sysroot}" "$@"
"""


def write_rustc_wrapper(sysroot: Path, rustc: Path = DEBIAN_RUSTC) -> None:
    """sysroot/bin/rustc: `rustc` with `--sysroot` this sysroot unless the caller names
    one (left alone when it already says so)."""
    wrapper = sysroot / "bin" / "rustc"
    # the real path: worktrees reach the shared sysroot through a symlink of their own
    real = sysroot.resolve()
    text = RUSTC_WRAPPER.replace("{rustc}", str(rustc)).replace("{sysroot}", str(real))
    if wrapper.is_file() and wrapper.read_text() == text:
        return
    # renamed into place: a build running on the shared sysroot never sees half a script
    staged = wrapper.with_name(f".rustc.{os.getpid()}")
    staged.write_text(text)
    staged.chmod(0o755)
    staged.replace(wrapper)


def assemble_sysroot() -> Path:
    """.cache/bench/sysroot, made again when Debian's rustc changed."""
    sysroot = BENCH / "sysroot"
    stamp = sysroot / ".stamp"
    want = f"rustc {rustc_release()}"
    if stamp.is_file() and stamp.read_text() == want:
        write_rustc_wrapper(sysroot)
        return sysroot
    rlibs = _build_wasm_std()
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
# Benchmark-only (see harness/bench_toolchain.py): rustup keeps no component manifest
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


def write_rustup_shim(shim_dir: Path, rustup: Path) -> None:
    """shim_dir/rustup: answers `component list --toolchain nightly` itself, passes
    everything else to `rustup`."""
    shim_dir.mkdir(parents=True, exist_ok=True)
    shim = shim_dir / "rustup"
    shim.write_text(RUSTUP_SHIM.replace("{rustup}", str(rustup)))
    shim.chmod(0o755)


@dataclass(frozen=True)
class BenchToolchain:
    rustup_home: Path  # `wb-bench` and `nightly-<host>`, both the sysroot
    shim_dir: Path  # holds the `rustup` shim, first on PATH for --panic-unwind

    def env(self, unwind: bool) -> dict[str, str]:
        """The environment both tools build in: this process's environment without the
        variables that would select another compiler or change the build, plus the
        private rustup home, the rustup shim for --panic-unwind, and the same wasm-opt
        and esbuild for both. Callers add WASM_BINDGEN_BIN and CARGO_TARGET_DIR."""
        base = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        path = [
            str(CARGO_BIN),
            *[p for p in base.get("PATH", "").split(os.pathsep) if p and p != str(CARGO_BIN)],
        ]
        if unwind:
            path.insert(0, str(self.shim_dir))
        base.update(
            PATH=os.pathsep.join(path),
            RUSTUP_HOME=str(self.rustup_home),
            RUSTUP_TOOLCHAIN=TOOLCHAIN_NAME,
            WASM_OPT_BIN=str(NODE_BIN / "wasm-opt"),
            ESBUILD_BIN=str(NODE_BIN / "esbuild"),
        )
        if unwind:
            base["RUSTC_BOOTSTRAP"] = "1"
        return base


def bench_toolchain() -> BenchToolchain:
    """The sysroot, linked into the private rustup home, and the rustup shim (each made
    once, checked on every call)."""
    sysroot = assemble_sysroot()
    home = BENCH / "rustup-home"
    toolchains = home / "toolchains"
    if not (toolchains / TOOLCHAIN_NAME).exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [str(CARGO_BIN / "rustup"), "toolchain", "link", TOOLCHAIN_NAME, str(sysroot)],
            env=dict(os.environ, RUSTUP_HOME=str(home)),
            text=True,
            check=True,
        )
    nightly = toolchains / f"nightly-{HOST}"
    if not nightly.is_symlink():
        nightly.symlink_to(sysroot)
    shim_dir = BENCH / "rustup-shim"
    write_rustup_shim(shim_dir, CARGO_BIN / "rustup")
    return BenchToolchain(home, shim_dir)
