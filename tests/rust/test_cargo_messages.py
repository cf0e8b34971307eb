"""cargo's JSON messages picked out of its output (rust/cargo_messages.py)."""

from __future__ import annotations

import json

from worker_build.rust.cargo_messages import messages


def test_messages_of_one_reason_in_order_among_other_lines() -> None:
    artifact = {"reason": "compiler-artifact", "package_id": "wörk#1", "filenames": ["a.rlib"]}
    script = {"reason": "build-script-executed", "out_dir": "/t/日本/out"}
    output = "\n".join([
        "   Compiling wörk v0.1.0",
        json.dumps(artifact, ensure_ascii=False),
        "{not json at all",
        json.dumps(script),
        '["a list", "not an object"]',
        "{}",
        json.dumps({**artifact, "package_id": "second#1"}),
        "error: could not compile `x`",
    ])  # fmt: skip
    assert [m["package_id"] for m in messages(output, "compiler-artifact")] == [
        "wörk#1",
        "second#1",
    ]
    assert list(messages(output, "build-script-executed")) == [script]
    assert list(messages(output, "build-finished")) == []
    assert list(messages("", "compiler-artifact")) == []
