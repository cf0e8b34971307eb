"""Issue 7: incremental output (worker_build/incremental.py) and cached tool probes
(worker_build/tools/probes.py).

Unit tests build a BuildContext by hand (fake tools are tiny shell scripts, never the
real ones). The slow tests run the real worker-build on a copy of hello-worker and read
its --json report: `incremental.up_to_date` and the step list show whether the steps
after `cargo build` ran.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import tool_env, worker_build
from tests.support.cratefix import write_crate
from tests.support.fakes import fake_exe, path_with
from worker_build.build import incremental
from worker_build.build import options as options_mod
from worker_build.build.context import BuildContext
from worker_build.build.crate import load_crate
from worker_build.build.options import RawArgs
from worker_build.errors import CommandFailedError
from worker_build.tools import probes
from worker_build.tools.resolve import Source, Tool

# ------------------------------------------------------------------ unit tests


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

    def full_build(self, **raw: Any) -> BuildContext:
        """What a real build leaves behind: the output files plus the state file."""
        ctx = self.context(**raw)
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


# ------------------------------------------------------------------ probe cache


def counting_tool(tmp: Path, says: str) -> tuple[Path, Path]:
    log = tmp / "calls.log"
    exe = fake_exe(tmp / "bin" / "tool", f'echo run >> "{log}"\necho "{says}"')
    return exe, log


def calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_probe_is_cached_until_the_executable_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "tool 1.0.0")
    # An old mtime for the first version: a rewrite then changes the identity for
    # certain, not only when it falls in another timestamp tick (same size, same inode;
    # RACY_SECONDS, which covers that case in the product, is off in this test).
    os.utime(exe, ns=(10**18, 10**18))
    assert probes.version_output(exe) == "tool 1.0.0\n"
    assert probes.version_output(exe) == "tool 1.0.0\n"
    assert calls(log) == 1
    fake_exe(exe, f'echo run >> "{log}"\necho "tool 1.0.1"')  # rewritten in place
    assert probes.version_output(exe) == "tool 1.0.1\n"
    assert calls(log) == 2
    os.utime(exe, ns=(2 * 10**18, 2 * 10**18))  # touched only: probed again, to be safe
    probes.version_output(exe)
    assert calls(log) == 3


def test_probe_cache_follows_symlinks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "tool 2")
    link = tmp_path / "link"
    link.symlink_to(exe)
    probes.version_output(link)
    probes.version_output(exe)
    assert calls(log) == 1
    entries = json.loads(probes.cache_file().read_text())["entries"]
    assert list(entries) == [os.path.realpath(exe)]


def test_freshly_written_executables_are_not_cached(tmp_path: Path) -> None:
    # default RACY_SECONDS: a file modified just now could change again within
    # the same timestamp tick, so its answer is not kept
    exe, log = counting_tool(tmp_path, "tool 3")
    probes.version_output(exe)
    probes.version_output(exe)
    assert calls(log) == 2
    assert not probes.cache_file().exists()


def test_failed_probe_raises_and_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe = fake_exe(tmp_path / "bad", "echo broken >&2; exit 3")
    for _ in range(2):
        with pytest.raises(CommandFailedError):
            probes.version_output(exe)
    assert not probes.cache_file().exists()


def test_corrupt_probe_cache_is_ignored_and_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    probes.cache_file().parent.mkdir(parents=True)
    probes.cache_file().write_text("{oops")
    exe, _ = counting_tool(tmp_path, "tool 4")
    assert probes.version_output(exe) == "tool 4\n"
    assert json.loads(probes.cache_file().read_text())["schema"] == probes.SCHEMA


def test_probe_cache_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    monkeypatch.setattr(probes, "MAX_ENTRIES", 3)
    for i in range(5):
        probes.version_output(fake_exe(tmp_path / f"t{i}", f"echo {i}"))
    entries = json.loads(probes.cache_file().read_text())["entries"]
    assert len(entries) == 3


def test_tools_module_probes_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from worker_build.tools import resolve
    from worker_build.tools.resolve import InstallPolicy

    monkeypatch.setattr(probes, "RACY_SECONDS", -1.0)
    exe, log = counting_tool(tmp_path, "wasm-opt version 132 (version_132)")
    monkeypatch.setenv("PATH", path_with(tmp_path / "empty"))
    monkeypatch.setenv("WASM_OPT_BIN", str(exe))
    for _ in range(3):
        assert resolve.wasm_opt(tmp_path, InstallPolicy.OFFLINE).version == "132"
    assert calls(log) == 1


# ------------------------------------------------------------------ real builds

POST_CARGO = {
    "wasm-bindgen",
    "wasm-opt",
    "producers",
    "bundle",
    "python loader",
    "verify",
    "install",
}


class RealCrate:
    """A private copy of hello-worker with its own output and cargo target dirs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.out = root / "build"
        self.lib = root / "src" / "lib.rs"
        self.env = tool_env()
        self.env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "incremental-hello-abort")

    def build(self, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        proc = worker_build(self.root, "--json", *args, env=env or self.env)
        assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        report: dict[str, Any] = json.loads(proc.stdout)
        report["step_names"] = [s["name"] for s in report["steps"]]
        return report

    def snapshot(self) -> dict[str, bytes]:
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file() and p.name != "worker-build.json"
        }


def skipped(report: dict[str, Any]) -> bool:
    inc = report["incremental"]
    names = set(report["step_names"])
    if inc["up_to_date"]:
        assert names.isdisjoint(POST_CARGO), names
        assert "cargo build" in names
        return True
    assert {"wasm-bindgen", "bundle", "verify", "install"} <= names, names
    return False


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealCrate:
    root = tmp_path_factory.mktemp("incremental") / "hello-worker"
    shutil.copytree(
        SAMPLES / "hello-worker", root, ignore=shutil.ignore_patterns("target", "build")
    )
    crate = RealCrate(root)
    first = crate.build()
    assert not skipped(first)
    assert first["incremental"]["reason"] == "no usable state file from a previous build"
    return crate


