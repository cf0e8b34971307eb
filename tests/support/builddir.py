"""A stand-in worker-build output directory for tests of the workerd config and process."""

from __future__ import annotations

from pathlib import Path


def fake_build_dir(parent: Path) -> Path:
    """`parent/build` with the files a served build's config names (index.js and an empty
    wasm module); enough for a config, not for workerd to run the Worker."""
    out = parent / "build"
    out.mkdir(parents=True)
    (out / "index.js").write_text("export default {}")
    (out / "index_bg.wasm").write_bytes(b"\0asm\1\0\0\0")
    return out
