"""The host prebuild of steps/std.py with the real cargo and rustc: while a std cache
entry is built, the crate's own build compiles its host units (proc-macros, build
scripts), and the crate's build after it compiles none of them again; a wasm32 build
script that probed the target before std existed runs again, with std in place."""

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

# A dependency whose build script asks the target what it can compile, as autocfg does
# (num-traits: `f64::total_cmp`), and whose lib refuses to build on a failed answer.
PROBE_BUILD_RS = r"""
use std::{env, fs::OpenOptions, io::Write, path::PathBuf, process::Command};

fn main() {
    println!("cargo:rustc-check-cfg=cfg(target_probe_ok)");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let src = out.join("probe.rs");
    std::fs::write(&src, "pub fn f(a: f64, b: f64) -> core::cmp::Ordering { a.total_cmp(&b) }")
        .unwrap();
    let rustc = env::var("RUSTC").unwrap();
    let ok = Command::new(&rustc)
        .args(["--crate-type=lib", "--emit=metadata", "--target", &env::var("TARGET").unwrap()])
        .arg("--out-dir").arg(&out).arg(&src)
        .status().unwrap().success();
    if ok {
        println!("cargo:rustc-cfg=target_probe_ok");
    }
    let mut log = OpenOptions::new().append(true).create(true)
        .open(env::var_os("PROBE_LOG").unwrap()).unwrap();
    writeln!(log, "{rustc} {}", if ok { "ok" } else { "failed" }).unwrap();
}
"""
PROBE_LIB_RS = """
#[cfg(not(target_probe_ok))]
compile_error!("the build script's probe of the target failed");
pub fn probed() {}
"""


def add_probing_dependency(crate: Path) -> None:
    probe = crate.parent / "target-probe"
    (probe / "src").mkdir(parents=True)
    (probe / "Cargo.toml").write_text(
        '[package]\nname = "target-probe"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (probe / "build.rs").write_text(PROBE_BUILD_RS)
    (probe / "src" / "lib.rs").write_text(PROBE_LIB_RS)
    manifest = crate / "Cargo.toml"
    manifest.write_text(
        manifest.read_text().replace(
            "[dependencies]\n", '[dependencies]\ntarget-probe = { path = "../target-probe" }\n'
        )
    )


@pytest.mark.slow
def test_a_cold_entry_build_leaves_no_host_unit_to_the_crates_build(tmp_path: Path) -> None:
    crate = tmp_path / "pure-exports"
    shutil.copytree(
        SAMPLES / "pure-exports", crate, ignore=shutil.ignore_patterns("target", "build")
    )
    bindgen = wasm_bindgen_for(crate)
    add_probing_dependency(crate)
    log, probe_log = tmp_path / "rustc.log", tmp_path / "probe.log"
    env = {
        **tool_env(),
        "WORKER_BUILD_CACHE": str(tmp_path / "cache"),  # an empty std cache: the entry is built
        "WASM_BINDGEN_BIN": str(bindgen),  # the tools' cache is the user's
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
        "RUSTC_WRAPPER": str(fake_exe(tmp_path / "wrapper", WRAPPER)),
        "WRAPPER_LOG": str(log),
        "PROBE_LOG": str(probe_log),
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

    # The probe: whatever it answered in the prebuild (std was not there yet), that run
    # was forgotten, and the crate's build ran it again through the finished entry.
    probes = [line.rsplit(" ", 1) for line in probe_log.read_text().splitlines()]
    assert probes[-1] == [str(entry / "bin" / "rustc"), "ok"], probes
    rerun = report["std"]["proc_macros_meanwhile"]["rerun"]
    if len(probes) > 1:
        assert "/.tmp-" in probes[0][0]
        assert any(unit.startswith("target-probe-") for unit in rerun), rerun
