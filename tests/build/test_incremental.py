"""worker_build/build/incremental.py: is the output up to date after `cargo build`?

Each test builds a BuildContext by hand, records it like a finished build, changes one
input and asks again (fake tools are tiny shell scripts, never the real ones). The same
question on real builds: tests/integration/test_incremental_real.py.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support.cratefix import write_crate
from tests.support.fakes import fake_exe, path_with
from worker_build.build import incremental
from worker_build.build import options as options_mod
from worker_build.build.context import BuildContext
from worker_build.build.crate import load_crate
from worker_build.build.options import RawArgs
from worker_build.tools import probes
from worker_build.tools.tool import Source, Tool


@pytest.fixture(autouse=True)
def _isolate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("WASM_BINDGEN_BIN", "WASM_OPT_BIN", "ESBUILD_BIN", "NO_MINIFY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))


class Fixture:
    """A crate, its staged/installed output and fake tools, recorded like a finished build."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.monkeypatch = monkeypatch
        self.crate = load_crate(write_crate(tmp / "crate"))
        self.out = tmp / "crate" / "build"
        self.artifact = tmp / "target" / "my_worker.wasm"
        self.artifact.parent.mkdir(parents=True)
        self.artifact.write_bytes(b"\0asm\1\0\0\0" + b"artifact-1")
        self.tools = {
            "wasm-bindgen": self.tool("WASM_BINDGEN_BIN", "wasm-bindgen", "wasm-bindgen 0.2.130"),
            "wasm-opt": self.tool("WASM_OPT_BIN", "wasm-opt", "wasm-opt version 132 (version_132)"),
            "esbuild": self.tool("ESBUILD_BIN", "esbuild", "0.28.2"),
        }
        self.templates = tmp / "templates"
        self.templates.mkdir()
        (self.templates / "shim.js").write_text("export default {};\n")
        monkeypatch.setattr(incremental, "template_dir", lambda: self.templates)

    def tool(self, var: str, name: str, says: str) -> Tool:
        exe = fake_exe(self.tmp / "tools" / name, f'echo "{says}"')
        self.monkeypatch.setenv(var, str(exe))
        version = says.split()[-1] if name == "esbuild" else says.split()[1]
        if name == "wasm-opt":
            version = "132"
        return Tool(name, exe, version, Source.ENV)

    def context(self, **raw: Any) -> BuildContext:
        options = options_mod.resolve(
            RawArgs(path=self.crate.root, **raw), self.crate.root, self.crate.metadata
        )
        ctx = BuildContext(options=options, staging=self.tmp / "staging", crate=self.crate)
        ctx.artifact = self.artifact
        return ctx

    def full_build(self, *, before_checkpoint: str | None = None, **raw: Any) -> BuildContext:
        """What a real build leaves behind: the output files plus the state file.
        `before_checkpoint`: a note and a fact of that name from a step before cargo's."""
        ctx = self.context(**raw)
        if before_checkpoint is not None:
            ctx.notes.append(before_checkpoint)
            ctx.facts[before_checkpoint] = True
        ctx.mark_checkpoint()
        shutil.rmtree(ctx.staging, ignore_errors=True)
        ctx.out_dir.mkdir(parents=True)
        (ctx.out_dir / "worker").mkdir()
        (ctx.out_dir / "index.js").write_text("// bundle\n")
        (ctx.out_dir / "index_bg.wasm").write_bytes(self.artifact.read_bytes() + b"-opt")
        (ctx.out_dir / "worker" / "shim.mjs").write_text('export * from "../index.js";\n')
        ctx.tools.update(self.tools)
        ctx.facts["eh_encoding"] = "legacy"
        ctx.notes.append("a note from a skipped step")
        incremental.record(ctx)
        shutil.rmtree(self.out, ignore_errors=True)
        os.replace(ctx.out_dir, self.out)
        return ctx

    def check(self, **raw: Any) -> tuple[bool, BuildContext]:
        ctx = self.context(**raw)
        return incremental.up_to_date(ctx), ctx


@pytest.fixture
def fx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fixture:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)  # fresh fake tools are cacheable
    return Fixture(tmp_path, monkeypatch)


def reason(ctx: BuildContext) -> str:
    return str(ctx.facts["incremental"]["reason"])


