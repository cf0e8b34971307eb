"""Building one std cache entry: std compiled through an empty seed crate.

The seed crate (`worker-build-std`, an empty lib) is built with `-Zbuild-std`, the
build's own profile settings (`--config profile.release.*`, which win over the user's
configuration files) and target flags, cargo run in the crate's directory so that its
configuration applies as it would to the crate. std's rlibs are then moved out of that
target directory into the entry's sysroot (store.py has the layout), next to a rustc
wrapper that adds the sysroot and a link to the compiler's own host libraries. The
staging directory becomes the entry only when `store.ensure` finishes it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from worker_build.errors import WorkerBuildError
from worker_build.rust.cargo_messages import messages
from worker_build.rust.stdcache.spec import StdSpec, lto_on
from worker_build.rust.stdcache.store import Entry, host_of
from worker_build.rust.toolchain import WASM_TARGET, Toolchain
from worker_build.util import proc

SEED_NAME = "worker-build-std"
# Arguments of the crate's cargo command that also apply to building std on its own
# (--frozen without its --locked: the seed crate has no lockfile of its own).
PASSED_FLAGS = {
    "--offline": "--offline",
    "--frozen": "--offline",
    "-q": "--quiet",
    "--quiet": "--quiet",
}
PASSED_WITH_VALUE = ("--config", "-Z")

WRAPPER = """#!/bin/sh
# worker-build std cache entry {key}: {rustc} with this entry's wasm32 std as its
# sysroot. `-vV` names the entry as well, so cargo's fingerprints and sccache's keys
# change whenever the std does.
if [ "$#" -eq 1 ] && [ "$1" = "-vV" ]; then
  {rustc_q} -vV && echo "worker-build-std: {key}"
  exit
