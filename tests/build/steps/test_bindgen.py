"""The wasm-bindgen step (build/steps/bindgen.py): the command line it runs (README, "What
a build does", step 5) and what it says when the wasm-bindgen it was given cannot read
the crate. wasm-bindgen is a fake that records its arguments; the real one runs in
tests/integration/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from tests.support.stepctx import isolate, step_context
from worker_build.build.context import BuildContext
from worker_build.build.steps import bindgen
from worker_build.errors import (
    EXIT_TOOL_FAILED,
    EXIT_TOOL_MISSING,
    CommandFailedError,
    ToolMissingError,
)
from worker_build.tools.tool import Source

LOCKED = "0.2.130"  # what tests/support/cratefix.py locks
RECOVERY_FLAGS = ["--experimental-reset-state-function", "--force-enable-abort-handler"]


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def fake_bindgen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str = LOCKED, then: str = ""
) -> tuple[Path, Path]:
    """WASM_BINDGEN_BIN: a wasm-bindgen reporting `version` that writes its command line,
    one argument a line, to the returned log, then runs `then`."""
    log = tmp_path / "argv"
    exe = fake_exe(
        tmp_path / "tools" / "wasm-bindgen",
        f"""if [ "$1" = --version ]; then echo "wasm-bindgen {version}"; exit 0; fi
printf '%s\\n' "$0" "$@" > "{log}"
{then}""",
    )
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(exe))
    return exe, log


def expected_argv(ctx: BuildContext, exe: Path, target: str) -> list[str]:
    return [
        str(exe),
        str(ctx.need_artifact()),
        "--out-dir",
        str(ctx.bindgen_dir),
        "--target",
        target,
        "--out-name",
        "index",
        "--no-typescript",
    ]


@pytest.mark.parametrize(
    ("raw", "debug"),
    [
        ({}, False),
        ({"release": True}, False),
        ({"profiling": True}, False),
        ({"profile": "small"}, False),
        ({"dev": True}, True),
        ({"profile": "dev"}, True),
    ],
    ids=["default", "release", "profiling", "custom-profile", "dev", "profile-dev"],
)
def test_module_target_with_the_recovery_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: dict[str, object], debug: bool
) -> None:
    exe, log = fake_bindgen(tmp_path, monkeypatch)
    ctx = step_context(tmp_path, **raw)
    bindgen.run(ctx)
    expected = [*expected_argv(ctx, exe, "module"), *RECOVERY_FLAGS]
    assert log.read_text().splitlines() == ([*expected, "--debug"] if debug else expected)
    assert ctx.bindgen_dir.is_dir()  # made for wasm-bindgen to write into
    tool = ctx.tools["wasm-bindgen"]
    assert (tool.path, tool.version, tool.source) == (exe, LOCKED, Source.ENV)
    assert ctx.notes == []


@pytest.mark.parametrize("dev", [False, True])
def test_no_panic_recovery_is_the_legacy_bundler_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dev: bool
) -> None:
    exe, log = fake_bindgen(tmp_path, monkeypatch)
    ctx = step_context(tmp_path, no_panic_recovery=True, dev=dev)
    bindgen.run(ctx)
    expected = expected_argv(ctx, exe, "bundler")
    assert log.read_text().splitlines() == ([*expected, "--debug"] if dev else expected)


def test_custom_shim_is_the_legacy_bundler_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe, log = fake_bindgen(tmp_path, monkeypatch)
    shim = tmp_path / "shim.js"
    shim.write_text("// a user's template\n")
    monkeypatch.setenv("CUSTOM_SHIM", str(shim))
    ctx = step_context(tmp_path)
    bindgen.run(ctx)
    argv = log.read_text().splitlines()
    assert argv == expected_argv(ctx, exe, "bundler")
    assert not set(RECOVERY_FLAGS) & set(argv)


def test_another_version_than_the_locked_one_is_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WASM_BINDGEN_BIN is used as given (README, Tool resolution); the summary says it
    is not the version Cargo.lock locks."""
    fake_bindgen(tmp_path, monkeypatch, version="0.2.131")
    ctx = step_context(tmp_path)
    bindgen.run(ctx)
    assert ctx.tools["wasm-bindgen"].version == "0.2.131"
    assert ctx.notes == [f"WASM_BINDGEN_BIN is wasm-bindgen 0.2.131, Cargo.lock has {LOCKED}"]


def test_a_schema_mismatch_says_which_version_to_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bindgen(
        tmp_path,
        monkeypatch,
        version="0.2.131",
        then=f'echo "error: this module was made with a {bindgen.SCHEMA_MISMATCH} '
        'than this binary reads" >&2; exit 1',
    )
    ctx = step_context(tmp_path)
    with pytest.raises(ToolMissingError) as info:
        bindgen.run(ctx)
    assert info.value.exit_code == EXIT_TOOL_MISSING
    assert info.value.message == (
        f"wasm-bindgen 0.2.131 (env) cannot read this crate: Cargo.lock locks wasm-bindgen {LOCKED}"
    )
    assert info.value.fix == f"unset WASM_BINDGEN_BIN or point it at wasm-bindgen {LOCKED}"
    assert isinstance(info.value.__cause__, CommandFailedError)


def test_any_other_failure_is_wasm_bindgens_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_bindgen(tmp_path, monkeypatch, then='echo "error: no such export" >&2; exit 3')
    ctx = step_context(tmp_path)
    with pytest.raises(CommandFailedError) as info:
        bindgen.run(ctx)
    assert info.value.exit_code == EXIT_TOOL_FAILED and info.value.returncode == 3
    assert info.value.message == "wasm-bindgen exited with code 3"
    assert "error: no such export" in info.value.output