def test_unchanged_inputs_are_up_to_date_and_restore_the_report(fx: Fixture) -> None:
    fx.full_build()
    ok, ctx = fx.check()
    assert ok, ctx.facts["incremental"]
    assert ctx.facts["incremental"]["up_to_date"] is True
    assert ctx.facts["eh_encoding"] == "legacy"  # restored from the state file
    assert "a note from a skipped step" in ctx.notes
    assert any("up to date" in note for note in ctx.notes)
    assert {name: t.path for name, t in ctx.tools.items()} == {
        name: t.path for name, t in fx.tools.items()
    }


def test_what_the_steps_before_the_checkpoint_said_is_not_restored(fx: Fixture) -> None:
    """Those steps run again in a no-op rebuild and say what happened in it: the note of a
    std built (or a lock file written) by the build that wrote the output is not repeated."""
    fx.full_build(before_checkpoint="std built once into the std cache")
    ok, ctx = fx.check()
    assert ok, ctx.facts["incremental"]
    assert "std built once into the std cache" not in ctx.notes
    assert "std built once into the std cache" not in ctx.facts
    assert "a note from a skipped step" in ctx.notes and ctx.facts["eh_encoding"] == "legacy"


def test_state_file_sits_in_the_output_and_lists_its_files(fx: Fixture) -> None:
    fx.full_build()
    state = json.loads((fx.out / incremental.STATE_NAME).read_text())
    assert state["schema"] == incremental.SCHEMA
    assert sorted(state["outputs"]) == ["index.js", "index_bg.wasm", "worker/shim.mjs"]
    assert state["inputs"]["artifact"] == incremental.file_digest(fx.artifact)
    assert set(state["inputs"]["tools"]) == {"wasm-bindgen", "wasm-opt", "esbuild"}


def test_no_state_file_means_a_full_build(fx: Fixture) -> None:
    ok, ctx = fx.check()
    assert not ok and "no usable state" in reason(ctx)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"schema": 999}), "[]"])
def test_unreadable_or_foreign_state_means_a_full_build(fx: Fixture, content: str) -> None:
    fx.full_build()
    (fx.out / incremental.STATE_NAME).write_text(content)
    ok, ctx = fx.check()
    assert not ok and "no usable state" in reason(ctx)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"no_opt": True}, "wasm_opt_args"),
        ({"panic_body": "generic"}, "panic_body"),
        ({"panic_unwind": True}, "panic_unwind"),
        ({"dev": True}, "profile"),
        ({"scope": "acme"}, "scope"),
        ({"no_loader": True}, "loader"),
        ({"cargo_args": ("--features", "x")}, "cargo_args"),
    ],
)
def test_changed_options_rebuild(fx: Fixture, raw: dict[str, Any], field: str) -> None:
    fx.full_build()
    ok, ctx = fx.check(**raw)
    assert not ok
    assert reason(ctx) == f"options changed ({field})"


def test_no_minify_env_is_an_option_change(fx: Fixture, monkeypatch: pytest.MonkeyPatch) -> None:
    fx.full_build()
    monkeypatch.setenv("NO_MINIFY", "1")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "options changed (minify)"


def test_lock_timeout_offline_and_quiet_do_not_rebuild(fx: Fixture) -> None:
    fx.full_build()
    ok, ctx = fx.check(lock_timeout=5.0, offline=True, quiet=True)
    assert ok, ctx.facts["incremental"]


def test_options_round_trip_back_to_up_to_date(fx: Fixture) -> None:
    fx.full_build(no_opt=True)
    assert fx.check(no_opt=True)[0]
    assert not fx.check()[0]


def test_changed_artifact_bytes_rebuild(fx: Fixture) -> None:
    fx.full_build()
    fx.artifact.write_bytes(fx.artifact.read_bytes() + b"x")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "cargo artifact changed"


