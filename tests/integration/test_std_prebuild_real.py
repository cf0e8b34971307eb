"""The host prebuild of steps/std.py with the real cargo and rustc: while a std cache
entry is built, the crate's own build compiles its host units (proc-macros, build
scripts), and the crate's build after it compiles none of them again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.paths import SAMPLES
from tests.support.builds import tool_env, wasm_bindgen_for, worker_build
from tests.support.fakes import fake_exe

# A RUSTC_WRAPPER that records, for every compilation, the rustc cargo ran (the std
# cache entry's, staged or final), the crate and whether it is a host unit.
WRAPPER = r"""
rustc="$1"; shift
name=""; target=host; prev=""
for a in "$@"; do
  [ "$prev" = "--crate-name" ] && name="$a"
  [ "$prev" = "--target" ] && target="$a"
  prev="$a"
done
# cargo's probes (`--crate-name ___ --print ...`) compile nothing
case "$name" in ""|___) ;; *) echo "$rustc $name $target" >> "$WRAPPER_LOG" ;; esac
exec "$rustc" "$@"
"""


@pytest.mark.slow
def test_a_cold_entry_build_leaves_no_host_unit_to_the_crates_build(tmp_path: Path) -> None:
    crate = tmp_path / "pure-exports"
    shutil.copytree(
        SAMPLES / "pure-exports", crate, ignore=shutil.ignore_patterns("target", "build")
    )
    bindgen = wasm_bindgen_for(crate)
    log = tmp_path / "rustc.log"
    env = {
        **tool_env(),
        "WORKER_BUILD_CACHE": str(tmp_path / "cache"),  # an empty std cache: the entry is built
        "WASM_BINDGEN_BIN": str(bindgen),  # the tools' cache is the user's
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
        "RUSTC_WRAPPER": str(fake_exe(tmp_path / "wrapper", WRAPPER)),
        "WRAPPER_LOG": str(log),
    }
    proc = worker_build(crate, "--panic-unwind", "--no-loader", "--json", env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert report["std"]["built"] is True
    assert report["std"]["proc_macros_meanwhile"]["packages"] >= 1
    entry = Path(report["std"]["path"])

    rows = [line.split() for line in log.read_text().splitlines()]
    staged = [(name, target) for rustc, name, target in rows if "/.tmp-" in rustc]
    final = [(name, target) for rustc, name, target in rows if rustc.startswith(str(entry))]
    host_before = {name for name, target in staged if target == "host"}
    assert "wasm_bindgen_macro" in host_before, staged
    # The crate's build found every host unit fresh: it compiled only wasm32 units.
    assert [unit for unit in final if unit[1] == "host"] == []
    assert ("pure_exports", "wasm32-unknown-unknown") in final
