"""Writes small crate fixtures (Cargo.toml + Cargo.lock) for pre-flight tests."""

from __future__ import annotations

from pathlib import Path

GOOD_MANIFEST = """\
[package]
name = "my-worker"
version = "0.1.0"
edition = "2021"

[lib]
crate-type = ["cdylib"]

[dependencies]
worker = "0.8"
"""


def lock(**versions: str) -> str:
    body = ["version = 4", ""]
    for name, version in versions.items():
        body += ["[[package]]", f'name = "{name.replace("_", "-")}"', f'version = "{version}"', ""]
    return "\n".join(body)


def write_crate(
    root: Path,
    manifest: str = GOOD_MANIFEST,
    lockfile: str | None = None,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Cargo.toml").write_text(manifest)
    if lockfile is None:
        lockfile = lock(worker="0.8.7", wasm_bindgen="0.2.130")
    if lockfile:
        (root / "Cargo.lock").write_text(lockfile)
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "lib.rs").write_text("")
    return root
