"""pipeline.plan (which steps, in which order) and pipeline.build's handling of
background jobs, with stand-in steps (the real steps are tested on their own and,
end to end, in tests/integration/test_build_real.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cratefix import lock, write_crate
from tests.support.fakes import fake_exe
from worker_build.build import pipeline
from worker_build.build.context import BuildContext
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import python_loader
from worker_build.errors import CommandFailedError
from worker_build.util import proc


def names(**raw: object) -> list[str]:
    options = resolve(RawArgs(**raw), Path("/crate"), {})  # type: ignore[arg-type]
    return [step.name for step in pipeline.plan(options)]


TRANSLATION = python_loader.TRANSLATION_JOB


def test_plan_release_unwind_starts_the_loader_translation_before_wasm_opt() -> None:
    assert names(panic_unwind=True) == [
        "toolchain", "compile cache", "std", "cargo build", "wasm-bindgen", TRANSLATION,
        "wasm-opt", "producers", "bundle", "verify", "python loader", "install",
    ]  # fmt: skip
    assert names(panic_unwind=True, eh_encoding="legacy") == names(panic_unwind=True)
    assert "std" not in names(panic_unwind=True, no_std_cache=True)
    # --offline: every tool is looked up before the first build step
    assert names(panic_unwind=True, offline=True) == ["tools (offline)", *names(panic_unwind=True)]
    assert "compile cache" not in names(panic_unwind=True, no_compile_cache=True)


@pytest.mark.parametrize(
    "raw",
    [
        {},  # panic=abort: wasm-bindgen's wrappers are exnref, nothing to translate
        {"panic_unwind": True, "eh_encoding": "exnref"},
        {"panic_unwind": True, "no_loader": True},
    ],
)
def test_plan_without_a_translation(raw: dict[str, object]) -> None:
    assert TRANSLATION not in names(**raw)


def test_plan_dev_unwind_translates_without_wasm_opt() -> None:
    steps = names(panic_unwind=True, dev=True)
    assert "wasm-opt" not in steps
    assert steps.index(TRANSLATION) < steps.index("python loader")


class Quiet:
    def step_started(self, name: str) -> None: ...
    def step_finished(self, name: str, seconds: float) -> None: ...
    def step_failed(self, name: str, seconds: float) -> None: ...
    def waiting_for_lock(self, out_dir: Path) -> None: ...


def run_with_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, steps: list[pipeline.Step]
) -> Path:
    crate = write_crate(tmp_path / "crate")
    monkeypatch.setattr(pipeline, "plan", lambda options, **_: steps)
    pipeline.build(RawArgs(path=crate), Quiet())
    raise AssertionError("the steps were meant to fail")


def started_job(tmp_path: Path, seen: list[proc.Background]) -> Callable[[BuildContext], None]:
    """A step that starts a background job which blocks until it is killed, after
    writing its pid into the staging dir (the handshake the next step waits for)."""
    blocker = fake_exe(tmp_path / "bin" / "blocker", 'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; '
                       "exec sleep 600")  # fmt: skip

    def start(ctx: BuildContext) -> None:
        job = proc.Background([blocker, ctx.staging / "pid"])
        ctx.jobs["blocker"] = job
        seen.append(job)

    return start


def wait_for_pid(ctx: BuildContext) -> int:
    pid_file = ctx.staging / "pid"
    job = ctx.jobs["blocker"]
    while not pid_file.exists():  # the child's own handshake, not a timing guess
        assert job.child.poll() is None, "the blocker ended early"
        time.sleep(0.01)
    return int(pid_file.read_text())


@pytest.mark.parametrize("failure", [CommandFailedError(["wasm-opt"], 1, ""), KeyboardInterrupt()])
def test_a_failed_or_interrupted_build_stops_its_background_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    seen: list[proc.Background] = []
    pids: list[int] = []
    staging: list[Path] = []

    def fail(ctx: BuildContext) -> None:
        pids.append(wait_for_pid(ctx))
        staging.append(ctx.staging)
        raise failure

    steps = [pipeline.Step("start", started_job(tmp_path, seen)), pipeline.Step("fail", fail)]
    with pytest.raises(type(failure)):
        run_with_steps(tmp_path, monkeypatch, steps)
    [job] = seen
    assert job.child.returncode is not None  # ended and reaped by the pipeline
    assert pids == [job.child.pid]
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert not staging[0].exists()


def test_a_joined_job_reports_its_own_failure(tmp_path: Path) -> None:
    exe = fake_exe(tmp_path / "wasm-opt", "echo 'bad input' >&2; exit 4")
    job = proc.Background([exe, "x"], fix="use another wasm-opt")
    with pytest.raises(CommandFailedError, match="exited with code 4") as info:
        job.join()
    assert "bad input" in info.value.output and info.value.fix == "use another wasm-opt"
    job.stop()  # after join: nothing left to end, and no error


def test_the_checkpoint_is_marked_before_the_incremental_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the steps up to cargo's said is told apart from what the skipped ones said."""
    seen: list[tuple[int, frozenset[str]]] = []

    def before(ctx: BuildContext) -> None:
        ctx.notes.append("std built once")
        ctx.facts["std"] = {"built": True}

    def check(ctx: BuildContext) -> bool:
        seen.append((ctx.checkpoint_notes, ctx.checkpoint_facts))
        raise KeyboardInterrupt  # stop here: nothing after the check matters

    monkeypatch.setattr(pipeline.incremental, "up_to_date", check)
    steps = [pipeline.Step("std", before), pipeline.Step("cargo build", before, checkpoint=True)]
    with pytest.raises(KeyboardInterrupt):
        run_with_steps(tmp_path, monkeypatch, steps)
    assert seen == [(2, frozenset({"std"}))]


def test_the_lock_file_is_read_again_when_cargo_build_rewrote_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dependency bumped in Cargo.toml: cargo build updates the lock, and the later
    steps (wasm-bindgen's version) follow it, as the Rust tool's cargo metadata has them."""
    seen: list[str] = []

    def cargo_build(ctx: BuildContext) -> None:
        ctx.need_crate().lockfile.write_text(lock(worker="0.8.7", wasm_bindgen="0.2.131"))

    def check(ctx: BuildContext) -> bool:
        seen.append(ctx.need_crate().wasm_bindgen_version)
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.incremental, "up_to_date", check)
    with pytest.raises(KeyboardInterrupt):
        run_with_steps(
            tmp_path, monkeypatch, [pipeline.Step("cargo", cargo_build, checkpoint=True)]
        )
    assert seen == ["0.2.131"]
