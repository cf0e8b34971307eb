"""Step: `cargo build --lib --target wasm32-unknown-unknown`, artifact from cargo's JSON."""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from worker_build.build.context import BuildContext
from worker_build.build.options import BuildOptions
from worker_build.build.steps import cargo_errors
from worker_build.errors import WorkerBuildError
from worker_build.rust.compile_cache import CompileCache
from worker_build.rust.flags import build_std_flag, panic_rustflags
from worker_build.rust.stdcache import StdMode, StdUse
from worker_build.rust.toolchain import WASM_TARGET, StdSource, Toolchain
from worker_build.tools.tool import InstallPolicy
from worker_build.util import proc

JS_SYS_ENV = "WASM_BINDGEN_USE_JS_SYS"


def std_mode(toolchain: Toolchain, std: StdUse | None) -> StdMode:
    """The std step's decision; without that step (--no-std-cache), what the toolchain
    offers: its precompiled wasm32 std, else -Zbuild-std."""
    if std is not None:
        return std.mode
    if toolchain.std_source is StdSource.BUILD_STD:
        return StdMode.BUILD_STD
    return StdMode.PRECOMPILED


def command(
    options: BuildOptions,
    toolchain: Toolchain,
    std: StdUse | None = None,
    cache: CompileCache | None = None,
) -> list[str]:
    """The crate's `cargo build`; with the compile cache, in its shared build directory
    (a `--config` argument, before yours)."""
    argv = [
        str(toolchain.cargo),
        "build",
        "--lib",
        "--target",
        WASM_TARGET,
        "--message-format=json-render-diagnostics",
        *options.profile.cargo_args,
    ]
    if std_mode(toolchain, std) is StdMode.BUILD_STD:
        argv.append(build_std_flag(options.panic_unwind))
    given = set(options.cargo_args)
    # cargo refuses a flag given twice, and --quiet next to --verbose.
    if options.quiet and not given & {"-q", "--quiet", "-v", "-vv", "--verbose"}:
        argv.append("--quiet")
    if options.install_policy is InstallPolicy.OFFLINE and "--offline" not in given:
        argv.append("--offline")  # the Rust tool hands --offline to cargo
    if cache is not None:
        argv += cache.cargo_args
    return [*argv, *options.cargo_args]


def environment(
    options: BuildOptions,
    toolchain: Toolchain,
    std: StdUse | None = None,
    cache: CompileCache | None = None,
) -> dict[str, str]:
    """RUSTC pins the compiler cargo uses (rustup proxies may be first on PATH): the
    toolchain's rustc, or the std cache entry's wrapper around it (which adds the
    entry's sysroot, so a RUSTC_WRAPPER such as sccache still wraps it). The user's
    RUSTFLAGS are extended, never replaced. The compile cache adds sccache as
    RUSTC_WRAPPER and its server's address, when it runs one. Every variable here is the
    same in every build with the same settings: sccache's keys include cargo's
    environment."""
    mode = std_mode(toolchain, std)
    if mode is StdMode.CACHE:
        assert std is not None and std.entry is not None
        rustc = std.entry.rustc
    else:
        rustc = toolchain.rustc
    # WASM_BINDGEN_USE_JS_SYS: as the Rust worker-build sets it. wasm-bindgen's macro
    # reads it at expansion time (a --cfg would not reach a host proc-macro under
    # --target) and then expands async exports through `js_sys::futures` instead of
    # `wasm_bindgen_futures`. cargo does not fingerprint it.
    env = {"RUSTC": str(rustc), JS_SYS_ENV: "1", **(cache.env if cache is not None else {})}
    if mode is StdMode.BUILD_STD and toolchain.needs_bootstrap:
        env["RUSTC_BOOTSTRAP"] = "1"
    extra = panic_rustflags(options.panic_unwind, options.eh_encoding)
    if not extra:
        return env
    encoded = os.environ.get("CARGO_ENCODED_RUSTFLAGS")
    if encoded is not None:
        # cargo prefers this variable over RUSTFLAGS; extend it in its own format.
        parts = [p for p in encoded.split("\x1f") if p]
        env["CARGO_ENCODED_RUSTFLAGS"] = "\x1f".join([*parts, *extra])
    else:
        current = shlex.split(os.environ.get("RUSTFLAGS", ""))
        env["RUSTFLAGS"] = shlex.join([*current, *extra])
    return env


