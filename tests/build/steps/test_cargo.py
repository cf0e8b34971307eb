from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import cargo
from worker_build.rust.stdcache import Entry, StdMode, StdUse
from worker_build.rust.toolchain import StdSource, Toolchain


def toolchain(std: StdSource = StdSource.BUILD_STD, bootstrap: bool = True) -> Toolchain:
    return Toolchain(
        Path("/tc/rustc"),
        Path("/tc/cargo"),
        "1.96.0",
        "stable",
        Path("/tc"),
        "--rustc",
        std,
        bootstrap,
    )


def options(**raw: object) -> object:
    return resolve(RawArgs(**raw), Path("/crate"), {})  # type: ignore[arg-type]


def test_unwind_command_line() -> None:
    argv = cargo.command(options(panic_unwind=True, cargo_args=("--features", "x")), toolchain())  # type: ignore[arg-type]
    assert argv == [
        "/tc/cargo",
        "build",
        "--lib",
        "--target",
        "wasm32-unknown-unknown",
        "--message-format=json-render-diagnostics",
        "--release",
        "-Zbuild-std=std,panic_unwind",
        "--features",
        "x",
    ]


def test_abort_build_std_and_precompiled() -> None:
    assert "-Zbuild-std=std,panic_abort" in cargo.command(options(), toolchain())  # type: ignore[arg-type]
    argv = cargo.command(options(dev=True), toolchain(StdSource.PRECOMPILED, False))  # type: ignore[arg-type]
    assert not any(a.startswith("-Zbuild-std") for a in argv) and "--release" not in argv


def test_rustflags_are_extended_not_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CARGO_ENCODED_RUSTFLAGS", raising=False)
    monkeypatch.setenv("RUSTFLAGS", "-C opt-level=z --cfg 'feature=\"a b\"'")
    env = cargo.environment(options(panic_unwind=True, eh_encoding="exnref"), toolchain())  # type: ignore[arg-type]
    assert shlex.split(env["RUSTFLAGS"]) == [
        "-C",
        "opt-level=z",
        "--cfg",
        'feature="a b"',
        "-Cpanic=unwind",
        "-Cllvm-args=-wasm-use-legacy-eh=false",
    ]
    assert env["RUSTC"] == "/tc/rustc" and env["RUSTC_BOOTSTRAP"] == "1"


def test_encoded_rustflags_take_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARGO_ENCODED_RUSTFLAGS", "-Copt-level=s\x1f--cfg=x")
    env = cargo.environment(options(panic_unwind=True), toolchain())  # type: ignore[arg-type]
    assert env["CARGO_ENCODED_RUSTFLAGS"].split("\x1f") == [
        "-Copt-level=s",
        "--cfg=x",
        "-Cpanic=unwind",
    ]
    assert "RUSTFLAGS" not in env


def test_abort_build_leaves_rustflags_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUSTFLAGS", "-Cfoo")
    env = cargo.environment(options(), toolchain(StdSource.PRECOMPILED, False))  # type: ignore[arg-type]
    assert env == {"RUSTC": "/tc/rustc", "WASM_BINDGEN_USE_JS_SYS": "1"}


def test_js_sys_futures_are_selected_for_every_build() -> None:
    # as the Rust worker-build does: wasm-bindgen's macro then expands async exports
    # through js_sys::futures (tests/integration/test_build_real.py checks the built crate)
    for opts in (options(), options(panic_unwind=True), options(dev=True)):
        env = cargo.environment(opts, toolchain())  # type: ignore[arg-type]
        assert env["WASM_BINDGEN_USE_JS_SYS"] == "1"


def message(kind: str, name: str, files: list[str], reason: str = "compiler-artifact") -> str:
    return json.dumps(
        {"reason": reason, "target": {"kind": [kind], "name": name}, "filenames": files}
    )


def test_artifact_is_read_from_cargo_json() -> None:
    lines = "\n".join(
        [
            "not json",
            message("lib", "worker", ["/t/libworker.rlib"]),
            message("cdylib", "other", ["/t/other.wasm"]),
            message("cdylib", "my-worker", ["/t/wasm32-unknown-unknown/release/my_worker.wasm"]),
            json.dumps({"reason": "build-finished", "success": True}),
        ]
    )
    assert cargo.find_artifact(lines, "my_worker") == Path(
        "/t/wasm32-unknown-unknown/release/my_worker.wasm"
    )
    assert cargo.find_artifact(lines, "missing") is None


