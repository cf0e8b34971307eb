"""compat/suite_runs.py: the baseline file --check reads (the real tool's runs of an
earlier results file) and vitest's environment. Fast: no build, no vitest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compat import suite_report as sr
from compat.suite_runs import LOOPBACK, RunResult, load_baseline, vitest_env
from compat.suite_setup import NODE22, SetupError


def test_baseline_reads_the_real_tools_runs(tmp_path: Path) -> None:
    specs = sr.parse_report(
        {"testResults": [{"name": "/x/a.spec.ts", "status": "passed", "assertionResults": []}]},
        ["a.spec.ts"],
    )
    runs = [
        RunResult("real", "test", ("--dev",), 0, 1.0, True, 0, 2.0, specs),
        RunResult(
            "ours", "test", ("--dev",), 0, 1.0, False, 1, 2.0, sr.not_run(["a.spec.ts"], "x")
        ),
    ]
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"runs": [r.to_json() for r in runs]}))
    assert load_baseline(path, ["test", "test-panic-unwind"]) == {"test": specs}
    with pytest.raises(SetupError, match="no results of the real tool"):
        load_baseline(path, ["test-panic-unwind"])


def test_vitest_env_keeps_upstream_options_and_adds_loopback() -> None:
    env = vitest_env({"PATH": "/usr/bin"})
    assert env["WORKERD_ALL_AUTOGATES"] == "1"
    assert env["NODE_OPTIONS"].startswith("--experimental-vm-modules --import file://")
    assert env["NODE_OPTIONS"].endswith("/compat/loopback.mjs")
    assert env["PATH"].split(":")[0] == str(NODE22.parent)
    assert LOOPBACK.is_file()
