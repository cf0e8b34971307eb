"""Step: the wasm32 std the crate links against (issue 11 part 1).

- The toolchain has a precompiled wasm32 std and the build is panic=abort: it is used.
- Otherwise std comes from the shared std cache (rust/stdcache/): found by its key, or
  built once for it (minutes; every later build with the same key, in any target
  directory, skips it). The cargo step then runs the entry's rustc wrapper.
- Where the cache cannot stand for `-Zbuild-std` (cargo's unit graph fails, a custom
  codegen backend, a `--sysroot` of the user's own in the rustflags), the cargo step
  builds std with `-Zbuild-std` as the real worker-build does, and a note says why.
This step is in the plan unless `--no-std-cache` / `std-cache = false`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from worker_build.build.context import BuildContext
from worker_build.build.options import DEV
from worker_build.build.steps import cargo
from worker_build.errors import CommandFailedError
from worker_build.rust import stdcache
from worker_build.rust.cargo_messages import messages
from worker_build.rust.flags import std_crates
from worker_build.rust.stdcache import Entry, StdMode, StdSettings, StdUse
from worker_build.rust.toolchain import WASM_TARGET, StdSource
from worker_build.util import proc


def manifests(crate_manifest: Path, workspace_root: Path) -> list[Path]:
    """The crate's Cargo.toml and every one above it up to the workspace root (whose
    `[profile]` tables are the ones cargo applies)."""
    found = [crate_manifest]
    for directory in crate_manifest.parent.parents:
        if not directory.is_relative_to(workspace_root):
            break
        if (directory / "Cargo.toml").is_file():
            found.append(directory / "Cargo.toml")
    return found


def host_prebuild_command(cargo_argv: list[str]) -> list[str]:
    """The crate's own cargo command with `--keep-going` (see HostPrebuild)."""
    if "--keep-going" in cargo_argv:
        return list(cargo_argv)
    return [*cargo_argv[:2], "--keep-going", *cargo_argv[2:]]


class HostPrebuild:
    """The crate's own build, started while a std cache entry is built, as -Zbuild-std
    overlaps std with the host work. With `--keep-going`, cargo compiles (and runs) every
    host unit, proc-macros and build scripts, exactly as the crate's build needs them,
    while each wasm32 unit fails for want of std and is left to the crate's build.
    A `cargo build -p <proc-macro>` would not do: a root unit gets the profile itself
    instead of build-override, and `-p` selects other features (syn's, say), so the
    crate's build compiled all of them again (about 40 s of CPU for hello-worker).
    It runs through the staged entry's rustc: the same `-vV`, so the same fingerprints.

    Build scripts of wasm32 units run too, and one that probes the target (autocfg in
    num-traits: can the target compile `f64::total_cmp`?) asks a sysroot that has no
    std yet, so every probe fails. Cargo would keep those answers: num-traits would
    compile without its `has_total_cmp` cfg, unlike in any later build, and sccache's
    keys for it and its dependents (chrono, worker) would differ between the machine
    that built the entry and every other. So whatever happens to the prebuild, each
    wasm32 build script it ran is forgotten, and the crate's build runs it again."""

    def __init__(self, ctx: BuildContext, staged: Entry, packages: tuple[str, ...]) -> None:
        options, tc = ctx.options, ctx.need_toolchain()
        use = StdUse(StdMode.CACHE, staged)
        self.packages = packages
        # in the build directory the crate's build will use (the compile cache's)
        cache = ctx.compile_cache
        self.argv = host_prebuild_command(cargo.command(options, tc, use, cache))
        self.env = cargo.environment(options, tc, use, cache)
        self.cwd = ctx.need_crate().root
        self.job: proc.Background | None = None
        self.start_time = 0.0

    def start(self) -> None:
        if self.packages:
            self.start_time = time.monotonic()
            self.job = proc.Background(self.argv, env=self.env, cwd=self.cwd)

    def stop(self) -> None:
        if self.job is not None:
            forget_target_script_runs(self.job.stop())

    def finish(self) -> dict[str, Any]:
        """Wait for it. It fails by design (the wasm32 units); what it compiled, the
        crate's build finds fresh, and what it did not, that build compiles."""
        if self.job is None:
            return {}
        try:
            output = self.job.join().stdout
        except CommandFailedError as exc:
            output = exc.output
        forgotten = forget_target_script_runs(output)
        seconds = round(time.monotonic() - self.start_time, 1)
        return {"packages": len(self.packages), "seconds": seconds, "rerun": forgotten}


