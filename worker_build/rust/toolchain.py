"""Find a Rust toolchain that can build for wasm32 (the flags it is given: rust/flags.py).

One place decides which rustc/cargo pair builds the crate, in a fixed order:
1. explicit: `--rustc PATH` or `WORKER_BUILD_RUSTC` (cargo: `WORKER_BUILD_CARGO` or the
   `cargo` beside that rustc). It wins, and an unusable one is an error with the exact
   fix, never a silent fall-through to another compiler.
2. the preferred rustup toolchain: `nightly` for `--panic-unwind`, otherwise the one
   rustup makes active for the crate (its `rust-toolchain.toml`, an override, or the
   default); without rustup, the `rustc` on PATH;
3. the other rustup toolchains, in the order `rustup toolchain list` gives;
4. the `rustc` on PATH, when it is not rustup's proxy;
5. a distro compiler (`DISTRO_RUSTCS`, e.g. Debian's rustc-web) with its std sources.
Candidates 2-5 are judged from their files (std sources, a precompiled wasm32 std,
a cargo beside the rustc): the first usable one is chosen, and the others are kept
with the reason they were passed over, for the summary, the JSON report and doctor.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from worker_build.errors import ToolchainError, WorkerBuildError
from worker_build.tools import probes
from worker_build.util import proc

WASM_TARGET = "wasm32-unknown-unknown"
ENV_RUSTC = "WORKER_BUILD_RUSTC"
ENV_CARGO = "WORKER_BUILD_CARGO"
# Distro compilers that may ship std sources (Debian's rustc-web + rust-web-src installs
# /usr/bin/rustc); tried last, after every rustup toolchain.
DISTRO_RUSTCS: tuple[Path, ...] = (Path("/usr/bin/rustc"), Path("/usr/local/bin/rustc"))
DISTRO_FIX = (
    "or install a compiler with its std sources (Debian: `apt-get install rustc-web "
    "cargo-web rust-web-src rust-web-llvm lld-22`)"
)


class StdSource(Enum):
    """Where the wasm32 standard library comes from."""

    PRECOMPILED = "precompiled"  # rustup's rust-std component for wasm32
    BUILD_STD = "build-std"  # compiled from the std sources (std cache or -Zbuild-std)


@dataclass(frozen=True)
class Rejected:
    """A toolchain that was looked at and passed over, and why."""

    origin: str
    rustc: Path | None
    reason: str
    fix: str | None = None

    @property
    def label(self) -> str:
        return f"{self.origin}: {self.reason}"


@dataclass(frozen=True)
class Toolchain:
    rustc: Path
    cargo: Path
    version: str  # e.g. "1.96.0"
    channel: str  # "stable", "beta", "nightly" or "dev"
    sysroot: Path
    origin: str  # how it was chosen, for the summary and doctor
    std_source: StdSource
    needs_bootstrap: bool  # a non-nightly compiler asked to accept -Z flags
    verbose_version: str = ""  # `rustc -vV`, the compiler's identity for the std cache
    rejected: tuple[Rejected, ...] = ()  # candidates tried before this one

    @property
    def label(self) -> str:
        return f"rustc {self.version} ({self.channel}, {self.origin})"

    @property
    def has_std_sources(self) -> bool:
        return has_std_sources(self.sysroot)


@dataclass(frozen=True)
class Candidate:
    rustc: Path
    cargo: Path
    origin: str
    sysroot: Path | None = None  # known without running rustc (a rustup toolchain dir)
    fix_prefix: str = ""  # how to complete this candidate, e.g. a rustup command


def std_sources(sysroot: Path) -> Path:
    return sysroot / "lib" / "rustlib" / "src" / "rust" / "library"


def has_std_sources(sysroot: Path) -> bool:
    # -Zbuild-std reads library/Cargo.lock; its absence is the exact failure
    # cargo reports ("... library/Cargo.lock does not exist").
    return (std_sources(sysroot) / "Cargo.lock").is_file()


def has_precompiled_wasm_std(sysroot: Path) -> bool:
    libdir = sysroot / "lib" / "rustlib" / WASM_TARGET / "lib"
    return libdir.is_dir() and any(libdir.glob("libstd-*.rlib"))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# --- 1. explicit --------------------------------------------------------------------------


def explicit_candidate(explicit_rustc: Path | None) -> Candidate | None:
    env_rustc = os.environ.get(ENV_RUSTC)
    if explicit_rustc is None and not env_rustc:
        return None
    rustc = explicit_rustc or Path(env_rustc or "")
    origin = "--rustc" if explicit_rustc is not None else ENV_RUSTC
    if not _executable(rustc):
        raise ToolchainError(
            f"{origin} points at {rustc}, which is not an executable rustc",
            f"set {origin} to the path of a rustc binary",
        )
    env_cargo = os.environ.get(ENV_CARGO)
    cargo = Path(env_cargo) if env_cargo else rustc.with_name("cargo")
    if not _executable(cargo):
        raise ToolchainError(
            f"no cargo next to {rustc}",
            f"set {ENV_CARGO} to the cargo that belongs to this rustc",
        )
    return Candidate(rustc, cargo, origin)


# --- 2-5. discovery ------------------------------------------------------------------------


@dataclass(frozen=True)
class RustupToolchain:
    name: str
    path: Path  # the toolchain directory, which is its sysroot
    flags: str  # "active, default", "override", ...

    @property
    def active(self) -> bool:
        # rustup 1.28+ marks the toolchain in effect here "active"; older ones "override"
        return "active" in self.flags or "override" in self.flags


_LIST_LINE = re.compile(r"^(?P<name>\S+)(?: \((?P<flags>[^)]*)\))?\s+(?P<path>\S.*)$")


def _rustup_toolchains(rustup: str, cwd: Path | None) -> list[RustupToolchain]:
    """`rustup toolchain list -v`: one line per toolchain, `NAME [(FLAGS)] PATH`; the
    active one first (the default when nothing is marked active)."""
    result = proc.run([rustup, "toolchain", "list", "-v"], cwd=cwd, check=False)
    if result.returncode != 0:
        return []
    found: list[RustupToolchain] = []
    for line in result.stdout.splitlines():
        match = _LIST_LINE.match(line.strip())
        if match is None or not Path(match["path"]).is_dir():
            continue  # "no installed toolchains", or a format this parser does not know
        found.append(RustupToolchain(match["name"], Path(match["path"]), match["flags"] or ""))
    if not any(t.active for t in found):
        found = [
            replace(t, flags=f"{t.flags}, active") if "default" in t.flags else t for t in found
        ]
    return found


def _short(name: str) -> str:
    """'nightly-x86_64-unknown-linux-gnu' -> 'nightly' (the host part is noise here)."""
    match = re.match(r"^(.*?)-(x86_64|aarch64|i686|arm|armv7|riscv64gc|powerpc64le|s390x)-", name)
    return match.group(1) if match else name


def _rustup_candidate(tc: RustupToolchain) -> Candidate:
    bindir = tc.path / "bin"
    return Candidate(
        bindir / "rustc",
        bindir / "cargo",
        f"rustup {_short(tc.name)}",
        sysroot=tc.path,
        fix_prefix=_short(tc.name),
    )


def _rustup_nightly(rustup: str, cwd: Path | None) -> Candidate | Rejected:
    try:
        rustc = proc.run(
            [rustup, "which", "--toolchain", "nightly", "rustc"], cwd=cwd
        ).stdout.strip()
    except WorkerBuildError:
        return Rejected(
            "rustup nightly",
            None,
            "not installed",
            f"run `rustup toolchain install nightly --component rust-src --target {WASM_TARGET}`",
        )
    sysroot = Path(rustc).parent.parent
    return Candidate(
        Path(rustc), sysroot / "bin" / "cargo", "rustup nightly", sysroot, fix_prefix="nightly"
    )


def _is_rustup_proxy(path: Path, rustup: str | None) -> bool:
    if rustup is None:
        return False
    try:
        return os.path.samefile(path, rustup) or Path(os.path.realpath(path)).name == "rustup"
    except OSError:
        return False


def candidates(unwind: bool, cwd: Path | None) -> Iterator[Candidate | Rejected]:
    """Steps 2-5 of the module docstring, lazily (rustup is asked only when reached)."""
    rustup = shutil.which("rustup")
    toolchains = _rustup_toolchains(rustup, cwd) if rustup else []
    if unwind and rustup:
        yield _rustup_nightly(rustup, cwd)
    active = [t for t in toolchains if t.active]
    if not unwind:
        yield from (_rustup_candidate(t) for t in active)
    yield from (_rustup_candidate(t) for t in toolchains if unwind or not t.active)
    on_path = shutil.which("rustc")
    if on_path and not _is_rustup_proxy(Path(on_path), rustup):
        rustc = Path(on_path)
        cargo = rustc.with_name("cargo")
        cargo_on_path = shutil.which("cargo")
        if not _executable(cargo) and cargo_on_path:
            cargo = Path(cargo_on_path)
        yield Candidate(rustc, cargo, "PATH")
    for distro in DISTRO_RUSTCS:
        if _executable(distro):
            yield Candidate(distro, distro.with_name("cargo"), str(distro))


def _sysroot_of(candidate: Candidate) -> Path:
    if candidate.sysroot is not None:
        return candidate.sysroot
    return Path(probes.output(candidate.rustc, "--print", "sysroot").strip())


def _assess(candidate: Candidate, unwind: bool) -> Toolchain | Rejected:
    """Judge a discovered candidate; never raises for an unusable one."""

    def reject(reason: str, fix: str | None = None) -> Rejected:
        return Rejected(candidate.origin, candidate.rustc, reason, fix)

    if not _executable(candidate.rustc):
        return reject("no rustc in it")
    if not _executable(candidate.cargo):
        return reject("no cargo beside its rustc")
    try:
        sysroot = _sysroot_of(candidate)
    except WorkerBuildError as exc:
        return reject(f"does not run ({exc.message})")
    rustup = f" --toolchain {candidate.fix_prefix}" if candidate.fix_prefix else ""
    if unwind and not has_std_sources(sysroot):
        fix = f"run `rustup component add rust-src{rustup}`" if rustup else None
        return reject("no std sources (rust-src)", fix)
    if not unwind and not (has_precompiled_wasm_std(sysroot) or has_std_sources(sysroot)):
        fix = f"run `rustup target add {WASM_TARGET}{rustup}`" if rustup else None
        return reject("no wasm32 std and no std sources", fix)
    try:
        return _toolchain(candidate, sysroot, unwind)
    except WorkerBuildError as exc:
        return reject(f"does not run ({exc.message})")


def discover(unwind: bool, cwd: Path | None = None) -> Toolchain:
    rejected: list[Rejected] = []
    seen: set[str] = set()
    for found in candidates(unwind, cwd):
        if isinstance(found, Rejected):
            rejected.append(found)
            continue
        real = os.path.realpath(found.rustc)
        if real in seen:
            continue  # e.g. rustup's `1.95.0` and `stable` being the same toolchain
        seen.add(real)
        outcome = _assess(found, unwind)
        if isinstance(outcome, Toolchain):
            return replace(outcome, rejected=tuple(rejected))
        rejected.append(outcome)
    raise _nothing_usable(unwind, rejected)


def _nothing_usable(unwind: bool, rejected: list[Rejected]) -> ToolchainError:
    looked_at = [r for r in rejected if r.reason != "not installed"]
    if not looked_at:
        if unwind:
            return ToolchainError(
                "--panic-unwind needs a nightly toolchain with the std sources and none was found",
                f"run `rustup toolchain install nightly --component rust-src --target "
                f"{WASM_TARGET}`, {DISTRO_FIX}",
            )
        return ToolchainError(
            "no Rust toolchain found (no rustup, no rustc on PATH)",
            f"install Rust with rustup (https://rustup.rs), then `rustup target add {WASM_TARGET}`",
        )
    need = "with std sources" if unwind else "with a wasm32 std or std sources"
    tried = "; ".join(r.label for r in rejected)
    first_fix = next((r.fix for r in rejected if r.fix), None)
    fix = f"{first_fix}, {DISTRO_FIX}" if first_fix else DISTRO_FIX.removeprefix("or ")
    return ToolchainError(f"no Rust toolchain {need} ({tried})", f"{fix}; or pass --rustc PATH")


# --- probing one compiler ------------------------------------------------------------------


def _version_info(rustc: Path) -> tuple[str, str, str]:
    """(release, channel, `-vV` text) of a real (non-proxy) rustc, cached per binary."""
    if _is_rustup_proxy(rustc, shutil.which("rustup")):
        out = proc.run([rustc, "-vV"], fix="check that this rustc runs").stdout
    else:
        out = probes.output(rustc, "-vV")
    release = next(
        (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("release:")),
        "",
    )
    if not release:
        raise ToolchainError(f"cannot read the version of {rustc}", "check that it is a rustc")
    version, _, suffix = release.partition("-")
    channel = suffix.split(".", 1)[0] if suffix else "stable"
    return version, channel, out


def _toolchain(candidate: Candidate, sysroot: Path, unwind: bool) -> Toolchain:
    version, channel, verbose = _version_info(candidate.rustc)
    if unwind or not has_precompiled_wasm_std(sysroot):
        # panic=unwind needs std itself rebuilt with unwinding, whatever is precompiled.
        std = StdSource.BUILD_STD
    else:
        std = StdSource.PRECOMPILED
    return Toolchain(
        rustc=candidate.rustc,
        cargo=candidate.cargo,
        version=version,
        channel=channel,
        sysroot=sysroot,
        origin=candidate.origin,
        std_source=std,
        needs_bootstrap=std is StdSource.BUILD_STD and channel != "nightly",
        verbose_version=verbose,
    )


def _asked(candidate: Candidate) -> tuple[str, Path]:
    """(release, sysroot) of an explicit candidate. One that does not answer as a rustc
    is a toolchain error (exit 4) naming the setting, not a failed tool (exit 1)."""
    try:
        version, _, _ = _version_info(candidate.rustc)
        if _is_rustup_proxy(candidate.rustc, shutil.which("rustup")):
            printed = proc.run([candidate.rustc, "--print", "sysroot"]).stdout.strip()
        else:
            printed = probes.output(candidate.rustc, "--print", "sysroot").strip()
        if not printed:
            raise ToolchainError("it prints no sysroot")
    except WorkerBuildError as exc:
        raise ToolchainError(
            f"{candidate.origin} points at {candidate.rustc}, which does not answer as a "
            f"rustc ({exc.headline})",
            f"set {candidate.origin} to a rustc that runs (`rustc -vV` and `rustc --print "
            f"sysroot` must answer), or unset it to let worker-build find one",
        ) from exc
    return version, Path(printed)


def probe(candidate: Candidate, unwind: bool) -> Toolchain:
    """Check an explicit candidate; an unusable one is an error naming the fix."""
    version, sysroot = _asked(candidate)
    sources = has_std_sources(sysroot)
    if unwind and not sources:
        raise ToolchainError(
            f"{candidate.origin} rustc {version} has no std sources "
            f"({std_sources(sysroot)}/Cargo.lock is missing)",
            "install the std sources for this compiler (rustup: `rustup component add "
            "rust-src`; Debian: `apt-get install rust-web-src`), or unset "
            f"{candidate.origin} to let worker-build find one",
        )
    if not unwind and not (sources or has_precompiled_wasm_std(sysroot)):
        raise ToolchainError(
            f"{candidate.origin} rustc {version} has no wasm32 standard library",
            f"run `rustup target add {WASM_TARGET}`, or unset {candidate.origin} to let "
            "worker-build find one",
        )
    return _toolchain(candidate, sysroot, unwind)


def find_toolchain(explicit_rustc: Path | None, unwind: bool, cwd: Path | None = None) -> Toolchain:
    """The toolchain a build uses: explicit (checked loudly) or discovered."""
    explicit = explicit_candidate(explicit_rustc)
    if explicit is not None:
        return probe(explicit, unwind)
    return discover(unwind, cwd)
