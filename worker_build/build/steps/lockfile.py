"""Step: have cargo write Cargo.lock when the crate has none, or one without wasm-bindgen.

The wasm-bindgen CLI must be exactly the version the crate compiles against, and only the
lock file says which. The Rust tool's first command is `cargo metadata`, which resolves
the dependencies and writes the lock file, so a fresh project (an example copied without
its lock file, `cargo new` plus `worker = "0.8"`) builds the first time. This step does the
same, with the toolchain the build picked (cargo's resolver reads rustc's version to
honour `rust-version`), only when pre-flight found the lock missing or incomplete: it is
in the plan then (pipeline.py), after `toolchain`.

`cargo update --workspace` resolves as `cargo metadata` and `cargo build` do: a missing
lock file is created whole, and an existing one keeps every version it locks and gains
only the entries it lacks. Unlike `cargo metadata` it downloads no crate, so with
`--offline` it works from cargo's cached index alone. `--locked` and `--frozen` forbid
writing the lock file, so pre-flight refuses the build then, as cargo would (`refusal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from worker_build.build import cargo_args as cargo_args_mod
from worker_build.build import crate as crate_mod
from worker_build.build.context import BuildContext
from worker_build.build.crate import LockNeeded
from worker_build.build.options import BuildOptions
from worker_build.build.steps import cargo, cargo_errors
from worker_build.errors import CrateError
from worker_build.rust.toolchain import Toolchain
from worker_build.tools.tool import InstallPolicy
from worker_build.util import proc

NAME = "Cargo.lock"
FORBIDDING = ("--locked", "--frozen")
# cargo's options that change how it resolves: passed on to `cargo update`
RESOLUTION_OPTIONS = ("--config", "-Z")


def refusal(needed: LockNeeded, cargo_args: Sequence[str]) -> CrateError | None:
    """The error for a build whose cargo arguments forbid writing the lock file."""
    given = [name for name, _ in cargo_args_mod.options(cargo_args) if name in FORBIDDING]
    if not given:
        return None
    action = "creating one" if needed.lockfile is None else "adding it"
    return CrateError(
        f"{needed.problem}, and {given[0]} forbids {action}",
        f"run `cargo update --workspace` and commit Cargo.lock, or build without {given[0]} once",
    )


def command(options: BuildOptions, toolchain: Toolchain, manifest: Path) -> list[str]:
    argv = [str(toolchain.cargo), "update", "--workspace", "--manifest-path", str(manifest)]
    given = cargo_args_mod.options(options.cargo_args)
    for name, value in given:
        if name in RESOLUTION_OPTIONS and value is not None:
            argv += [name, value]
    names = {name for name, _ in given}
    if options.install_policy is InstallPolicy.OFFLINE or "--offline" in names:
        argv.append("--offline")
    if options.quiet and not names & {"-v", "-vv", "--verbose"}:
        argv.append("--quiet")
    return argv


def _workspace_lockfile(toolchain: Toolchain, manifest: Path) -> Path:
    """Where cargo keeps the lock file: beside the workspace's root manifest."""
    result = proc.run(
        [toolchain.cargo, "locate-project", "--workspace", "--message-format", "plain",
         "--manifest-path", manifest],
        env={"RUSTC": str(toolchain.rustc)},
    )  # fmt: skip
    return Path(result.stdout.strip()).with_name("Cargo.lock")


def run(ctx: BuildContext) -> None:
    needed, tc = ctx.lock_needed, ctx.need_toolchain()
    assert needed is not None, "the pipeline plans this step only for a missing lock file"
    manifest = needed.crate.manifest
    argv = command(ctx.options, tc, manifest)
    result = proc.run(
        cargo.on_terminal(argv),
        cwd=needed.crate.root,
        env={"RUSTC": str(tc.rustc)},
        output=proc.Output.TEE,
        check=False,
    )
    if result.returncode != 0:
        raise cargo_errors.explain(result)
    lockfile = _workspace_lockfile(tc, manifest)
    found = crate_mod.read_lock(needed.crate, lockfile)
    if isinstance(found, LockNeeded):
        raise CrateError(
            f"{needed.crate.package_name} does not depend on wasm-bindgen ({lockfile} has "
            "no entry for it)",
            "add the `worker` (or `wasm-bindgen`) dependency to Cargo.toml",
        )
    ctx.crate = found
    written = "created" if needed.lockfile is None else "updated"
    ctx.facts["lockfile"] = {"path": str(lockfile), "written": written}
    ctx.notes.append(
        f"{lockfile} {written} by `cargo update --workspace` (as the Rust tool's `cargo "
        f"metadata` would): wasm-bindgen {found.wasm_bindgen_version}; commit it"
    )
