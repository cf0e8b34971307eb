"""action.yml (the composite GitHub Action) and the workflow examples in docs/ci.md.

No GitHub runner here, so the tests do what the runner would do with the parts
that are ours: check the action's structure and expressions, then run its shell
steps with bash, with `${{ ... }}` expanded and GITHUB_OUTPUT / RUNNER_TEMP set as
the runner sets them. The unit tests use a fake `worker-build`; the slow one runs
the build step with the real worker-build on a sample crate.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.paths import CACHE, REPO, SAMPLES
from tests.support.builds import VENV_BIN, tool_env
from tests.support.fakes import fake_exe
from worker_build.errors import EXIT_CRATE, EXIT_USAGE

ACTION = yaml.safe_load((REPO / "action.yml").read_text())
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def step(name: str) -> dict[str, Any]:
    return next(s for s in STEPS if s["name"] == name)


def expressions(value: Any) -> list[str]:
    if isinstance(value, str):
        return EXPRESSION.findall(value)
    if isinstance(value, dict):
        # `if:` holds a bare expression, without ${{ }}
        bare = [str(value["if"])] if "if" in value and "${{" not in str(value["if"]) else []
        return bare + [e for k, v in value.items() if k != "if" or not bare for e in expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions(v)]
    return []


# --- structure ---------------------------------------------------------------------------


def test_action_is_a_composite_with_declared_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    declared = set(ACTION["inputs"])
    used = {m for e in expressions(STEPS) for m in re.findall(r"inputs\.([\w-]+)", e)}
    assert used == declared, "every input is used and every used input is declared"
    step_ids = {s.get("id") for s in STEPS}
    for name, output in ACTION["outputs"].items():
        match = re.fullmatch(r"\$\{\{ steps\.(\w+)\.outputs\.([\w-]+) \}\}", output["value"])
        assert match and match.group(1) in step_ids and match.group(2) == name, name


def test_shell_steps_never_expand_inputs_inside_scripts() -> None:
    """Inputs reach scripts only through env (no script injection via `with:`)."""
    for s in STEPS:
        if "run" in s:
            assert s["shell"] == "bash", s["name"]
            assert "${{" not in s["run"], s["name"]


# --- running the steps' scripts -----------------------------------------------------------------


def expand(text: str, inputs: dict[str, str], context: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            name = expr.removeprefix("inputs.")
            return inputs.get(name, ACTION["inputs"][name].get("default", ""))
        if expr in context:
            return context[expr]
        raise AssertionError(f"the test cannot evaluate ${{{{ {expr} }}}}: extend expand()")

    return EXPRESSION.sub(one, text)


def run_step(
    name: str, inputs: dict[str, str], workspace: Path, tmp: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one `run:` step as the runner would: bash -e, in its working-directory,
    with its env, RUNNER_TEMP and GITHUB_OUTPUT; return the outputs it set."""
    s = step(name)
    context = {"github.action_path": str(REPO), "runner.os": "Linux"}
    cwd = workspace / expand(s.get("working-directory", "."), inputs, context)
    output_file = tmp / f"output-{len(list(tmp.glob('output-*')))}"
    output_file.write_text("")
    full_env = {
        **env,
        "RUNNER_TEMP": str(tmp),
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_ACTIONS": "true",
    }
    full_env.update({k: expand(str(v), inputs, context) for k, v in s.get("env", {}).items()})
    script = tmp / "step.sh"
    script.write_text(s["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if line)
    return proc, outputs


FAKE_WORKER_BUILD = """\
printf '%s\\n' "$@" > "$ARGV_FILE"
case " $* " in
  *" --fail "*) echo "error: no Cargo.toml in $PWD" >&2
    printf '{"ok": false, "exit_code": 3}\\n'; exit 3 ;;
esac
printf '{"ok": true, "out_dir": "%s/build", "wasm_bytes": 1234, "wasm_gzip_bytes": 567, "eh_encoding": "legacy"}\\n' "$PWD"
"""


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    bindir = tmp_path / "bin"
    fake_exe(bindir / "worker-build", FAKE_WORKER_BUILD)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bindir), str(VENV_BIN), env["PATH"]])
    env["ARGV_FILE"] = str(tmp_path / "argv")
    return env