def terminal_config(stream: TextIO, environ: Mapping[str, str]) -> list[str]:
    """cargo's stderr is a pipe (we read its `error:` line to explain a failure).
    Where ours is a terminal, keep cargo's colour and progress bar as they would be.
    As `--config` arguments, not CARGO_TERM_* variables: cargo hands its environment to
    every rustc, and sccache keys every CARGO_* variable, so a terminal's width would
    make each build miss the cache of the last one (and a CI build a terminal's)."""
    try:
        tty = stream.isatty()
        columns = os.get_terminal_size(stream.fileno()).columns if tty else 0
    except (AttributeError, OSError, ValueError):  # not a real file, or no size
        tty, columns = False, 0
    if not tty or environ.get("TERM") == "dumb":
        return []
    args: list[str] = []
    if "CARGO_TERM_COLOR" not in environ and not environ.get("NO_COLOR"):
        args += ["--config", 'term.color="always"']
    if "CARGO_TERM_PROGRESS_WHEN" not in environ:
        args += ["--config", 'term.progress.when="always"']
        args += ["--config", f"term.progress.width={columns or 80}"]
    return args


def on_terminal(argv: list[str]) -> list[str]:
    """`cargo SUBCOMMAND ...` with terminal_config's arguments after the subcommand, for
    running it: kept out of the command itself, which the incremental state records."""
    return [*argv[:2], *terminal_config(sys.stderr, os.environ), *argv[2:]]


def compiled_anything(json_lines: str) -> bool:
    """Whether cargo compiled a unit (a `compiler-artifact` message that is not fresh)."""
    return any(
        line.startswith('{"reason":"compiler-artifact"') and '"fresh":false' in line
        for line in json_lines.splitlines()
    )


def find_artifact(json_lines: str, lib_name: str) -> Path | None:
    """The cdylib .wasm of our crate, from cargo's `compiler-artifact` messages."""
    found: Path | None = None
    for line in json_lines.splitlines():
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("reason") != "compiler-artifact":
            continue
        target = message.get("target", {})
        if (
            "cdylib" not in target.get("kind", [])
            or target.get("name", "").replace("-", "_") != lib_name
        ):
            continue
        for filename in message.get("filenames", []):
            if filename.endswith(".wasm"):
                found = Path(filename)
    return found


def run(ctx: BuildContext) -> None:
    options, toolchain, crate = ctx.options, ctx.need_toolchain(), ctx.need_crate()
    mode = std_mode(toolchain, ctx.std)
    if "std" not in ctx.facts:  # no std step: the std cache is off
        ctx.facts["std"] = {"source": mode.value}
        if mode is StdMode.BUILD_STD:
            ctx.facts["std"]["reason"] = "the std cache is off"
    if mode is StdMode.BUILD_STD:
        ctx.notes.append(f"std built from source ({build_std_flag(options.panic_unwind)})")
        if toolchain.needs_bootstrap:
            ctx.notes.append(f"RUSTC_BOOTSTRAP=1 set so {toolchain.label} accepts -Z flags")
    argv = command(options, toolchain, ctx.std, ctx.compile_cache)
    result = proc.run(
        on_terminal(argv),
        cwd=crate.root,
        env=environment(options, toolchain, ctx.std, ctx.compile_cache),
        output=proc.Output.TEE,
        check=False,
    )
    if ctx.compile_cache is not None:
        ctx.compile_cache.release_build_dir()
        std_built = bool(ctx.facts.get("std", {}).get("built"))  # its seed went through sccache
        compiled = std_built or result.returncode != 0 or compiled_anything(result.stdout)
        ctx.facts["compile_cache"] = ctx.compile_cache.facts(compiled)
    if result.returncode != 0:
        raise cargo_errors.explain(result)
    artifact = find_artifact(result.stdout, crate.lib_name)
    if artifact is None or not artifact.is_file():
        raise WorkerBuildError(
            f"cargo finished but reported no .wasm for {crate.lib_name}",
            "check that the crate builds a cdylib for wasm32-unknown-unknown",
        )
    ctx.artifact = artifact
    ctx.facts["artifact"] = str(artifact)
    ctx.facts["artifact_bytes"] = artifact.stat().st_size
