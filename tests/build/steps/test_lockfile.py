"""The Cargo.lock step (build/steps/lockfile.py) with a fake cargo: its command lines, what
it reads back, its errors, and pre-flight's refusal under --locked/--frozen. One real cargo
writes a lock file in tests/integration/test_lockfile_real.py."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import assert_one_line_error, run
from tests.support.cratefix import GOOD_MANIFEST, lock, write_crate
from tests.support.fakes import fake_exe, fake_rustc
from tests.support.stepctx import isolate
from worker_build.build import crate as crate_mod
from worker_build.build import pipeline
from worker_build.build.context import BuildContext
from worker_build.build.crate import LockNeeded
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import cargo_errors, lockfile
from worker_build.errors import EXIT_CRATE, CommandFailedError, CrateError
from worker_build.rust import toolchain

WRITTEN = lock(worker="0.8.7", wasm_bindgen="0.2.130")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(tmp_path, monkeypatch)
    monkeypatch.delenv("WORKER_BUILD_RUSTC", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def fake_cargo(tmp_path: Path, writes: str | None = WRITTEN, fails: str | None = None) -> Path:
    """A rustc and a cargo beside it: `cargo update` logs its arguments and RUSTC as JSON
    lines and writes `writes` beside the manifest (or fails with `fails` on stderr);
    `cargo locate-project` answers the manifest it is given."""
    rustc = fake_rustc(tmp_path / "bin", tmp_path / "sysroot", std_src=True)
    log = tmp_path / "cargo.log"
    update = (
        f"echo {shlex.quote(fails)} >&2; exit 101"
        if fails is not None
        else f'printf %s {shlex.quote(writes or "")} > "$(dirname "$manifest")/Cargo.lock"'
    )
    fake_exe(
        tmp_path / "bin" / "cargo",
        f"""python3 -c 'import json, os, sys; print(json.dumps([sys.argv[1:], os.environ.get("RUSTC")]))' "$@" >> {shlex.quote(str(log))}
manifest=""
prev=""
for a in "$@"; do [ "$prev" = "--manifest-path" ] && manifest="$a"; prev="$a"; done
case "$1" in
  update) {update} ;;
  locate-project) echo "$manifest" ;;