def test_build_step_passes_inputs_and_sets_outputs(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    (tmp_path / "crate").mkdir()
    (tmp_path / "crate" / "Cargo.toml").write_text("")  # something `*` could match
    inputs = {
        "path": "crate",
        "panic-unwind": "true",
        "args": "--dev --out-dir dist -- --features *",
    }
    proc, outputs = run_step("worker-build", inputs, tmp_path, tmp_path, fake_env)
    assert proc.returncode == 0, proc.stderr
    argv = (tmp_path / "argv").read_text().splitlines()
    # --json first (so nothing after `--` swallows it); the glob stays literal
    assert argv == [
        "--json",
        "--panic-unwind",
        "--dev",
        "--out-dir",
        "dist",
        "--",
        "--features",
        "*",
    ]
    assert outputs == {
        "ok": "true",
        "exit-code": "0",
        "report": str(tmp_path / "worker-build-report.json"),
        "out-dir": f"{tmp_path / 'crate'}/build",
        "wasm-bytes": "1234",
        "wasm-gzip-bytes": "567",
        "eh-encoding": "legacy",
    }


@pytest.mark.parametrize(("value", "flag"), [("false", ["--no-panic-unwind"]), ("", [])])
def test_panic_unwind_input(
    tmp_path: Path, fake_env: dict[str, str], value: str, flag: list[str]
) -> None:
    proc, _ = run_step("worker-build", {"panic-unwind": value}, tmp_path, tmp_path, fake_env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "argv").read_text().splitlines() == ["--json", *flag]


def test_bad_panic_unwind_input_is_an_annotated_usage_error(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    proc, _ = run_step("worker-build", {"panic-unwind": "yes"}, tmp_path, tmp_path, fake_env)
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.startswith("::error title=worker-build action::input panic-unwind must be")
    assert not (tmp_path / "argv").exists()


def test_failed_build_keeps_its_exit_code_and_reports_it(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    proc, outputs = run_step("worker-build", {"args": "--fail"}, tmp_path, tmp_path, fake_env)
    assert proc.returncode == EXIT_CRATE
    assert outputs["ok"] == "false" and outputs["exit-code"] == str(EXIT_CRATE)
    assert "out-dir" not in outputs


def test_rust_setup_follows_cargo_metadata(tmp_path: Path, fake_env: dict[str, str]) -> None:
    """The rustup step reads panic-unwind from Cargo.toml like the build does."""
    fake_exe(tmp_path / "bin" / "rustup", 'printf "%s\\n" "$*" >> "$ARGV_FILE"')
    crate = tmp_path / "crate"
    crate.mkdir()
    (crate / "Cargo.toml").write_text(
        '[package]\nname = "x"\n\n[package.metadata.worker-build]\npanic-unwind = true\n'
    )
    proc, _ = run_step("Set up Rust for wasm32", {"path": "crate"}, tmp_path, tmp_path, fake_env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "argv").read_text().splitlines() == [
        "toolchain install nightly --profile minimal --component rust-src "
        "--target wasm32-unknown-unknown"
    ]
    (crate / "Cargo.toml").write_text('[package]\nname = "x"\n')
    (tmp_path / "argv").unlink()
    proc, _ = run_step("Set up Rust for wasm32", {"path": "crate"}, tmp_path, tmp_path, fake_env)
    assert (tmp_path / "argv").read_text().splitlines() == ["target add wasm32-unknown-unknown"]
    proc, _ = run_step(
        "Set up Rust for wasm32",
        {"path": "crate", "panic-unwind": "true"},
        tmp_path,
        tmp_path,
        fake_env,
    )
    assert "toolchain install nightly" in (tmp_path / "argv").read_text().splitlines()[-1]


# --- docs/ci.md --------------------------------------------------------------------------------


def doc_workflows() -> list[dict[str, Any]]:
    text = (REPO / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    return [
        doc
        for doc in (yaml.safe_load(b) for b in blocks)
        if isinstance(doc, dict) and "jobs" in doc
    ]


def test_documented_workflows_use_the_action_correctly() -> None:
    workflows = doc_workflows()
    assert workflows, "docs/ci.md has a GitHub workflow example"
    uses_action = 0
    for wf in workflows:
        for job in wf["jobs"].values():
            for s in job["steps"]:
                if str(s.get("uses", "")).split("@")[0].endswith("/worker-build"):
                    uses_action += 1
                    assert set(s.get("with", {})) <= set(ACTION["inputs"]), s
                for e in expressions(s):
                    for ref in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", e):
                        assert ref[1] in ACTION["outputs"], ref
    assert uses_action >= 1


# --- the real build through the action's build step ------------------------------------------------


@pytest.mark.slow
def test_build_step_with_the_real_worker_build(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(
        SAMPLES / "pure-exports",
        workspace / "worker",
        ignore=shutil.ignore_patterns("target", "build"),
    )
    env = tool_env()
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / "pure-exports-unwind")
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc, outputs = run_step(
        "worker-build",
        {"path": "worker", "panic-unwind": "true", "args": "--no-loader"},
        workspace,
        tmp_path,
        env,
    )
    assert proc.returncode == 0, proc.stderr
    out = workspace / "worker" / "build"
    assert outputs["ok"] == "true" and outputs["out-dir"] == str(out)
    assert int(outputs["wasm-bytes"]) == (out / "index_bg.wasm").stat().st_size
    assert outputs["eh-encoding"] == "legacy"
    report = json.loads(Path(outputs["report"]).read_text())
    assert report["panic_strategy"] == "unwind"
    # under GitHub Actions each step is a folded group in the log
    assert "::group::worker-build: cargo build" in proc.stderr


def test_sccache_input_sets_the_wrapper_and_its_gha_backend(
    tmp_path: Path, fake_env: dict[str, str]
) -> None:
    assert step("Set up sccache")["uses"].startswith("mozilla-actions/sccache-action@")
    assert step("Use sccache")["if"] == step("Set up sccache")["if"] == "inputs.sccache == 'true'"
    github_env = tmp_path / "github-env"
    proc, _ = run_step(
        "Use sccache",
        {"sccache": "true"},
        tmp_path,
        tmp_path,
        {**fake_env, "GITHUB_ENV": str(github_env)},
    )
    assert proc.returncode == 0, proc.stderr
    assert github_env.read_text().splitlines() == [
        "RUSTC_WRAPPER=sccache",
        "SCCACHE_GHA_ENABLED=true",
    ]


def test_cache_is_pruned_before_it_is_saved(tmp_path: Path, fake_env: dict[str, str]) -> None:
    cache = step("Cache worker-build's std cache and tools")
    assert cache["with"]["path"] == "~/.cache/worker-build"
    assert "Cargo.lock" in cache["with"]["key"] and "rust-toolchain" in cache["with"]["key"]
    prune = step("Prune worker-build's std cache")
    assert prune["if"] == "always() && inputs.cache == 'true'"
    proc, _ = run_step("Prune worker-build's std cache", {}, tmp_path, tmp_path, fake_env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "argv").read_text().split() == ["cache", "prune", "--older-than", "7"]
