"""The verify step (build/steps/verify.py): what it records about the staged module's
exception handling, and when it fails the build (a --panic-unwind build that cannot
unwind, or not in the encoding asked for). Modules are small hand-made ones shaped like
wasm-bindgen's output (tests/support/ehmodules.py); the decoding itself is tested in
tests/wasm/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.ehmodules import EXNREF, JS_WRAPPER, LEGACY, PLAIN, RUST_THROW, wb_module
from tests.support.stepctx import isolate, step_context
from worker_build.build.context import BuildContext
from worker_build.build.steps import verify
from worker_build.errors import (
    EXIT_INVALID_WASM,
    EXIT_NO_EH,
    InvalidWasmError,
    NoExceptionHandlingError,
)
from worker_build.rust.flags import EhEncoding
from worker_build.wasm.eh import inspect_bytes


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def staged(tmp_path: Path, module: bytes, **raw: Any) -> BuildContext:
    """A context whose staged output holds `module` where the Worker loads it."""
    ctx = step_context(tmp_path, **raw)
    ctx.output_module.parent.mkdir(parents=True)
    ctx.output_module.write_bytes(module)
    return ctx


def test_every_eh_encoding_maps_to_what_the_verifier_expects() -> None:
    assert set(verify.EXPECT) == set(EhEncoding)
    assert verify.EXPECT[EhEncoding.LEGACY] == "legacy"
    assert verify.EXPECT[EhEncoding.EXNREF] == "exnref"
    assert verify.EXPECT[EhEncoding.DEFAULT] == "any"


@pytest.mark.parametrize(
    ("code", "encoding", "raw"),
    [
        (LEGACY, "legacy", {}),
        (EXNREF, "exnref", {}),
        (LEGACY, "legacy", {"eh_encoding": "legacy"}),
        (EXNREF, "exnref", {"eh_encoding": "exnref"}),
    ],
    ids=["legacy", "exnref", "legacy-asked", "exnref-asked"],
)
def test_an_unwinding_build_records_its_encoding_and_the_report(
    tmp_path: Path, code: bytes, encoding: str, raw: dict[str, str]
) -> None:
    module = wb_module(code, RUST_THROW, PLAIN)
    ctx = staged(tmp_path, module, panic_unwind=True, **raw)
    verify.run(ctx)
    assert ctx.eh_encodings == (encoding,)
    assert ctx.facts["eh_encoding"] == encoding
    # named where the user finds it once the build is installed, not in the staging dir
    report = inspect_bytes(module, str(ctx.options.out_dir / "index_bg.wasm"))
    expect = raw.get("eh_encoding", "any")
    assert ctx.facts["eh"] == report.check(expect).to_json()
    assert ctx.facts["eh"]["expect"] == expect and ctx.facts["eh"]["can_unwind"] is True


def test_both_encodings_are_joined(tmp_path: Path) -> None:
    ctx = staged(tmp_path, wb_module(LEGACY, EXNREF), panic_unwind=True)
    verify.run(ctx)
    assert ctx.eh_encodings == ("legacy", "exnref")
    assert ctx.facts["eh_encoding"] == "legacy+exnref"


def test_the_legacy_layout_is_verified_where_it_puts_the_module(tmp_path: Path) -> None:
    ctx = staged(tmp_path, wb_module(LEGACY), panic_unwind=True, no_panic_recovery=True)
    assert ctx.output_module == ctx.out_dir / "worker" / "index.wasm"
    verify.run(ctx)
    assert ctx.facts["eh"]["file"] == str(ctx.options.out_dir / "worker" / "index.wasm")


@pytest.mark.parametrize(
    ("code", "encodings"),
    [(PLAIN, ()), (JS_WRAPPER, ("exnref",)), (RUST_THROW, ())],
    ids=["no-eh", "bindgen-wrappers-only", "throw-only"],
)
def test_a_panic_abort_build_without_unwinding_passes_as_none(
    tmp_path: Path, code: bytes, encodings: tuple[str, ...]
) -> None:
    """wasm-bindgen wraps JS calls in try_table blocks even in panic=abort builds: the
    encodings are recorded for the python loader step, the summary says none."""
    ctx = staged(tmp_path, wb_module(code))
    verify.run(ctx)
    assert ctx.eh_encodings == encodings
    assert ctx.facts == {"eh_encoding": "none (panic=abort)"}


def test_a_panic_abort_build_that_can_unwind_reports_it(tmp_path: Path) -> None:
    ctx = staged(tmp_path, wb_module(LEGACY))
    verify.run(ctx)
    assert ctx.facts["eh_encoding"] == "legacy" and ctx.facts["eh"]["expect"] == "any"


@pytest.mark.parametrize(
    ("code", "why"),
    [
        (PLAIN, "contains no exception-handling instructions"),
        (RUST_THROW, "has only `throw`"),
        (JS_WRAPPER, "only in wasm-bindgen's JS-exception wrappers"),
    ],
    ids=["no-eh", "throw-only", "bindgen-wrappers-only"],
)
def test_an_unwind_build_that_cannot_unwind_fails(tmp_path: Path, code: bytes, why: str) -> None:
    ctx = staged(tmp_path, wb_module(code), panic_unwind=True)
    with pytest.raises(NoExceptionHandlingError) as info:
        verify.run(ctx)
    assert info.value.exit_code == EXIT_NO_EH
    prefix = "--panic-unwind build produced a module without the expected exception handling: "
    assert info.value.message.startswith(prefix + str(ctx.options.out_dir / "index_bg.wasm"))
    assert why in info.value.message
    # not verify's "build with --panic-unwind": this build was one
    assert info.value.fix == verify.CANNOT_UNWIND_FIX
    assert "eh" not in ctx.facts and "eh_encoding" not in ctx.facts


@pytest.mark.parametrize(("asked", "code", "fix"), [
    ("exnref", LEGACY, "-Cllvm-args=-wasm-use-legacy-eh=false"),
    ("legacy", EXNREF, "-Cllvm-args=-wasm-use-legacy-eh (do not pass =false)"),
])  # fmt: skip
def test_the_other_encoding_than_asked_fails_with_how_to_get_it(
    tmp_path: Path, asked: str, code: bytes, fix: str
) -> None:
    ctx = staged(tmp_path, wb_module(code, RUST_THROW), panic_unwind=True, eh_encoding=asked)
    with pytest.raises(NoExceptionHandlingError, match=f"expected {asked}$") as info:
        verify.run(ctx)
    assert fix in (info.value.fix or "")
    assert "eh_encoding" not in ctx.facts


def test_bytes_that_are_no_module_are_invalid_wasm(tmp_path: Path) -> None:
    ctx = staged(tmp_path, b"\0asm\1\0\0\0\x01\x05", panic_unwind=True)
    with pytest.raises(InvalidWasmError) as info:
        verify.run(ctx)
    assert info.value.exit_code == EXIT_INVALID_WASM
    assert ctx.facts == {}