def forget_target_script_runs(cargo_output: str) -> list[str]:
    """Delete the fingerprint of every wasm32 build-script run that cargo's JSON messages
    report (run or found fresh), so the next cargo runs it again; the units' names.
    Fresh ones count too: a prebuild killed before it could clean up leaves its runs
    behind, and the next prebuild (for the same entry) finds them fresh. A new entry's
    `-vV` makes every wasm32 unit new, so no run of a finished entry is forgotten.
    Host build scripts stay: they probe the host, whose std is the compiler's own."""
    forgotten = []
    for message in messages(cargo_output, "build-script-executed"):
        out_dir = message.get("out_dir")
        if not isinstance(out_dir, str):
            continue
        unit = Path(out_dir).parent  # <profile dir>/build/<package>-<hash>
        profile_dir = unit.parent.parent
        if profile_dir.parent.name != WASM_TARGET:
            continue
        shutil.rmtree(profile_dir / ".fingerprint" / unit.name, ignore_errors=True)
        forgotten.append(unit.name)
    return sorted(forgotten)


def unsupported(settings: StdSettings) -> str | None:
    if settings.profile.get("codegen_backend"):
        return f"the profile sets codegen-backend {settings.profile['codegen_backend']}"
    flags = settings.rustflags or ()
    if any(f == "--sysroot" or f.startswith("--sysroot=") for f in flags):
        return "the rustflags set their own --sysroot"
    return None


def _fallback(ctx: BuildContext, why: str) -> None:
    ctx.std = StdUse(StdMode.BUILD_STD)
    ctx.facts["std"] = {"source": "build-std", "reason": why}
    ctx.notes.append(f"std cache not used: {why}")


def run(ctx: BuildContext) -> None:
    options, tc, crate = ctx.options, ctx.need_toolchain(), ctx.need_crate()
    if tc.std_source is StdSource.PRECOMPILED:
        ctx.std = StdUse(StdMode.PRECOMPILED)
        ctx.facts["std"] = {"source": "precompiled"}
        return
    build_std = StdUse(StdMode.BUILD_STD)
    argv = cargo.command(options, tc, build_std)
    # through the compile cache's sccache: an entry built on one machine is then
    # compiled from sccache's storage on the next (its build directory is the seed's own)
    env = cargo.environment(options, tc, build_std, ctx.compile_cache)
    stamp = stdcache.source_stamp(tc.sysroot)
    try:
        settings = stdcache.settings_for(
            argv, crate.root, env, manifests(crate.manifest, crate.lockfile.parent), tc, stamp
        )
    except CommandFailedError as exc:
        lines = exc.output.splitlines()
        cause = next((ln for ln in lines if ln.startswith("error")), exc.tail(1) or exc.message)
        _fallback(ctx, f"`cargo build --unit-graph` failed: {cause}")
        return
    why = unsupported(settings)
    if why is not None:
        _fallback(ctx, why)
        return
    crates = std_crates(options.panic_unwind)
    spec = stdcache.spec_for(
        settings,
        tc,
        crates=crates,
        panic="unwind" if options.panic_unwind else "abort",
        eh_encoding=options.eh_encoding.value if options.panic_unwind else "none",
        dev=options.profile is DEV,
        stamp=stamp,
    )
    overlap: dict[str, Any] = {}

    def build(staging: Path) -> dict[str, Any]:
        # While cargo compiles std (mostly one crate at a time), compile the crate's
        # host units through the entry's rustc: -Zbuild-std overlaps the two as well.
        stdcache.prepare_entry(staging, spec, tc)
        host = HostPrebuild(ctx, Entry(spec.key, staging), settings.proc_macros)
        host.start()
        try:
            facts = stdcache.build_entry(
                staging, spec, tc, cwd=crate.root, env=env, cargo_argv=argv
            )
        except BaseException:
            host.stop()
            raise
        overlap.update(host.finish())
        return facts

    entry, built = stdcache.ensure(spec, build, timeout=options.lock_timeout, toolchain=tc)
    ctx.std = StdUse(StdMode.CACHE, entry)
    ctx.facts["std"] = {
        "source": "cache",
        "key": entry.key,
        "path": str(entry.path),
        "built": built,
    }
    if overlap:
        ctx.facts["std"]["proc_macros_meanwhile"] = overlap
    if built:
        policy = ", optimized for --dev" if spec.policy.startswith("dev") else ""
        ctx.notes.append(
            f"std ({crates}{policy}) built once into the std cache ({entry.path}); "
            "later builds with the same settings reuse it"
        )
