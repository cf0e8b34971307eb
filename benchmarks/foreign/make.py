"""Build a module we did not generate, for the verify benchmark: workers-rs's own test
crate (`worker-sandbox`, the `test/` folder of cloudflare/workers-rs), as a user would
build it with this tool (`--release --panic-unwind`).

    .venv/bin/python benchmarks/foreign/make.py [--workers-rs GIT_DIR] [--commit REV]

The crate's files are taken from a git copy of workers-rs at a pinned commit (nothing of
it is committed here) into .cache/foreign/worker-sandbox/. In the workers-rs workspace
it depends on path crates and a wasm-bindgen submodule, so it gets a standalone
Cargo.toml: the same dependencies with crates.io versions (`worker` =0.8.7, the one
worker-build 0.8.7 pairs with; wasm-bindgen =0.2.130) and the workspace's release
profile (opt-level "z", LTO, one codegen unit). The first build takes a while (20+
minutes on 2 busy cores). Prints the paths of two modules:

- out-unwind/index_bg.wasm: the Worker's module, legacy EH (rustc 1.96);
- out-unwind/loader_bg.wasm: the same module translated to exnref by binaryen's
  wasm-opt (the Python loader's copy).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "foreign"
DEFAULT_GIT = Path("/work/.mirror/cloudflare+workers-rs/repo")
PINNED = "bb141710"  # workers-rs main of 2026-08-20

# crates.io versions for the workspace's `x.workspace = true` dependencies.
WORKSPACE_DEPS = {
    "futures-channel": 'futures-channel = "0.3.31"',
    "futures-util": 'futures-util = { version = "0.3.31", default-features = false }',
    "http": 'http = "1.3"',
    "serde": 'serde = { version = "1.0.164", features = ["derive"] }',
    "serde_json": 'serde_json = "1.0.140"',
    "worker": 'worker = { version = "=0.8.7", features = ["queue", "d1", "axum", "timezone"] }',
    "serde-wasm-bindgen": 'serde-wasm-bindgen = "0.6.5"',
    "wasm-bindgen": 'wasm-bindgen = "=0.2.130"',
}
PROFILE = """
# From the workers-rs workspace root (this crate is built on its own here).
[profile.release]
opt-level = "z"
codegen-units = 1
lto = true

[profile.release.package."*"]
codegen-units = 1
opt-level = "z"

[workspace]
"""


def standalone_manifest(text: str) -> str:
    lines = []
    for line in text.split("[dev-dependencies]")[0].splitlines():
        found = re.match(r"^([\w-]+)\.workspace = true$", line)
        lines.append(WORKSPACE_DEPS[found.group(1)] if found else line)
    return "\n".join(lines) + "\n" + PROFILE


def extract(git_dir: Path, commit: str, dest: Path) -> None:
    if (dest / "src" / "lib.rs").is_file():
        return
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(git_dir), "archive", commit, "test/src", "test/Cargo.toml"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(
        ["tar", "-x", "--strip-components=1", "-C", str(dest)], input=archive, check=True
    )
    manifest = dest / "Cargo.toml"
    manifest.write_text(standalone_manifest(manifest.read_text()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers-rs", type=Path, default=DEFAULT_GIT, help="a git dir of workers-rs")
    ap.add_argument("--commit", default=PINNED)
    args = ap.parse_args()
    crate = CACHE / "worker-sandbox"
    extract(args.workers_rs, args.commit, crate)
    out = CACHE / "out-unwind"
    env = dict(os.environ, CARGO_TARGET_DIR=str(CACHE / "target-unwind"))
    env.setdefault("WORKER_BUILD_RUSTC", "/usr/bin/rustc")
    env["PATH"] = os.pathsep.join([str(ROOT / "node_modules/.bin"), env.get("PATH", "")])
    worker_build = Path(sys.executable).with_name("worker-build")
    subprocess.run(
        ["nice", "-n", "10", str(worker_build), str(crate), "--release", "--panic-unwind",
         "--out-dir", str(out)],
        env=env, check=True,
    )  # fmt: skip
    for name in ("index_bg.wasm", "loader_bg.wasm"):
        print(out / name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
