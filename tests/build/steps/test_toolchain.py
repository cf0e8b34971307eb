"""The toolchain step (build/steps/toolchain.py): the toolchain it chooses goes into the
build's context, and the summary note and the JSON report say which ones were passed
over and why. Discovery itself: tests/rust/test_toolchain.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_rustc, rustup_toolchain
from tests.support.rustmachine import NIGHTLY, bare_machine, no_caller_toolchain, rustup
from worker_build.build.context import BuildContext
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import toolchain as toolchain_step
from worker_build.errors import ToolchainError
from worker_build.rust import toolchain


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    no_caller_toolchain(monkeypatch, tmp_path)
    monkeypatch.delenv("CUSTOM_SHIM", raising=False)
    return bare_machine(tmp_path, monkeypatch)


def test_the_build_reports_what_was_passed_over(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary (a note) and the JSON report say which toolchain was chosen and why
    the others were not."""
    nightly = rustup_toolchain(home, NIGHTLY, "1.97.0-nightly")
    rustup(home, (NIGHTLY, nightly, "active, default"))
    distro = fake_rustc(home / "usr" / "bin", home / "usr", std_src=True)
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", (distro,))
    options = resolve(RawArgs(panic_unwind=True), home, {})
    ctx = BuildContext(options=options, staging=home / "staging")
    toolchain_step.run(ctx)
    assert ctx.facts["toolchain"] == f"rustc 1.96.0 (stable, {distro})"
    assert ctx.facts["toolchain_rejected"] == [
        {
            "origin": "rustup nightly",
            "rustc": str(nightly / "bin" / "rustc"),
            "reason": "no std sources (rust-src)",
        },
    ]
    assert ctx.notes == [
        f"toolchain: {distro} chosen; passed over: rustup nightly: no std sources (rust-src)"
    ]


def test_the_first_candidate_chosen_adds_no_note(home: Path) -> None:
    mine = fake_rustc(home / "mine", home / "sysroot", wasm_std=True)
    options = resolve(RawArgs(rustc=mine), home, {})
    ctx = BuildContext(options=options, staging=home / "staging")
    toolchain_step.run(ctx)
    tc = ctx.need_toolchain()
    assert tc.rustc == mine and tc.origin == "--rustc"
    assert ctx.facts == {"toolchain": tc.label, "toolchain_rejected": []}
    assert ctx.notes == []


def test_an_unusable_choice_fails_the_step_and_records_nothing(home: Path) -> None:
    mine = fake_rustc(home / "mine", home / "sysroot")  # no wasm32 std, no std sources
    options = resolve(RawArgs(rustc=mine), home, {})
    ctx = BuildContext(options=options, staging=home / "staging")
    with pytest.raises(ToolchainError):
        toolchain_step.run(ctx)
    assert ctx.toolchain is None and ctx.facts == {} and ctx.notes == []
