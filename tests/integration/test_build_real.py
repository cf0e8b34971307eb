"""Issue 2 end to end: the real pipeline on the sample crates (slow, real tools)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from harness.paths import CACHE, SAMPLES
from tests.support.builds import (
    VENV_BIN,
    Built,
    copy_crate,
    require_tool,
    snapshot,
    tool_env,
    worker_build,
)
from tests.support.procs import interrupt_when
from worker_build.build import staging
from worker_build.build.crate import load_crate

pytestmark = pytest.mark.slow

LAYOUT = {"index.js", "index_bg.wasm", "package.json", "worker", ".gitignore"}


def wasm_tools_print(wasm: Path) -> str:
    exe = require_tool(VENV_BIN / "wasm-tools")
    return subprocess.run(
        [exe, "print", str(wasm)], capture_output=True, text=True, check=True
    ).stdout


def test_panic_unwind_output_layout_and_eh(hello_unwind: Built) -> None:
    out = hello_unwind.out
    assert {p.name for p in out.iterdir()} >= LAYOUT
    assert (out / "worker" / "shim.mjs").read_text().startswith('export * from "../index.js"')
    assert (out / ".gitignore").read_text() == "*\n"
    assert json.loads((out / "package.json").read_text())["name"] == "hello-worker"
    bundle = (out / "index.js").read_text()
    assert "import source" not in bundle  # rewritten for wrangler's CompiledWasm rule
    assert './index_bg.wasm"' in bundle
    # independent oracle: wasm-tools sees exception-handling instructions
    ops = [
        line.split()[0] for line in wasm_tools_print(hello_unwind.wasm).splitlines() if line.split()
    ]
    assert ops.count("try") > 0 and ops.count("catch") + ops.count("catch_all") > 0, (
        "rustc 1.96 emits legacy EH by default: try/catch expected"
    )


def test_abort_build_cannot_unwind(hello_abort: Built) -> None:
    """wasm-bindgen's abort handler wraps JS calls in exnref try_table/throw_ref even in
    panic=abort builds; what an abort build lacks is Rust's own exception: no legacy EH,
    no `throw`, no tag defined in the module. verify must refuse it (exit 6)."""
    text = wasm_tools_print(hello_abort.wasm)
    ops = {line.split()[0] for line in text.splitlines() if line.split()}
    assert not ops & {"try", "catch", "catch_all", "rethrow", "delegate", "throw"}
    # a defined tag is a top-level `(tag ...)`; imported tags sit inside `(import ...)`
    assert re.findall(r"^\s*\(tag ", text, re.MULTILINE) == []
    proc = worker_build("verify", hello_abort.wasm)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "a panic cannot unwind" in proc.stderr


def _env_for(variant: str) -> dict[str, str]:
    env = tool_env()
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / f"pure-exports-{variant}")
    return env


def test_failed_build_keeps_previous_output(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    env = _env_for("abort")
    first = worker_build(crate, "--no-loader", env=env)
    assert first.returncode == 0, first.stderr
    before = snapshot(crate / "build")

    lib = crate / "src" / "lib.rs"
    lib.write_text(lib.read_text() + '\nfn broken() -> u32 { "not a number" }\n')
    second = worker_build(crate, "--no-loader", env=env)
    assert second.returncode == 1
    error_lines = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert error_lines[-1].startswith("error: cargo exited with code 101")
    assert "Traceback" not in second.stderr
    assert snapshot(crate / "build") == before
    assert not [p for p in crate.iterdir() if p.name.startswith(".worker-build-staging")]


def test_quiet_silences_cargo_but_not_its_errors(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    env = _env_for("abort")
    lib = crate / "src" / "lib.rs"
    # Each build below follows an edit, so cargo compiles the crate every time (a copy
    # alone may be fresh: cargo's fingerprint does not depend on the crate's path).
    lib.write_text(lib.read_text() + "\n// edit 1\n")
    loud = worker_build(crate, "--no-loader", env=env)
    assert loud.returncode == 0 and "Compiling pure-exports" in loud.stderr, loud.stderr
    lib.write_text(lib.read_text() + "// edit 2\n")
    quiet = worker_build(crate, "-q", "--no-loader", env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "Compiling" not in quiet.stderr and "Finished" not in quiet.stderr, quiet.stderr
    lib.write_text(lib.read_text() + '\nfn broken() -> u32 { "not a number" }\n')
    failed = worker_build(crate, "-q", "--no-loader", env=env)
    assert failed.returncode == 1
    assert "error[E0308]: mismatched types" in failed.stderr
    line = len(lib.read_text().splitlines())
    assert failed.stderr.splitlines()[-1] == (
        f"error: cargo exited with code 101: mismatched types (src/lib.rs:{line}:22) "
        "(fix the compile errors cargo printed above)"
    )


@pytest.mark.parametrize(
    ("args", "cause", "fix"),
    [
        (
            ["--features", "nope"],
            "the package 'pure-exports' does not contain this feature: nope",
            "check the --features names against the [features] table of Cargo.toml",
        ),
        (["--profile", "nope"], "profile `nope` is not defined", "[profile.NAME]"),
        (["--", "--bogus"], "unexpected argument '--bogus' found", "that cargo argument"),
    ],
)
def test_cargo_failures_that_are_not_compile_errors(
    tmp_path: Path, args: list[str], cause: str, fix: str
) -> None:
    """cargo fails before compiling: the error names cargo's cause and the fix for it."""
    proc = worker_build(
        SAMPLES / "pure-exports", "--out-dir", tmp_path / "out", *args, env=_env_for("abort")
    )
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.splitlines()[-1]
    assert last.startswith("error: cargo exited with code ") and cause in last, last
    assert fix in last and "compile errors" not in last
    assert not (tmp_path / "out").exists()


