"""The flags a wasm32 build hands cargo and rustc for its panic strategy.

- `-Zbuild-std=<crates>`: std's crates with the panic runtime the build links
  (`panic_unwind` or `panic_abort`); the std cache keys its entries on the same list.
- The exception-handling encoding of a panic=unwind build (`--eh-encoding`): rustc
  emits legacy wasm EH or the exnref proposal, chosen by an LLVM argument; the
  default is whatever the compiler emits on its own.
"""

from __future__ import annotations

from enum import Enum


class EhEncoding(Enum):
    DEFAULT = "default"  # whatever the compiler emits (legacy for rustc 1.96)
    LEGACY = "legacy"
    EXNREF = "exnref"


def std_crates(unwind: bool) -> str:
    """The crates `-Zbuild-std` compiles: std with the build's panic runtime."""
    return "std,panic_unwind" if unwind else "std,panic_abort"


def build_std_flag(unwind: bool) -> str:
    return f"-Zbuild-std={std_crates(unwind)}"


def eh_rustflags(encoding: EhEncoding) -> list[str]:
    if encoding is EhEncoding.LEGACY:
        return ["-Cllvm-args=-wasm-use-legacy-eh=true"]
    if encoding is EhEncoding.EXNREF:
        return ["-Cllvm-args=-wasm-use-legacy-eh=false"]
    return []


def panic_rustflags(unwind: bool, encoding: EhEncoding) -> list[str]:
    """The rustflags of the build's panic strategy: none for panic=abort (the wasm32
    target's own), `-Cpanic=unwind` and the EH encoding's flag for panic=unwind."""
    return ["-Cpanic=unwind", *eh_rustflags(encoding)] if unwind else []
