"""The wasm-opt step (build/steps/wasm_opt.py): the command line it runs over wasm-bindgen's
module, the optimized module taking its name, and the bytes it saved. wasm-opt is a fake
that records its arguments and writes a smaller module; the real one runs in
tests/integration/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from tests.support.stepctx import isolate, step_context
from worker_build.build.context import BuildContext
from worker_build.build.options import WASM_OPT_FEATURES
from worker_build.build.steps import wasm_opt
from worker_build.errors import CommandFailedError
from worker_build.tools.tool import Source

BINDGEN_OUTPUT = b"\0asm\1\0\0\0" + bytes(1000)
OPTIMIZED = b"optimized"  # what the fake writes (the size is what the step measures)


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)


def fake_wasm_opt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes: bytes | None = OPTIMIZED
) -> Path:
    """WASM_OPT_BIN: binaryen 132's wasm-opt that logs its command line (one argument a
    line, to tmp_path/argv) and writes `writes` to the file after -o (None: fails)."""
    log = tmp_path / "argv"
    if writes is None:
        then = 'echo "[wasm-validator error] bad module" >&2; exit 1'
    else:
        then = f'for arg; do out="$arg"; done\nprintf %s "{writes.decode()}" > "$out"'
    exe = fake_exe(
        tmp_path / "tools" / "wasm-opt",
        f"""if [ "$1" = --version ]; then echo "wasm-opt version 132 (version_132)"; exit 0; fi
printf '%s\\n' "$0" "$@" > "{log}"
{then}""",
    )
    monkeypatch.setenv("WASM_OPT_BIN", str(exe))
    return exe


def bindgen_output(ctx: BuildContext) -> Path:
    module = ctx.bindgen_dir / "index_bg.wasm"
    module.parent.mkdir(parents=True)
    module.write_bytes(BINDGEN_OUTPUT)
    return module


def test_runs_over_the_bindgen_module_and_keeps_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = fake_wasm_opt(tmp_path, monkeypatch)
    ctx = step_context(tmp_path)
    module = bindgen_output(ctx)
    wasm_opt.run(ctx)
    renamed = ctx.bindgen_dir / "index_bg.wasm-opt.wasm"
    assert (tmp_path / "argv").read_text().splitlines() == [
        str(exe),
        "-O",
        *WASM_OPT_FEATURES,
        "--debuginfo",
        str(module),
        "-o",
        str(renamed),
    ]
    assert module.read_bytes() == OPTIMIZED
    assert sorted(p.name for p in ctx.bindgen_dir.iterdir()) == ["index_bg.wasm"]  # no leftover
    assert ctx.facts == {"wasm_opt_saved_bytes": len(BINDGEN_OUTPUT) - len(OPTIMIZED)}
    tool = ctx.tools["wasm-opt"]
    assert (tool.path, tool.version, tool.source) == (exe, "132", Source.ENV)


def test_configured_arguments_replace_the_default_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`wasm-opt = [...]` in [package.metadata.worker-build] (README): those arguments,
    then the features workerd needs and --debuginfo, as for the default -O."""
    exe = fake_wasm_opt(tmp_path, monkeypatch)
    ctx = step_context(tmp_path, {"worker-build": {"wasm-opt": ["-Oz", "--strip-debug"]}})
    module = bindgen_output(ctx)
    wasm_opt.run(ctx)
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[:3] == [str(exe), "-Oz", "--strip-debug"]
    assert argv[3:] == [*WASM_OPT_FEATURES, "--debuginfo", str(module), "-o", f"{module}-opt.wasm"]


def test_a_larger_output_saves_negative_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_wasm_opt(tmp_path, monkeypatch, writes=b"x" * (len(BINDGEN_OUTPUT) + 5))
    ctx = step_context(tmp_path)
    bindgen_output(ctx)
    wasm_opt.run(ctx)
    assert ctx.facts["wasm_opt_saved_bytes"] == -5


def test_a_failure_leaves_the_bindgen_module_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_wasm_opt(tmp_path, monkeypatch, writes=None)
    ctx = step_context(tmp_path)
    module = bindgen_output(ctx)
    with pytest.raises(CommandFailedError, match="wasm-opt exited with code 1") as info:
        wasm_opt.run(ctx)
    assert "bad module" in info.value.output
    assert module.read_bytes() == BINDGEN_OUTPUT
    assert "wasm_opt_saved_bytes" not in ctx.facts


@pytest.mark.parametrize("raw", [{"no_opt": True}, {"dev": True}], ids=["no-opt", "dev"])
def test_only_scheduled_when_wasm_opt_is_on(tmp_path: Path, raw: dict[str, bool]) -> None:
    ctx = step_context(tmp_path, **raw)
    assert ctx.options.wasm_opt_args is None
    with pytest.raises(AssertionError, match="only schedules this step when wasm-opt is on"):
        wasm_opt.run(ctx)