def test_same_size_rewrite_of_the_artifact_rebuilds(fx: Fixture) -> None:
    # No mtime shortcut: a same-size rewrite in the same timestamp tick is still seen.
    fx.full_build()
    stat = fx.artifact.stat()
    fx.artifact.write_bytes(fx.artifact.read_bytes().replace(b"artifact-1", b"artifact-2"))
    os.utime(fx.artifact, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "cargo artifact changed"


def test_touched_artifact_with_same_bytes_is_up_to_date(fx: Fixture) -> None:
    fx.full_build()
    os.utime(fx.artifact, ns=(1, 1))
    assert fx.check()[0]


def test_deleted_output_file_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    (fx.out / "worker" / "shim.mjs").unlink()
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "output file worker/shim.mjs was deleted"


def test_modified_output_file_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    wasm = fx.out / "index_bg.wasm"
    wasm.write_bytes(wasm.read_bytes()[:-1] + b"?")  # same size
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "output file index_bg.wasm was modified"


def test_added_output_file_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    (fx.out / "stray.txt").write_text("left by hand")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "output file stray.txt was added"


def test_missing_output_dir_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    state = (fx.out / incremental.STATE_NAME).read_text()
    shutil.rmtree(fx.out)
    ok, ctx = fx.check()
    assert not ok and "no usable state" in reason(ctx)
    # a state file alone (every output file gone) is not enough either
    fx.out.mkdir()
    (fx.out / incremental.STATE_NAME).write_text(state)
    ok, ctx = fx.check()
    assert not ok and "was deleted" in reason(ctx)


def test_changed_template_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    (fx.templates / "shim.js").write_text("export default { changed: 1 };\n")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "worker-build or its templates changed (sources)"


def test_added_template_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    (fx.templates / "extra.js").write_text("")
    assert not fx.check()[0]


def test_worker_build_version_is_part_of_the_key(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx.full_build()
    monkeypatch.setattr(incremental, "__version__", "9.9.9")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "worker-build or its templates changed (version)"


def test_own_sources_are_part_of_the_key(
    fx: Fixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "pkg"
    shutil.copytree(
        Path(incremental.__file__).parent,
        pkg,
        ignore=shutil.ignore_patterns("__pycache__", "templates"),
    )
    monkeypatch.setattr(incremental, "_PACKAGE_DIR", pkg)
    fx.full_build()
    assert fx.check()[0]
    step = pkg / "steps" / "bundle.py"
    step.write_text(step.read_text() + "\n# edited\n")
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "worker-build or its templates changed (sources)"


def test_changed_tool_version_rebuilds(fx: Fixture) -> None:
    fx.full_build()
    fake_exe(fx.tools["esbuild"].path, 'echo "0.28.3"')
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "tool esbuild changed"


def test_tool_replaced_by_same_version_elsewhere_rebuilds(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    fx.full_build()
    other = fake_exe(fx.tmp / "other" / "wasm-opt", 'echo "wasm-opt version 132 (version_132)"')
    monkeypatch.setenv("WASM_OPT_BIN", str(other))
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "tool wasm-opt changed"


def test_a_tool_the_last_build_downloaded_is_not_a_change(
    fx: Fixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first build downloads esbuild into the cache (source "downloaded"); the next
    finds the same file there (source "cache"): still up to date."""
    from worker_build.tools import prebuilt

    monkeypatch.setattr(prebuilt, "host", lambda: ("linux", "x86_64"))
    monkeypatch.setenv("PATH", path_with(fx.tmp / "empty"))
    monkeypatch.delenv("ESBUILD_BIN")
    asset = prebuilt.esbuild("0.28.2")
    assert asset is not None
    fake_exe(asset.path, 'echo "0.28.2"')
    fx.tools["esbuild"] = Tool("esbuild", asset.path, "0.28.2", Source.DOWNLOADED)
    fx.full_build()
    ok, ctx = fx.check()
    assert ok, ctx.facts["incremental"]
    assert ctx.tools["esbuild"].source is Source.CACHE


def test_only_recorded_tools_are_resolved(fx: Fixture, monkeypatch: pytest.MonkeyPatch) -> None:
    # A build that ran without wasm-opt must not need one to be found later.
    ctx = fx.context(no_opt=True)
    ctx.out_dir.mkdir(parents=True)
    (ctx.out_dir / "index.js").write_text("")
    ctx.tools.update({k: v for k, v in fx.tools.items() if k != "wasm-opt"})
    incremental.record(ctx)
    os.replace(ctx.out_dir, fx.out)
    monkeypatch.setenv("WASM_OPT_BIN", str(fx.tmp / "missing"))
    ok, checked = fx.check(no_opt=True)
    assert ok, checked.facts["incremental"]
    assert "wasm-opt" not in checked.tools


def test_crate_facts_are_part_of_the_key(fx: Fixture) -> None:
    fx.full_build()
    manifest = fx.crate.manifest
    manifest.write_text(manifest.read_text().replace('name = "my-worker"', 'name = "renamed"'))
    fx.crate = load_crate(fx.crate.root)
    ok, ctx = fx.check()
    assert not ok and reason(ctx) == "crate changed (lib_name)"