esac""",
    )
    return rustc


def calls(tmp_path: Path) -> list[tuple[list[str], str]]:
    log = tmp_path / "cargo.log"
    if not log.exists():
        return []
    return [tuple(json.loads(line)) for line in log.read_text().splitlines()]  # type: ignore[misc]


def context(tmp_path: Path, rustc: Path, lockfile_text: str = "", **raw: Any) -> BuildContext:
    """The context after pre-flight and the toolchain step, for `tmp_path/crate` with
    `lockfile_text` as its Cargo.lock ("" for none)."""
    root = write_crate(tmp_path / "crate", GOOD_MANIFEST, lockfile_text)
    manifest = crate_mod.read_manifest(root)
    found = crate_mod.read_lock(manifest)
    assert isinstance(found, LockNeeded)
    options = resolve(RawArgs(path=root, **raw), root, {})
    ctx = BuildContext(options=options, staging=tmp_path / "staging", lock_needed=found)
    ctx.toolchain = toolchain.find_toolchain(rustc, unwind=False)
    return ctx


def test_no_lock_file_is_created_with_the_toolchains_cargo(tmp_path: Path) -> None:
    rustc = fake_cargo(tmp_path)
    ctx = context(tmp_path, rustc)
    lockfile.run(ctx)
    manifest = str((tmp_path / "crate" / "Cargo.toml").resolve())
    assert calls(tmp_path) == [
        (["update", "--workspace", "--manifest-path", manifest], str(rustc)),
        (["locate-project", "--workspace", "--message-format", "plain",
          "--manifest-path", manifest], str(rustc)),
    ]  # fmt: skip
    crate = ctx.need_crate()
    assert crate.wasm_bindgen_version == "0.2.130" and crate.worker_version == "0.8.7"
    assert crate.lockfile == (tmp_path / "crate" / "Cargo.lock").resolve()
    assert ctx.facts["lockfile"] == {"path": str(crate.lockfile), "written": "created"}
    assert ctx.notes == [
        f"{crate.lockfile} created by `cargo update --workspace` (as the Rust tool's "
        "`cargo metadata` would): wasm-bindgen 0.2.130; commit it"
    ]


def test_a_lock_file_without_wasm_bindgen_is_updated(tmp_path: Path) -> None:
    rustc = fake_cargo(tmp_path)
    ctx = context(tmp_path, rustc, lock(worker="0.8.7"))
    lockfile.run(ctx)
    assert ctx.facts["lockfile"]["written"] == "updated"
    assert ctx.need_crate().wasm_bindgen_version == "0.2.130"


@pytest.mark.parametrize(
    ("raw", "extra"),
    [
        ({"offline": True}, ["--offline"]),
        ({"quiet": True}, ["--quiet"]),
        ({"cargo_args": ("--offline",)}, ["--offline"]),
        # what changes the resolution goes on; the rest is for cargo build only
        (
            {"cargo_args": ("--config", "net.git-fetch-with-cli=true", "-Zminimal-versions",
                            "--features", "--offline", "-j4", "--release")},
            ["--config", "net.git-fetch-with-cli=true", "-Z", "minimal-versions"],
        ),
        ({"quiet": True, "cargo_args": ("-v",)}, []),  # cargo refuses --quiet with -v
    ],
)  # fmt: skip
def test_the_options_that_reach_cargo_update(
    tmp_path: Path, raw: dict[str, Any], extra: list[str]
) -> None:
    rustc = fake_cargo(tmp_path)
    ctx = context(tmp_path, rustc, **raw)
    argv = lockfile.command(ctx.options, ctx.need_toolchain(), tmp_path / "Cargo.toml")
    assert argv == [
        str(tmp_path / "bin" / "cargo"), "update", "--workspace",
        "--manifest-path", str(tmp_path / "Cargo.toml"), *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "fix"),
    [({}, cargo_errors.RESOLVE_FIX), ({"offline": True}, cargo_errors.OFFLINE_FIX)],
)
def test_cargo_failing_to_resolve_is_explained(
    tmp_path: Path, raw: dict[str, Any], fix: str
) -> None:
    rustc = fake_cargo(tmp_path, fails="error: no matching package named `worker` found")
    ctx = context(tmp_path, rustc, **raw)
    with pytest.raises(CommandFailedError) as info:
        lockfile.run(ctx)
    assert "no matching package named `worker` found" in info.value.message
    assert info.value.fix == fix
    assert ctx.crate is None


def test_a_crate_that_does_not_depend_on_wasm_bindgen(tmp_path: Path) -> None:
    rustc = fake_cargo(tmp_path, writes=lock(serde="1.0.0"))
    ctx = context(tmp_path, rustc)
    with pytest.raises(CrateError, match="does not depend on wasm-bindgen") as info:
        lockfile.run(ctx)
    assert info.value.exit_code == EXIT_CRATE
    assert "add the `worker` (or `wasm-bindgen`) dependency" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("lockfile_text", "args", "message"),
    [
        ("", ["--locked"], "no Cargo.lock for my-worker, and --locked forbids creating one"),
        ("", ["--", "--frozen"], "no Cargo.lock for my-worker, and --frozen forbids creating one"),
        (lock(worker="0.8.7"), ["--locked"], "does not lock wasm-bindgen, and --locked forbids adding it"),
    ],
)  # fmt: skip
def test_locked_or_frozen_refuses_to_write_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lockfile_text: str,
    args: list[str],
    message: str,
) -> None:
    """As cargo refuses: exit 3 at pre-flight, before any toolchain or cargo runs."""
    rustc = fake_cargo(tmp_path)
    root = write_crate(tmp_path / "crate", GOOD_MANIFEST, lockfile_text)
    code, _, err = run(capsys, str(root), "--rustc", str(rustc), *args)
    assert code == EXIT_CRATE
    assert_one_line_error(err, message, "run `cargo update --workspace` and commit Cargo.lock")
    assert "toolchain" not in err and calls(tmp_path) == []
    assert not (root / "build").exists()


def test_a_value_that_reads_locked_is_not_the_flag(tmp_path: Path) -> None:
    needed = LockNeeded(crate_mod.read_manifest(write_crate(tmp_path / "c", lockfile="")), None)
    assert lockfile.refusal(needed, ["--features", "--locked"]) is None
    assert lockfile.refusal(needed, ["--frozen"]) is not None


def test_the_step_is_planned_after_the_toolchain_only_when_needed() -> None:
    options = resolve(RawArgs(), Path("/crate"), {})
    planned = [step.name for step in pipeline.plan(options, write_lock=True)]
    assert planned[:4] == ["toolchain", "Cargo.lock", "compile cache", "std"]
    assert "Cargo.lock" not in [step.name for step in pipeline.plan(options)]


def test_offline_tools_are_looked_up_once_the_lock_file_tells_wasm_bindgens_version() -> None:
    options = resolve(RawArgs(offline=True), Path("/crate"), {})
    planned = [step.name for step in pipeline.plan(options, write_lock=True)]
    assert planned[:5] == ["toolchain", "Cargo.lock", "tools (offline)", "compile cache", "std"]
    assert [step.name for step in pipeline.plan(options)][:2] == ["tools (offline)", "toolchain"]
