"""The checks of `worker-build doctor`: would a build work here?

In the order a build needs them: the crate (Cargo.toml, Cargo.lock) and
its `[package.metadata.worker-build]` settings; the Rust toolchain the build
would pick, its wasm32 standard library (precompiled or std sources for
-Zbuild-std), the wasm32 target in its LLVM and the `rust-lld` linker;
wasm-bindgen at the version Cargo.lock locks; wasm-opt and esbuild. Then what
local runs need and a build does not: node, workerd, wrangler.

It never installs or builds anything. The tools' rows are cli/doctor_tools.py's:
a tool the first build would fetch by itself is a warning, not a failure. Each
check is a row with the exact fix for its gap and the exit code the build would
fail with; cli/doctor.py runs them in order and prints them.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from worker_build.build import crate as crate_mod
from worker_build.build import options as options_mod
from worker_build.build.crate import Crate
from worker_build.build.options import BuildOptions, RawArgs
from worker_build.errors import (
    EXIT_OK,
    EXIT_TOOLCHAIN,
    ToolchainError,
    ToolMissingError,
    WorkerBuildError,
)
from worker_build.rust import compile_cache, stdcache, toolchain
from worker_build.rust.flags import EhEncoding, build_std_flag
from worker_build.rust.toolchain import WASM_TARGET, StdSource, Toolchain
from worker_build.tools import sccache
from worker_build.util import proc
from worker_build.util.cachedir import cache_root

# Oldest Node release of each line that runs the exnref exception-handling encoding
# (older ones, Node 20 among them, reject a module using it: "Invalid opcode 0x1f").
NODE_EXNREF = ((22, 22, 3), (24, 15, 0), (25, 0, 0))


class Status(Enum):
    OK = "ok"
    WARN = "warn"  # a build works; worth knowing (e.g. the first build installs a tool)
    MISSING = "missing"  # a build would fail
    BROKEN = "broken"  # a cached tool that no longer runs (exit_code: whether a build fails)
    ABSENT = "absent"  # optional (local runs only) and not there
    SKIPPED = "skipped"  # cannot be checked until an earlier problem is fixed


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    exit_code: int = EXIT_OK  # for MISSING: what the build would exit with

    @property
    def blocking(self) -> bool:
        return self.status is Status.MISSING or (
            self.status is Status.BROKEN and self.exit_code != EXIT_OK
        )


def missing(name: str, exc: WorkerBuildError, exit_code: int | None = None) -> Check:
    return Check(name, Status.MISSING, exc.message, exc.fix, exit_code or exc.exit_code)


# --- the crate ----------------------------------------------------------------------------


def check_crate(
    path: Path, panic_unwind: bool
) -> tuple[list[Check], Crate | None, BuildOptions | None]:
    try:
        manifest = crate_mod.read_manifest(path)
        found = crate_mod.read_lock(manifest)
    except WorkerBuildError as exc:
        return [missing("crate", exc)], None, None
    crate = found if isinstance(found, Crate) else None
    if isinstance(found, crate_mod.LockNeeded):
        detail = (
            f"{found.problem}: the build has cargo write it first (`cargo update --workspace`,"
            " as the Rust tool's `cargo metadata` does); that tells the wasm-bindgen version"
        )
        checks = [
            Check("crate", Status.WARN, detail, "run `cargo update --workspace` to write it now")
        ]
    else:
        worker = (
            f"worker {found.worker_version}" if found.worker_version else "no worker dependency"
        )
        detail = (
            f"{found.package_name}: {worker}, wasm-bindgen {found.wasm_bindgen_version} "
            f"(locked in {found.lockfile})"
        )
        checks = [Check("crate", Status.OK, detail)]
    raw = RawArgs(path=manifest.root, panic_unwind=True if panic_unwind else None)
    try:
        opts = options_mod.resolve(raw, manifest.root, manifest.metadata)
    except WorkerBuildError as exc:
        return [*checks, missing("config", exc)], crate, None
    source = (
        "--panic-unwind"
        if panic_unwind
        else ("[package.metadata.worker-build]" if opts.panic_unwind else "default")
    )
    mode = "unwind" if opts.panic_unwind else "abort"
    detail = (
        f"{opts.profile.name} build, panic={mode} ({source})"
        f"{', EH encoding ' + opts.eh_encoding.value if opts.panic_unwind else ''}, "
        f"output {opts.out_dir}"
    )
    return [*checks, Check("config", Status.OK, detail)], crate, opts


# --- the Rust toolchain -----------------------------------------------------------------------


def _lld_candidates(tc: Toolchain) -> list[Path]:
    """Where rustc finds `rust-lld`: its own rustlib bin dirs, then PATH."""
    found = sorted((tc.sysroot / "lib" / "rustlib").glob("*/bin/rust-lld"))
    found += sorted((tc.sysroot / "lib" / "rustlib").glob("*/bin/gcc-ld/rust-lld"))
    on_path = shutil.which("rust-lld")
    if on_path:
        found.append(Path(on_path))
    return found


def check_toolchain(
    rustc: Path | None, unwind: bool, root: Path | None = None, use_std_cache: bool = True
) -> list[Check]:
    name = "rust toolchain"
    try:
        tc = toolchain.find_toolchain(rustc, unwind, root)
    except ToolchainError as exc:
        return [missing(name, exc)]
    except WorkerBuildError as exc:  # the rustc does not run at all
        return [missing(name, exc, EXIT_TOOLCHAIN)]
    detail = f"{tc.label}: {tc.rustc} + {tc.cargo}"
    if tc.rejected:
        detail += "; passed over: " + "; ".join(r.label for r in tc.rejected)
    checks = [Check(name, Status.OK, detail)]

    if tc.std_source is StdSource.PRECOMPILED:
        std = "precompiled wasm32 std (rustup target)"
    else:
        where = (
            f"once per key into the std cache ({stdcache.root()}), shared by every "
            "target directory,"
            if use_std_cache
            else "in the target directory"
        )
        std = (
            f"built from source ({toolchain.std_sources(tc.sysroot)}) {where} with "
            f"{build_std_flag(unwind)}"
        )
        if tc.needs_bootstrap:
            std += "; RUSTC_BOOTSTRAP=1 is set for it (not a nightly)"
    checks.append(Check("wasm32 std", Status.OK, std))

    try:
        targets = proc.run([tc.rustc, "--print", "target-list"]).stdout.split()
    except WorkerBuildError as exc:
        targets = []
        checks.append(missing("wasm32 target", exc, EXIT_TOOLCHAIN))
    else:
        if WASM_TARGET in targets:
            checks.append(Check("wasm32 target", Status.OK, f"rustc lists {WASM_TARGET}"))
        else:
            checks.append(
                Check(
                    "wasm32 target",
                    Status.MISSING,
                    f"{tc.rustc} does not list {WASM_TARGET} (its LLVM has no WebAssembly backend)",
                    "use a toolchain built with the WebAssembly target: rustup's, or Debian's "
                    "rustc-web (`apt-get install rustc-web cargo-web`)",
                    EXIT_TOOLCHAIN,
                )
            )

    lld = [p for p in _lld_candidates(tc) if p.is_file() and os.access(p, os.X_OK)]
    if lld:
        checks.append(Check("linker", Status.OK, f"rust-lld: {lld[0]}"))
    else:
        checks.append(
            Check(
                "linker",
                Status.MISSING,
                "rust-lld (the wasm32 linker) is neither in the toolchain nor on PATH "
                '(the build would fail with "linker `rust-lld` not found")',
                "install lld and make `rust-lld` run it (Debian rustc-web: "
                "`apt-get install rust-web-llvm lld-22`); rustup toolchains ship it",
                EXIT_TOOLCHAIN,
            )
        )
    return checks


# --- the compile cache ---------------------------------------------------------------------------


def check_compile_cache(opts: BuildOptions | None, root: Path, rust_version: str | None) -> Check:
    """Where dependencies would be compiled and what compiles them (rust/compile_cache/):
    a storage configured but no sccache is a warning (the build works, shares less)."""
    name = "compile cache"
    if opts is not None and not opts.compile_cache:
        return Check(name, Status.OK, "off (compile-cache = false): cargo as it is")
    try:
        seen = compile_cache.outlook(
            cache_root(),
            crate_root=root,
            rust_version=rust_version or "0",
            cargo_args=opts.cargo_args if opts is not None else (),
            environ=os.environ,
        )
    except ToolMissingError as exc:
        return missing(name, exc)
    detail = f"{seen.wrapper}; dependencies compile in {seen.build_dir}"
    if seen.sccache_missing is not None:
        return Check(name, Status.WARN, detail, sccache.FIX)
    return Check(name, Status.OK, detail)


def rust_version(rustc: Path | None, unwind: bool, root: Path) -> str | None:
    """The version of the toolchain a build would use (discovery's answers are cached)."""
    try:
        return toolchain.find_toolchain(rustc, unwind, root).version
    except WorkerBuildError:
        return None


# --- local runs: node, workerd, wrangler ---------------------------------------------------------


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(g) for g in match.groups()) if match else ()