def test_terminal_config_keeps_cargo_colour_and_progress_on_a_terminal() -> None:
    """As `--config` arguments: a CARGO_TERM_* variable would reach every rustc, and
    sccache keys every CARGO_* variable (a terminal's width would miss the cache)."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            args = cargo.terminal_config(tty, {"TERM": "xterm"})
            assert args == [
                "--config", 'term.color="always"',
                "--config", 'term.progress.when="always"',
                "--config", "term.progress.width=80",  # a terminal of unknown size
            ]  # fmt: skip
            assert 'term.color="always"' not in cargo.terminal_config(tty, {"NO_COLOR": "1"})
            assert cargo.terminal_config(tty, {"TERM": "dumb"}) == []
            user = cargo.terminal_config(tty, {"CARGO_TERM_COLOR": "never"})
            assert 'term.color="always"' not in user  # the user's choice stays
    finally:
        os.close(master)
        os.close(slave)
    import io

    assert cargo.terminal_config(io.StringIO(), {}) == []  # a pipe or a file: nothing forced


def test_std_cache_entry_replaces_build_std(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a std cache entry: no -Zbuild-std, RUSTC is the entry's wrapper (a user's
    RUSTC_WRAPPER such as sccache still wraps it), and no RUSTC_BOOTSTRAP."""
    monkeypatch.delenv("CARGO_ENCODED_RUSTFLAGS", raising=False)
    monkeypatch.delenv("RUSTFLAGS", raising=False)
    use = StdUse(StdMode.CACHE, Entry("k", Path("/cache/std/k")))
    opts = options(panic_unwind=True)
    argv = cargo.command(opts, toolchain(), use)  # type: ignore[arg-type]
    assert not any(a.startswith("-Z") for a in argv)
    env = cargo.environment(opts, toolchain(), use)  # type: ignore[arg-type]
    assert env == {"RUSTC": "/cache/std/k/bin/rustc", "RUSTFLAGS": "-Cpanic=unwind",
                   cargo.JS_SYS_ENV: "1"}  # fmt: skip
    # without a std step (--no-std-cache), the toolchain decides, as before
    assert cargo.std_mode(toolchain(), None) is StdMode.BUILD_STD
    assert cargo.std_mode(toolchain(StdSource.PRECOMPILED, False), None) is StdMode.PRECOMPILED


def test_the_compile_cache_adds_its_build_dir_and_wrapper(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its build directory as a `--config` before the user's arguments (theirs win), its
    wrapper and server in the environment; nothing else changes."""
    from worker_build.rust.compile_cache import CompileCache

    monkeypatch.delenv("CARGO_ENCODED_RUSTFLAGS", raising=False)
    monkeypatch.delenv("RUSTFLAGS", raising=False)
    cache = CompileCache(
        Path("/c/compile/build-dir"), "shared",
        ("--config", 'build.build-dir="/c/compile/build-dir"'),
        {"RUSTC_WRAPPER": "/v/sccache", "SCCACHE_SERVER_UDS": "/c/compile/s.sock"},
        None, None, None, None,
    )  # fmt: skip
    opts = options(cargo_args=("--features", "x"))
    argv = cargo.command(opts, toolchain(), None, cache)  # type: ignore[arg-type]
    assert argv[-4:] == ["--config", 'build.build-dir="/c/compile/build-dir"', "--features", "x"]
    plain = cargo.command(opts, toolchain())  # type: ignore[arg-type]
    assert len(argv) == len(plain) + 2  # nothing but the --config
    env = cargo.environment(opts, toolchain(), None, cache)  # type: ignore[arg-type]
    assert env == {**cargo.environment(opts, toolchain()), **cache.env}  # type: ignore[arg-type]


def test_whether_cargo_compiled_anything() -> None:
    fresh = '{"reason":"compiler-artifact","package_id":"a","fresh":true}'
    built = '{"reason":"compiler-artifact","package_id":"b","fresh":false}'
    other = '{"reason":"build-script-executed","package_id":"c"}'
    assert not cargo.compiled_anything("\n".join([fresh, other, "Compiling x"]))
    assert cargo.compiled_anything("\n".join([fresh, built]))
