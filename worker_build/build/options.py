"""Raw command-line input + Cargo.toml metadata -> one frozen BuildOptions.

Precedence: command-line flags, then `[package.metadata.worker-build]`, then
`[package.metadata.wasm-pack.profile.<profile>]` (the keys the real
worker-build honours), then defaults. Conflicts are rejected here, once, so
no step has to second-guess its input.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from worker_build.build import cargo_args as cargo_args_mod
from worker_build.errors import UsageError
from worker_build.rust.flags import EhEncoding
from worker_build.tools.tool import InstallPolicy

# Enable-list instead of --all-features: binaryen 132's --all-features turns on
# compact imports, which workerd rejects.
WASM_OPT_FEATURES = (
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-reference-types",
    "--enable-exception-handling",
)
METADATA_KEYS = {
    "panic-unwind",
    "eh-encoding",
    "wasm-opt",
    "out-dir",
    "panic-body",
    "loader",
    "std-cache",
    "replay-on-abort",
    "compile-cache",
}
# What --replay-on-abort replays unless Cargo.toml lists its own rules: the safe methods.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class PanicBody(Enum):
    # The error reaches the runtime, which answers (the real tool's behaviour): a panic's
    # PanicError becomes the runtime's 500, an aborted request is cancelled by the runtime.
    RUNTIME = "runtime"
    MESSAGE = "message"  # the shim answers a 500 whose body carries the panic message
    GENERIC = "generic"  # the shim answers a 500 with a generic body; detail only in the logs


@dataclass(frozen=True)
class CustomShim:
    """The shim template named by CUSTOM_SHIM (the Rust tool's legacy bundler path)."""

    path: Path
    sha256: str  # of its text when the build started: a changed template rebuilds


@dataclass(frozen=True)
class Profile:
    name: str  # "dev", "release", "profiling" or a custom cargo profile
    cargo_args: tuple[str, ...]
    optimize: bool  # whether wasm-opt runs unless configured otherwise
    bindgen_debug: bool


DEV = Profile("dev", (), optimize=False, bindgen_debug=True)
RELEASE = Profile("release", ("--release",), optimize=True, bindgen_debug=False)
PROFILING = Profile("profiling", ("--release",), optimize=True, bindgen_debug=False)


@dataclass(frozen=True)
class RawArgs:
    """Exactly what the user typed; None means 'not given'."""

    path: Path | None = None  # None: the nearest directory upwards with a Cargo.toml
    dev: bool = False
    release: bool = False
    profiling: bool = False
    profile: str | None = None
    panic_unwind: bool | None = None
    eh_encoding: str | None = None
    out_dir: Path | None = None
    no_opt: bool = False
    rustc: Path | None = None
    panic_body: str | None = None
    no_loader: bool = False
    offline: bool = False
    no_std_cache: bool = False
    no_compile_cache: bool = False
    scope: str | None = None
    lock_timeout: float = 600.0
    cargo_args: tuple[str, ...] = ()
    no_panic_recovery: bool = False
    quiet: bool = False
    replay_on_abort: bool = False


@dataclass(frozen=True)
class BuildOptions:
    crate_path: Path
    profile: Profile
    panic_unwind: bool
    eh_encoding: EhEncoding
    out_dir: Path  # absolute
    wasm_opt_args: tuple[str, ...] | None  # None: wasm-opt does not run
    rustc: Path | None
    panic_body: PanicBody
    loader: bool
    install_policy: InstallPolicy
    std_cache: bool  # std from the shared cache (rust/stdcache/); False: -Zbuild-std
    # the shared build directory and sccache (rust/compile_cache/); False: cargo as it is
    compile_cache: bool
    minify: bool
    scope: str | None
    lock_timeout: float
    cargo_args: tuple[str, ...]
    # False with the real tool's hidden --no-panic-recovery: wasm-bindgen without the
    # reset-state/abort-handler flags and no recovery shim.
    panic_recovery: bool = True
    quiet: bool = False  # -q: cargo gets --quiet as well
    # RUN_TO_COMPLETION set (any value, as the real tool checks it): fetch's promise is also
    # passed to ctx.waitUntil.
    run_to_completion: bool = False
    custom_shim: CustomShim | None = None
    # --replay-on-abort: the rules ("METHOD" or "METHOD /path-prefix") of the requests a
    # fresh instance runs again after another request's abort; () is off.
    replay_on_abort: tuple[str, ...] = ()

    @property
    def legacy_layout(self) -> bool:
        """The Rust tool's layout without recovery (`--no-panic-recovery` or CUSTOM_SHIM):
        wasm-bindgen's bundler target, `worker/shim.mjs` + `worker/index.wasm`."""
        return not self.panic_recovery or self.custom_shim is not None


def _choose_profile(raw: RawArgs) -> Profile:
    chosen = [
        flag
        for flag, on in (
            ("--dev", raw.dev),
            ("--release", raw.release),
            ("--profiling", raw.profiling),
            ("--profile", raw.profile is not None),
        )
        if on
    ]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} conflict", "pass only one profile flag")
    if raw.dev:
        return DEV
    if raw.profiling:
        return PROFILING
    if raw.profile is not None:
        if raw.profile == "dev":
            return DEV
        if raw.profile == "release":
            return RELEASE
        return Profile(raw.profile, ("--profile", raw.profile), optimize=True, bindgen_debug=False)
    return RELEASE