def node_runs_exnref(version: tuple[int, ...]) -> bool:
    if not version:
        return False
    return any(version[0] == floor[0] and version >= floor for floor in NODE_EXNREF) or (
        version[0] > NODE_EXNREF[-1][0]
    )


def check_node(eh: EhEncoding | None) -> Check:
    path = shutil.which("node")
    fix = "install Node.js (22.12 or later: wrangler's minimum)"
    if path is None:
        return Check(
            "node",
            Status.ABSENT,
            "node is not on PATH (needed by wrangler and by npm-installed wasm-opt)",
            fix,
        )
    try:
        text = proc.run([path, "--version"]).stdout.strip()
    except WorkerBuildError as exc:
        return Check("node", Status.ABSENT, f"{path} does not run: {exc.message}", fix)
    version = _version_tuple(text)
    exnref = node_runs_exnref(version)
    detail = f"{text}: {path}; runs legacy EH" + (
        ", exnref EH" if exnref else " (exnref EH needs 22.22.3+, 24.15.0+ or 25+)"
    )
    if eh is EhEncoding.EXNREF and not exnref:
        return Check(
            "node",
            Status.WARN,
            f"{detail}; this crate builds exnref, which this node cannot run locally",
            "use Node 22.22.3+/24.15.0+/25+ for local runs, or workerd",
        )
    return Check("node", Status.OK, detail)


def _local_bin(name: str, root: Path) -> Path | None:
    for directory in (root, *root.parents):
        candidate = directory / "node_modules" / ".bin" / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def check_local_tool(name: str, root: Path, package: str) -> Check:
    fix = f"`npm install --save-dev {package}` in the project (for local runs only)"
    path = _local_bin(name, root)
    if path is None:
        return Check(name, Status.ABSENT, f"{name} not found in node_modules/.bin or on PATH", fix)
    try:
        result = proc.run([path, "--version"], env={"WRANGLER_SEND_METRICS": "false"}, check=False)
    except WorkerBuildError as exc:
        return Check(name, Status.ABSENT, f"{path} does not run: {exc.message}", fix)
    text = (result.stdout + result.stderr).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if result.returncode != 0:
        need = re.search(r"requires at least Node\.js v?(\d+\.\d+\.\d+)", text)
        hint = (
            f"install Node.js {need.group(1)} or later and put it first on PATH"
            if need
            else f"reinstall {package}"
        )
        return Check(name, Status.WARN, f"{path} fails: {first}", hint)
    return Check(name, Status.OK, f"{first}: {path}")
