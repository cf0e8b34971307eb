"""Our worker-build and the real one as two `Tool`s building the same private copy of
hello-worker (.cache/bench/crates/hello-worker), for compare_real.py, load.py and
std_cache.py.

Both tools get the benchmark toolchain (harness/bench_toolchain.py) and the same
wasm-bindgen, wasm-opt and esbuild; each has its own CARGO_TARGET_DIR and out dir per
mode (.cache/bench/target-<tool>-<mode>, out-<tool>-<mode>). The copy means touching or
editing its source never disturbs other builds of the sample.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness.bench_toolchain import bench_toolchain
from harness.machine import Sample, timed_run
from harness.paths import BENCH, SAMPLES
from harness.realtool import OURS, install_real, real_version, snapshot_ours
from worker_build.build.crate import load_crate

SAMPLE = SAMPLES / "hello-worker"
CRATE = BENCH / "crates" / "hello-worker"
ORIGINAL_TEXT = "hello from hello-worker"


@dataclass
class Tool:
    name: str  # "real" or "ours"
    argv: list[str]
    env: dict[str, str]
    target: Path
    out: Path
    extra: list[str] = field(default_factory=list)

    def build(self) -> Sample:
        argv = [*self.argv, str(CRATE), "--release", "-d", str(self.out), *self.extra]
        logf = BENCH / f"last-{self.name}.log"
        with logf.open("w") as fh:
            proc, sample = timed_run(argv, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise SystemExit(
                f"{self.name} build failed ({proc.returncode}); see {logf}:\n"
                + logf.read_text()[-4000:]
            )
        return sample

    def help(self) -> Sample:
        proc, sample = timed_run([*self.argv, "--help"], env=self.env, capture_output=True)
        # the real 0.8.7 prints its help through an error path and exits 1
        text = proc.stdout + proc.stderr
        if "Usage" not in text and "usage" not in text:
            raise SystemExit(f"{self.name} --help printed no usage:\n{text}")
        return sample

    def clean(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)


@dataclass(frozen=True)
class Contenders:
    real: Tool
    ours: Tool
    real_version: str
    ours_commit: str  # notes uncommitted changes, which are not measured

    @property
    def tools(self) -> list[Tool]:
        return [self.real, self.ours]


def contenders(unwind: bool, ours_args: list[str]) -> Contenders:
    """Both tools for panic=unwind (`--panic-unwind` for both) or the default build,
    `ours_args` added to ours only; the real tool installed, the toolchain and our
    snapshot made, if missing."""
    version = real_version()
    real_exe = install_real(version)
    toolchain = bench_toolchain()
    ours_src, commit = snapshot_ours()
    base = toolchain.env(unwind)
    bindgen = load_crate(SAMPLE).wasm_bindgen_version
    base["WASM_BINDGEN_BIN"] = str(
        Path.home() / ".cache/worker-build/wasm-bindgen" / bindgen / "bin" / "wasm-bindgen"
    )
    extra = ["--panic-unwind"] if unwind else []
    mode = "unwind" if unwind else "abort"

    def tool(name: str, argv: list[str], env: dict[str, str], own: list[str]) -> Tool:
        target = BENCH / f"target-{name}-{mode}"
        env["CARGO_TARGET_DIR"] = str(target)
        return Tool(name, argv, env, target, BENCH / f"out-{name}-{mode}", [*extra, *own])

    return Contenders(
        tool("real", [str(real_exe)], dict(base), []),
        tool("ours", [str(OURS)], dict(base, PYTHONPATH=str(ours_src)), ours_args),
        version,
        commit,
    )


def fresh_crate() -> None:
    """The private copy of hello-worker, made again from the sample."""
    shutil.rmtree(CRATE, ignore_errors=True)
    shutil.copytree(SAMPLE, CRATE, ignore=shutil.ignore_patterns("target", "build"))


def set_text(n: int | None) -> None:
    """The copy's response text: the sample's (None) or one marked with `n`."""
    lib = CRATE / "src" / "lib.rs"
    original = (SAMPLE / "src" / "lib.rs").read_text()
    text = original if n is None else original.replace(ORIGINAL_TEXT, f"{ORIGINAL_TEXT} #{n}")
    assert n is None or text != original
    lib.write_text(text)