def _enum(cls: type[Enum], value: str, where: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise UsageError(f"{where}: unknown value {value!r}", f"use one of: {allowed}") from None


def _wasm_opt_setting(value: Any, where: str) -> tuple[str, ...] | bool | None:
    """`false` -> None (off), `true` -> True (defaults), a list -> those args."""
    if value is False:
        return None
    if value is True:
        return True
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise UsageError(f"{where}: wasm-opt must be true, false or a list of strings")


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    table = meta.get("worker-build", {})
    if not isinstance(table, dict):
        raise UsageError("[package.metadata.worker-build] must be a table")
    unknown = set(table) - METADATA_KEYS
    if unknown:
        raise UsageError(
            f"[package.metadata.worker-build] has unknown key(s): {', '.join(sorted(unknown))}",
            f"known keys: {', '.join(sorted(METADATA_KEYS))}",
        )
    return table


def _custom_shim() -> CustomShim | None:
    """CUSTOM_SHIM, read as the Rust tool reads it: a path (relative to the working
    directory) to a shim template; an unreadable one is an error before anything is built."""
    value = os.environ.get("CUSTOM_SHIM")
    if value is None:
        return None
    path = Path(value).absolute()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"CUSTOM_SHIM: cannot read {path} ({exc.strerror or exc})",
            "point CUSTOM_SHIM at a shim template file, or unset it",
        ) from None
    return CustomShim(path, hashlib.sha256(data).hexdigest())