fi
exec {rustc_q} --sysroot "${{0%/bin/rustc}}/sysroot" "$@"
"""


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.isdigit():
        return text
    if text in ("true", "false"):
        return text
    return json.dumps(text)


def profile_config(spec: StdSpec) -> list[str]:
    """`--config` arguments that give the seed crate's release profile exactly the
    settings of the spec (they win over the user's configuration files)."""
    names = {
        "opt_level": "opt-level",
        "codegen_units": "codegen-units",
        "debuginfo": "debug",
        "debug_assertions": "debug-assertions",
        "overflow_checks": "overflow-checks",
        "lto": "lto",
        "panic": "panic",
        "split_debuginfo": "split-debuginfo",
    }
    args = ["--config", "profile.release.incremental=false"]
    for key, name in names.items():
        value = spec.profile.get(key)
        if value is not None:
            args += ["--config", f"profile.release.{name}={_toml(value)}"]
    return args


def passed_cargo_args(cargo_argv: Sequence[str]) -> list[str]:
    """The arguments of the crate's cargo command that matter to std built on its own:
    offline mode, quiet, `--config` and `-Z` (e.g. `-Zbuild-std-features`) but not the
    `-Zbuild-std` the seed sets itself. Only what comes after `build`."""
    out: list[str] = []
    args = iter(cargo_argv[cargo_argv.index("build") + 1 :] if "build" in cargo_argv else ())
    for arg in args:
        if arg in PASSED_FLAGS:
            if PASSED_FLAGS[arg] not in out:
                out.append(PASSED_FLAGS[arg])
        elif arg in PASSED_WITH_VALUE:
            value = next(args, "")
            if not (arg == "-Z" and value.startswith("build-std=")):
                out += [arg, value]
        elif arg.startswith("--config=") or (
            arg.startswith("-Z") and not arg.startswith("-Zbuild-std=")
        ):
            out.append(arg)
    return out


def seed_manifest(spec: StdSpec) -> str:
    crate_types = list(spec.crate_types) if lto_on(spec.profile) else ["rlib"]
    return (
        f'[package]\nname = "{SEED_NAME}"\nversion = "0.0.0"\nedition = "2021"\n'
        f'publish = false\n\n[lib]\npath = "lib.rs"\ncrate-type = {json.dumps(crate_types)}\n\n'
        "[workspace]\n"
    )


def seed_command(
    toolchain: Toolchain, spec: StdSpec, staging: Path, cargo_argv: Sequence[str]
) -> list[str]:
    return [
        str(toolchain.cargo),
        "build",
        "--manifest-path",
        str(staging / "seed" / "Cargo.toml"),
        "--lib",
        "--release",
        "--target",
        WASM_TARGET,
        f"-Zbuild-std={spec.crates}",
        "--message-format=json-render-diagnostics",
        "--target-dir",
        str(staging / "target"),
        *passed_cargo_args(cargo_argv),
        *profile_config(spec),
    ]


def std_rlibs(json_lines: str) -> list[Path]:
    """The rlibs of every crate but the seed, from cargo's `compiler-artifact` messages."""
    found: list[Path] = []
    for message in messages(json_lines, "compiler-artifact"):
        if f"#{SEED_NAME}@" in str(message.get("package_id", "")):
            continue
        found += [Path(f) for f in message.get("filenames", []) if str(f).endswith(".rlib")]
    return found


def wrapper_script(key: str, rustc: Path) -> str:
    return WRAPPER.format(key=key, rustc=rustc, rustc_q=shlex.quote(str(rustc)))


def prepare_entry(staging: Path, spec: StdSpec, toolchain: Toolchain) -> Path:
    """The parts of an entry that need no std: the host libraries link and the rustc
    wrapper, whose path it returns. Host-only compilations (proc-macros) can run
    through that wrapper while std is built: they get what they would get later."""
    wrapper = staging / "bin" / "rustc"
    if wrapper.is_file():
        return wrapper
    host = host_of(toolchain)
    rustlib = staging / "sysroot" / "lib" / "rustlib"
    rustlib.mkdir(parents=True, exist_ok=True)
    (rustlib / host).symlink_to(toolchain.sysroot / "lib" / "rustlib" / host)
    wrapper.parent.mkdir(exist_ok=True)
    wrapper.write_text(wrapper_script(spec.key, toolchain.rustc))
    wrapper.chmod(0o755)
    return wrapper


def build_entry(
    staging: Path,
    spec: StdSpec,
    toolchain: Toolchain,
    *,
    cwd: Path,
    env: Mapping[str, str],
    cargo_argv: Sequence[str],
) -> dict[str, Any]:
    """Compile std for `spec` into `staging` (the entry layout of store.py).
    `cwd` is the crate's directory, `env` and `cargo_argv` its cargo environment
    (RUSTFLAGS etc.) and command, so cargo's configuration applies to std as it would
    in the crate's own build."""
    prepare_entry(staging, spec, toolchain)
    seed = staging / "seed"
    seed.mkdir()
    (seed / "Cargo.toml").write_text(seed_manifest(spec))
    (seed / "lib.rs").write_text("")
    run_env = {**env, "RUSTC": str(toolchain.rustc), "RUSTC_BOOTSTRAP": "1"}
    run_env.pop("CARGO_TARGET_DIR", None)
    result = proc.run(
        seed_command(toolchain, spec, staging, cargo_argv),
        cwd=cwd,
        env=run_env,
        output=proc.Output.STDOUT,
        fix=f"cargo could not build std for {WASM_TARGET}; --no-std-cache builds it the "
        "way the real worker-build does (-Zbuild-std)",
    )
    rlibs = std_rlibs(result.stdout)
    names = {p.name.split("-", 1)[0] for p in rlibs}
    want = {"libstd", "libcore", "liballoc", f"lib{spec.crates.split(',')[-1]}"}
    if not want <= names:
        raise WorkerBuildError(
            f"cargo built no {', '.join(sorted(want - names))} for the std cache",
            "build with --no-std-cache and report this",
        )
    libdir = Entry(spec.key, staging).libdir
    libdir.mkdir(parents=True)
    for rlib in rlibs:
        os.replace(rlib, libdir / rlib.name)
    shutil.rmtree(staging / "target", ignore_errors=True)
    shutil.rmtree(seed, ignore_errors=True)
    return {"rustc_path": str(toolchain.rustc), "seed_command": result.argv}
