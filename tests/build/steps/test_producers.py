"""The producers step (build/steps/producers.py): the SDK entry of the Rust tool."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.paths import SAMPLES
from tests.support.builds import Built
from tests.support.producers import (
    BINDGEN_FIELDS,
    SDK,
    WASM_TOOLS,
    payload,
    small_module,
    wasm_tools_producers,
)
from worker_build.build.crate import load_crate
from worker_build.build.steps import producers as step


class _Ctx:
    """The part of a BuildContext the step reads and writes."""

    def __init__(self, bindgen_dir: Path) -> None:
        self.bindgen_dir = bindgen_dir
        self.facts: dict[str, object] = {}


def test_step_writes_the_sdk_entry_of_the_rust_tool(tmp_path: Path) -> None:
    module_path = tmp_path / "index_bg.wasm"
    module_path.write_bytes(small_module(("producers", payload(BINDGEN_FIELDS))))
    ctx = _Ctx(tmp_path)
    step.run(ctx)  # type: ignore[arg-type]
    assert step.SDK_ENTRY == SDK
    assert wasm_tools_producers(module_path)["sdk"] == {"workers-rs": "0.8.7"}
    assert ctx.facts["producers_sdk"] == "workers-rs 0.8.7"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index_bg.wasm"]  # no leftovers


@pytest.mark.slow
def test_built_module_carries_the_sdk_entry(hello_unwind: Built) -> None:
    validate_args = ["--features", "all"]  # legacy EH needs legacy-exceptions
    subprocess.run([str(WASM_TOOLS), "validate", *validate_args, str(hello_unwind.wasm)],
                   check=True, capture_output=True)  # fmt: skip
    seen = wasm_tools_producers(hello_unwind.wasm)
    _, sdk, version = step.SDK_ENTRY
    assert seen["sdk"] == {sdk: version}
    # wasm-bindgen's entries kept: the version hello-worker's Cargo.lock locks
    locked = load_crate(SAMPLES / "hello-worker").wasm_bindgen_version
    assert seen["processed-by"]["wasm-bindgen"] == locked
    # one producers section, as wasm-objdump lists the custom sections
    objdump = subprocess.run(
        [str(WASM_TOOLS.with_name("wasm-objdump")), "-x", str(hello_unwind.wasm)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert objdump.count('- name: "producers"') == 1