def resolve(raw: RawArgs, crate_root: Path, metadata: dict[str, Any]) -> BuildOptions:
    profile = _choose_profile(raw)
    config = _metadata(metadata)
    where = "[package.metadata.worker-build]"

    panic_unwind = raw.panic_unwind
    if panic_unwind is None:
        value = config.get("panic-unwind", False)
        if not isinstance(value, bool):
            raise UsageError(f"{where}: panic-unwind must be true or false")
        panic_unwind = value

    eh_text = raw.eh_encoding or config.get("eh-encoding") or EhEncoding.DEFAULT.value
    eh = _enum(EhEncoding, str(eh_text), "--eh-encoding")
    if eh is not EhEncoding.DEFAULT and not panic_unwind:
        raise UsageError(
            f"--eh-encoding {eh.value} has no effect without --panic-unwind",
            "add --panic-unwind or drop --eh-encoding",
        )

    panic_body = _enum(
        PanicBody, str(raw.panic_body or config.get("panic-body", "runtime")), "--panic-body"
    )

    # wasm-opt: --no-opt and the dev profile switch it off; otherwise the most
    # specific configuration wins.
    wasm_pack = metadata.get("wasm-pack", {})
    profile_table = (
        wasm_pack.get("profile", {}).get(profile.name, {}) if isinstance(wasm_pack, dict) else {}
    )
    setting: tuple[str, ...] | bool | None = True if profile.optimize else None
    if isinstance(profile_table, dict) and "wasm-opt" in profile_table:
        setting = _wasm_opt_setting(
            profile_table["wasm-opt"], f"[package.metadata.wasm-pack.profile.{profile.name}]"
        )
    if "wasm-opt" in config:
        setting = _wasm_opt_setting(config["wasm-opt"], where)
    if raw.no_opt:
        setting = None
    wasm_opt_args: tuple[str, ...] | None = None
    if setting is not None and setting is not False:
        base = ("-O",) if setting is True else setting
        wasm_opt_args = (*base, *WASM_OPT_FEATURES, "--debuginfo")

    out = raw.out_dir or Path(str(config.get("out-dir", "build")))
    out_dir = out if out.is_absolute() else crate_root / out
    if out_dir.resolve() in (crate_root.resolve(), *crate_root.resolve().parents):
        raise UsageError(f"--out-dir {out} would replace the crate itself", "choose a subdirectory")

    loader = not raw.no_loader and bool(config.get("loader", True))
    std_cache = config.get("std-cache", True)
    if not isinstance(std_cache, bool):
        raise UsageError(f"{where}: std-cache must be true or false")
    std_cache = std_cache and not raw.no_std_cache
    replay_on_abort = _replay_rules(raw.replay_on_abort, config.get("replay-on-abort"), where)
    custom_shim = _custom_shim()
    if replay_on_abort and (raw.no_panic_recovery or custom_shim is not None):
        raise UsageError(
            "replay on abort needs the recovery shim, which "
            + ("--no-panic-recovery" if raw.no_panic_recovery else "CUSTOM_SHIM")
            + " replaces",
            "drop --replay-on-abort and replay-on-abort in Cargo.toml, or "
            + ("--no-panic-recovery" if raw.no_panic_recovery else "unset CUSTOM_SHIM"),
        )
    compile_cache = config.get("compile-cache", True)
    if not isinstance(compile_cache, bool):
        raise UsageError(f"{where}: compile-cache must be true or false")
    compile_cache = compile_cache and not raw.no_compile_cache
    cargo_args = raw.cargo_args
    target = cargo_args_mod.find_target(cargo_args)
    if target is not None:
        raise UsageError(cargo_args_mod.target_problem(target), cargo_args_mod.TARGET_FIX)
    return BuildOptions(
        crate_path=crate_root,
        profile=profile,
        panic_unwind=panic_unwind,
        eh_encoding=eh,
        out_dir=out_dir,
        wasm_opt_args=wasm_opt_args,
        rustc=raw.rustc,
        panic_body=panic_body,
        loader=loader,
        install_policy=InstallPolicy.OFFLINE if raw.offline else InstallPolicy.ALLOW,
        std_cache=std_cache,
        compile_cache=compile_cache,
        minify=not os.environ.get("NO_MINIFY"),
        scope=raw.scope,
        lock_timeout=raw.lock_timeout,
        cargo_args=cargo_args,
        panic_recovery=not raw.no_panic_recovery,
        quiet=raw.quiet,
        run_to_completion="RUN_TO_COMPLETION" in os.environ,
        custom_shim=custom_shim,
        replay_on_abort=replay_on_abort,
    )


REPLAY_RULE = re.compile(r"[A-Za-z]+(?: +/\S*)?")


def _replay_rules(flag: bool, setting: object, where: str) -> tuple[str, ...]:
    """replay-on-abort = true | false | ["METHOD", "METHOD /prefix", ...]; the flag turns it
    on with Cargo.toml's rules, or the safe methods."""
    if setting is None or isinstance(setting, bool):
        return SAFE_METHODS if flag or setting else ()
    fix = 'true, false or a list like ["GET", "PUT /items/"]'
    if not isinstance(setting, list) or not setting:
        raise UsageError(f"{where}: replay-on-abort must be {fix}")
    rules: list[str] = []
    for rule in setting:
        if not isinstance(rule, str) or not REPLAY_RULE.fullmatch(rule.strip()):
            raise UsageError(
                f"{where}: replay-on-abort rule {rule!r} is not METHOD or METHOD /path-prefix",
                f"write it as {fix}",
            )
        method, _, prefix = rule.strip().partition(" ")
        rules.append(f"{method.upper()} {prefix.strip()}".strip())
    return tuple(rules)
