"""The flags a wasm32 build hands cargo and rustc (rust/flags.py)."""

from __future__ import annotations

from worker_build.rust import flags
from worker_build.rust.flags import EhEncoding


def test_flags() -> None:
    assert flags.build_std_flag(True) == "-Zbuild-std=std,panic_unwind"
    assert flags.build_std_flag(False) == "-Zbuild-std=std,panic_abort"
    assert flags.std_crates(True) == "std,panic_unwind"
    assert flags.std_crates(False) == "std,panic_abort"
    assert flags.eh_rustflags(EhEncoding.DEFAULT) == []
    assert flags.eh_rustflags(EhEncoding.EXNREF) == ["-Cllvm-args=-wasm-use-legacy-eh=false"]
    assert flags.eh_rustflags(EhEncoding.LEGACY) == ["-Cllvm-args=-wasm-use-legacy-eh=true"]
    assert flags.panic_rustflags(False, EhEncoding.EXNREF) == []
    assert flags.panic_rustflags(True, EhEncoding.DEFAULT) == ["-Cpanic=unwind"]
    assert flags.panic_rustflags(True, EhEncoding.EXNREF) == [
        "-Cpanic=unwind",
        "-Cllvm-args=-wasm-use-legacy-eh=false",
    ]