def test_interrupted_build_keeps_previous_output(tmp_path: Path) -> None:
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    env = _env_for("abort")
    assert worker_build(crate, "--no-loader", env=env).returncode == 0
    before = snapshot(crate / "build")
    # cargo runs rustc through this wrapper: its first call (cargo's `rustc -vV` on a
    # fresh target dir) says so through a FIFO and then holds cargo there, so the
    # interrupt certainly lands while cargo is running, however busy the machine is.
    started = tmp_path / "rustc-started"
    os.mkfifo(started)
    wrapper = tmp_path / "rustc-wrapper"
    wrapper.write_text(f'#!/bin/sh\necho started > "{started}"\nexec sleep 600\n')
    wrapper.chmod(0o755)
    env["RUSTC_WRAPPER"] = str(wrapper)
    env["CARGO_TARGET_DIR"] = str(tmp_path / "target")
    proc = subprocess.Popen(
        [str(VENV_BIN / "worker-build"), str(crate), "--no-loader"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    err = interrupt_when(proc, started, "cargo ran rustc")  # worker-build, cargo, the wrapper
    assert proc.returncode == 130, err
    assert "previous output was left unchanged" in err
    assert snapshot(crate / "build") == before
    assert not [p for p in crate.iterdir() if p.name.startswith(".worker-build-staging")]


def test_concurrent_builds_are_serialised(tmp_path: Path) -> None:
    """The test is the other build: it holds the output's build lock (the product's own
    lock code), starts a build, reads its output until it says it waits, checks that it
    wrote nothing meanwhile, then releases the lock and lets it finish."""
    crate = copy_crate("pure-exports", tmp_path / "pure-exports")
    env = _env_for("abort")
    assert worker_build(crate, "--no-loader", env=env).returncode == 0
    before = snapshot(crate / "build")
    with staging.build_lock(crate / "build", timeout=0):
        proc = subprocess.Popen(
            [str(VENV_BIN / "worker-build"), str(crate), "--no-loader"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # ends at EOF if the build exits instead of waiting
            seen.append(line)
            if line.startswith("waiting for another worker-build writing"):
                break
        else:
            proc.wait()
            pytest.fail(f"the build did not wait ({proc.returncode}):\n{''.join(seen)}")
        assert proc.poll() is None  # still waiting for us
        assert snapshot(crate / "build") == before
        assert not [p for p in crate.iterdir() if p.name.startswith(".worker-build-staging")]
    _, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, "".join(seen) + err
    assert (crate / "build" / "index_bg.wasm").is_file()


@pytest.mark.parametrize(
    ("env_var", "value", "message"),
    [
        ("WASM_OPT_BIN", "/nonexistent/wasm-opt", "does not exist or is not executable"),
        ("ESBUILD_BIN", "/nonexistent/esbuild", "does not exist or is not executable"),
        ("WASM_BINDGEN_BIN", "/nonexistent/wasm-bindgen", "does not exist or is not executable"),
    ],
)
def test_missing_tools_fail_with_exit_5(
    tmp_path: Path, env_var: str, value: str, message: str
) -> None:
    env = _env_for("abort")
    env[env_var] = value
    proc = worker_build(
        SAMPLES / "pure-exports", "--out-dir", tmp_path / "out", "--no-loader", env=env
    )
    assert proc.returncode == 5, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and message in line[0] and env_var in line[0]
    assert not (tmp_path / "out").exists()


def test_wasm_bindgen_version_mismatch_is_explained(tmp_path: Path) -> None:
    """A wasm-bindgen CLI whose schema differs from the crate's fails with exit 5 and the fix."""
    fake = tmp_path / "wasm-bindgen"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "wasm-bindgen 0.2.100"; exit 0; fi\n'
        'echo "it looks like the Rust project used to create this Wasm file was linked against '
        'version of wasm-bindgen that uses a different bindgen format than this binary" >&2; exit 1\n'
    )
    fake.chmod(0o755)
    env = _env_for("abort")
    env["WASM_BINDGEN_BIN"] = str(fake)
    proc = worker_build(
        SAMPLES / "pure-exports", "--out-dir", tmp_path / "out", "--no-loader", env=env
    )
    assert proc.returncode == 5, proc.stderr
    locked = load_crate(SAMPLES / "pure-exports").wasm_bindgen_version
    assert f"Cargo.lock locks wasm-bindgen {locked}" in proc.stderr
    assert f"point it at wasm-bindgen {locked}" in proc.stderr