@pytest.mark.slow
def test_real_noop_rebuild_skips_everything_after_cargo(real: RealCrate) -> None:
    before = real.snapshot()
    inodes = {p: p.stat().st_ino for p in real.out.rglob("*") if p.is_file()}
    report = real.build()
    assert skipped(report), report["incremental"]
    # the std step finds its cache entry (it sits before cargo and is not skipped)
    assert report["step_names"] == ["pre-flight", "toolchain", "std", "cargo build"]
    assert real.snapshot() == before
    # not rewritten either: the same files are still in place
    assert all(p.stat().st_ino == ino for p, ino in inodes.items() if p.name != "worker-build.json")
    # the summary still describes the build that produced the files
    assert report["eh_encoding"] == "none (panic=abort)"
    assert set(report["tools"]) == {"wasm-bindgen", "wasm-opt", "esbuild"}


@pytest.mark.slow
def test_real_touch_recompiles_but_identical_artifact_skips(real: RealCrate) -> None:
    artifact = Path(real.build()["artifact"])
    mtime = artifact.stat().st_mtime_ns
    os.utime(real.lib)
    report = real.build()
    # cargo did recompile and relink (a new artifact file) ...
    assert artifact.stat().st_mtime_ns != mtime
    # ... into the same bytes (rustc is deterministic), so nothing after cargo reran
    assert skipped(report), report["incremental"]


@pytest.mark.slow
def test_real_source_change_rebuilds(real: RealCrate) -> None:
    original = real.lib.read_text()
    marker = "hello from the incremental test"
    try:
        real.lib.write_text(original.replace("hello from hello-worker", marker))
        report = real.build()
        assert not skipped(report)
        assert report["incremental"]["reason"] == "cargo artifact changed"
        assert marker.encode() in (real.out / "index_bg.wasm").read_bytes()
        assert skipped(real.build())
    finally:
        real.lib.write_text(original)
    report = real.build()
    assert not skipped(report)
    assert marker.encode() not in (real.out / "index_bg.wasm").read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "field"),
    [(("--no-opt",), "wasm_opt_args"), (("--panic-body", "generic"), "panic_body")],
)
def test_real_option_change_rebuilds(real: RealCrate, flags: tuple[str, ...], field: str) -> None:
    assert skipped(real.build())
    report = real.build(*flags)
    assert not skipped(report)
    assert report["incremental"]["reason"] == f"options changed ({field})"
    if "--no-opt" in flags:
        assert "wasm-opt" not in report["step_names"]
    assert skipped(real.build(*flags))
    back = real.build()
    assert not skipped(back) and back["incremental"]["reason"] == f"options changed ({field})"


@pytest.mark.slow
def test_real_shim_template_change_rebuilds(real: RealCrate, tmp_path: Path) -> None:
    # worker-build run from a copy of the package whose shim template is edited
    # (the repository's own templates/ stay untouched).
    import worker_build as pkg

    src = Path(pkg.__file__).resolve().parent
    copy = tmp_path / "src"
    shutil.copytree(src, copy / "worker_build", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(src.parent / "templates", copy / "templates")
    env = dict(real.env, PYTHONPATH=str(copy))
    assert skipped(real.build()), "setup: the output must be up to date first"
    same = real.build(env=env)
    assert skipped(same), "an identical copy of worker-build is the same worker-build"
    shim = copy / "templates" / "shim.js"
    shim.write_text(shim.read_text() + "\nglobalThis.__incrementalTestMarker = 7;\n")
    report = real.build(env=env)
    assert not skipped(report)
    assert report["incremental"]["reason"] == "worker-build or its templates changed (sources)"
    assert "__incrementalTestMarker" in (real.out / "index.js").read_text()
    back = real.build()  # the repository's worker-build again
    assert not skipped(back)
    assert "__incrementalTestMarker" not in (real.out / "index.js").read_text()


@pytest.mark.slow
def test_real_output_tampering_rebuilds(real: RealCrate) -> None:
    assert skipped(real.build())
    good = real.snapshot()

    (real.out / "index.js").unlink()
    report = real.build()
    assert report["incremental"]["reason"] == "output file index.js was deleted"
    assert real.snapshot() == good

    wasm = real.out / "index_bg.wasm"
    wasm.write_bytes(wasm.read_bytes() + b"\0")
    report = real.build()
    assert report["incremental"]["reason"] == "output file index_bg.wasm was modified"
    assert real.snapshot() == good

    (real.out / "notes.txt").write_text("mine")
    report = real.build()
    assert report["incremental"]["reason"] == "output file notes.txt was added"
    assert real.snapshot() == good  # a full build replaces build/ as a whole


@pytest.mark.slow
def test_real_tool_change_rebuilds(real: RealCrate, tmp_path: Path) -> None:
    # the same esbuild binary reached through another path counts as another tool
    esbuild = Path(str(shutil.which("esbuild", path=real.env["PATH"])))
    other = tmp_path / "bin" / "esbuild"
    other.parent.mkdir()
    shutil.copy2(os.path.realpath(esbuild), other)
    assert skipped(real.build())
    report = real.build(env=dict(real.env, ESBUILD_BIN=str(other)))
    assert not skipped(report)
    assert report["incremental"]["reason"] == "tool esbuild changed"
    assert report["tools"]["esbuild"].endswith("(env)")
