"""Find a Rust toolchain that can build for wasm32, and the flags it needs.

One place decides which rustc/cargo pair builds the crate, in a fixed order:
1. explicit: `--rustc PATH` or `WORKER_BUILD_RUSTC` (cargo: `WORKER_BUILD_CARGO` or the
   `cargo` beside that rustc), e.g. a distro compiler with its std sources;
2. rustup: the `nightly` toolchain for `--panic-unwind`, the default one otherwise;
3. plain `rustc`/`cargo` on PATH.
The first candidate that exists is used and then checked; a check that fails
is an error with the exact fix, never a silent fall-through to another compiler.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from worker_build import proc
from worker_build.errors import ToolchainError, WorkerBuildError

WASM_TARGET = "wasm32-unknown-unknown"
ENV_RUSTC = "WORKER_BUILD_RUSTC"
ENV_CARGO = "WORKER_BUILD_CARGO"
# A distro compiler known to ship std sources (Debian's rustc-web + rust-web-src);
# only ever suggested in fix-it messages, never picked silently.
KNOWN_DISTRO_RUSTC = Path("/usr/bin/rustc")


class StdSource(Enum):
    """Where the wasm32 standard library comes from."""

    PRECOMPILED = "precompiled"  # rustup's rust-std component for wasm32
    BUILD_STD = "build-std"  # compiled from the std sources with -Zbuild-std


class EhEncoding(Enum):
    DEFAULT = "default"  # whatever the compiler emits (legacy for rustc 1.96)
    LEGACY = "legacy"
    EXNREF = "exnref"


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

    @property
    def label(self) -> str:
        return f"rustc {self.version} ({self.channel}, {self.origin})"


@dataclass(frozen=True)
class Candidate:
    rustc: Path
    cargo: Path
    origin: str


def std_sources(sysroot: Path) -> Path:
    return sysroot / "lib" / "rustlib" / "src" / "rust" / "library"


def has_std_sources(sysroot: Path) -> bool:
    # -Zbuild-std reads library/Cargo.lock; its absence is the exact failure
    # cargo reports ("... library/Cargo.lock does not exist").
    return (std_sources(sysroot) / "Cargo.lock").is_file()


def has_precompiled_wasm_std(sysroot: Path) -> bool:
    libdir = sysroot / "lib" / "rustlib" / WASM_TARGET / "lib"
    return libdir.is_dir() and any(libdir.glob("libstd-*.rlib"))


def _rustup_path() -> str | None:
    return shutil.which("rustup")


def _from_rustup(toolchain: str) -> Candidate | None:
    rustup = _rustup_path()
    if rustup is None:
        return None
    try:
        rustc = proc.run([rustup, "which", "--toolchain", toolchain, "rustc"]).stdout.strip()
        cargo = proc.run([rustup, "which", "--toolchain", toolchain, "cargo"]).stdout.strip()
    except WorkerBuildError:
        return None
    return Candidate(Path(rustc), Path(cargo), f"rustup {toolchain}")


def find_candidate(explicit_rustc: Path | None, unwind: bool) -> Candidate:
    env_rustc = os.environ.get(ENV_RUSTC)
    if explicit_rustc is not None or env_rustc:
        rustc = explicit_rustc or Path(env_rustc or "")
        origin = "--rustc" if explicit_rustc is not None else ENV_RUSTC
        if not (rustc.is_file() and os.access(rustc, os.X_OK)):
            raise ToolchainError(
                f"{origin} points at {rustc}, which is not an executable rustc",
                f"set {origin} to the path of a rustc binary",
            )
        env_cargo = os.environ.get(ENV_CARGO)
        cargo = Path(env_cargo) if env_cargo else rustc.with_name("cargo")
        if not (cargo.is_file() and os.access(cargo, os.X_OK)):
            raise ToolchainError(
                f"no cargo next to {rustc}",
                f"set {ENV_CARGO} to the cargo that belongs to this rustc",
            )
        return Candidate(rustc, cargo, origin)
    if unwind:
        found = _from_rustup("nightly")
        if found is None:
            raise ToolchainError(
                "--panic-unwind needs a nightly toolchain with the std sources and none was found",
                "run `rustup toolchain install nightly --component rust-src "
                f"--target {WASM_TARGET}`{_distro_hint()}",
            )
        return found
    rustc_path, cargo_path = shutil.which("rustc"), shutil.which("cargo")
    if rustc_path is None or cargo_path is None:
        raise ToolchainError(
            "no Rust toolchain found (rustc and cargo are not on PATH)",
            f"install Rust with rustup (https://rustup.rs), then `rustup target add {WASM_TARGET}`",
        )
    return Candidate(Path(rustc_path), Path(cargo_path), "PATH")


def _distro_hint() -> str:
    if KNOWN_DISTRO_RUSTC.is_file() and has_std_sources(Path("/usr")):
        return f", or use the distro compiler: {ENV_RUSTC}={KNOWN_DISTRO_RUSTC}"
    return ""


def _version_info(rustc: Path) -> tuple[str, str]:
    out = proc.run([rustc, "-vV"], fix="check that this rustc runs").stdout
    release = next(
        (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("release:")),
        "",
    )
    if not release:
        raise ToolchainError(f"cannot read the version of {rustc}", "check that it is a rustc")
    version, _, suffix = release.partition("-")
    channel = suffix.split(".", 1)[0] if suffix else "stable"
    return version, channel


def probe(candidate: Candidate, unwind: bool) -> Toolchain:
    """Check the candidate can build for wasm32 in the requested panic mode."""
    version, channel = _version_info(candidate.rustc)
    sysroot = Path(proc.run([candidate.rustc, "--print", "sysroot"]).stdout.strip())
    sources = has_std_sources(sysroot)
    if unwind:
        # panic=unwind needs std itself rebuilt with unwinding, whatever is precompiled.
        if not sources:
            raise ToolchainError(
                f"{candidate.origin} rustc {version} has no std sources "
                f"({std_sources(sysroot)}/Cargo.lock is missing)",
                _missing_sources_fix(candidate),
            )
        std = StdSource.BUILD_STD
    elif has_precompiled_wasm_std(sysroot):
        std = StdSource.PRECOMPILED
    elif sources:
        std = StdSource.BUILD_STD
    else:
        raise ToolchainError(
            f"{candidate.origin} rustc {version} has no wasm32 standard library",
            f"run `rustup target add {WASM_TARGET}`{_distro_hint()}",
        )
    needs_bootstrap = std is StdSource.BUILD_STD and channel != "nightly"
    return Toolchain(
        rustc=candidate.rustc,
        cargo=candidate.cargo,
        version=version,
        channel=channel,
        sysroot=sysroot,
        origin=candidate.origin,
        std_source=std,
        needs_bootstrap=needs_bootstrap,
    )


def _missing_sources_fix(candidate: Candidate) -> str:
    if candidate.origin.startswith("rustup "):
        name = candidate.origin.split(" ", 1)[1]
        return f"run `rustup component add rust-src --toolchain {name}`{_distro_hint()}"
    return "install the std sources for this compiler (Debian: `apt-get install rust-web-src`)"


def find_toolchain(explicit_rustc: Path | None, unwind: bool) -> Toolchain:
    return probe(find_candidate(explicit_rustc, unwind), unwind)


def build_std_flag(unwind: bool) -> str:
    return "-Zbuild-std=std,panic_unwind" if unwind else "-Zbuild-std=std,panic_abort"


def eh_rustflags(encoding: EhEncoding) -> list[str]:
    if encoding is EhEncoding.LEGACY:
        return ["-Cllvm-args=-wasm-use-legacy-eh=true"]
    if encoding is EhEncoding.EXNREF:
        return ["-Cllvm-args=-wasm-use-legacy-eh=false"]
    return []
