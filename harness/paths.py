"""Where the checkout keeps what the harness uses: sample crates, pinned npm tools, caches."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "sample-crates"
CACHE = REPO / ".cache"  # setup.sh's Node 22, the tests' cargo target dirs and builds
NODE_BIN = REPO / "node_modules" / ".bin"
BENCH = CACHE / "bench"  # the real worker-build, its toolchain and the benchmarks' builds
