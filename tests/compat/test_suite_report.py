"""compat/suite_report.py: vitest's JSON report -> per-spec outcomes, the real-vs-ours
comparison behind `workers_rs_suite.py --check`, and the table. Synthetic reports in
the shape vitest 4's JSON reporter writes (no upstream content)."""

from __future__ import annotations

from typing import Any

from compat import suite_report as sr


def case(title: str, status: str, *failures: str, ancestors: tuple[str, ...] = ("grp",)) -> Any:
    return {
        "ancestorTitles": list(ancestors),
        "fullName": " ".join([*ancestors, title]),
        "status": status,
        "title": title,
        "duration": 3,
        "failureMessages": list(failures),
    }


def spec(name: str, status: str, *cases: Any, message: str = "") -> Any:
    return {
        "name": f"/abs/src/test/tests/{name}",
        "status": status,
        "message": message,
        "assertionResults": list(cases),
    }


REPORT = {
    "numTotalTests": 6,
    "success": False,
    "testResults": [
        spec("a.spec.ts", "passed", case("one", "passed"), case("two", "passed")),
        spec(
            "b.spec.ts",
            "failed",
            case("ok", "passed"),
            case(
                "bad",
                "failed",
                "\x1b[31mAssertionError: expected 'x' to contain 'y'\x1b[39m\n"
                "    at /abs/src/test/tests/b.spec.ts:3:1\n"
                "    at process.processTicksAndRejections (node:internal/process/task_queues:103:5)",
            ),
        ),
        spec("c.spec.ts", "passed", case("later", "skipped"), case("todo", "todo")),
        spec("d.spec.ts", "failed", message="Error: Cannot find module 'nope'"),
        spec("e.spec.ts", "failed"),
    ],
}
SPECS = ["a.spec.ts", "b.spec.ts", "c.spec.ts", "d.spec.ts", "e.spec.ts", "f.spec.ts"]


def test_parse_report_outcome_per_spec() -> None:
    out = sr.parse_report(REPORT, SPECS)
    assert {name: o.status for name, o in out.items()} == {
        "a.spec.ts": sr.PASSED,
        "b.spec.ts": sr.FAILED,
        "c.spec.ts": sr.SKIPPED,
        "d.spec.ts": sr.FAILED,
        "e.spec.ts": sr.FAILED,
        "f.spec.ts": sr.MISSING,
    }
    b = out["b.spec.ts"]
    assert (b.passed, b.failed, b.skipped) == (1, 1, 0)
    bad = b.tests[1]
    assert bad.name == "grp > bad"
    assert bad.message.startswith("AssertionError: expected 'x' to contain 'y'")
    assert "\x1b" not in bad.message
    assert out["c.spec.ts"].skipped == 2
    assert out["d.spec.ts"].message == "Error: Cannot find module 'nope'"
    assert out["e.spec.ts"].message  # a failed file never goes without a reason


def test_parse_report_ignores_unknown_files_and_handles_empty_report() -> None:
    out = sr.parse_report({"testResults": []}, ["x.spec.ts"])
    assert out["x.spec.ts"].status == sr.MISSING
    only = sr.parse_report(REPORT, ["a.spec.ts"])
    assert list(only) == ["a.spec.ts"]


def test_failed_test_without_messages_still_fails() -> None:
    out = sr.parse_report(
        {"testResults": [spec("z.spec.ts", "failed", case("t", "failed"))]}, ["z.spec.ts"]
    )
    assert out["z.spec.ts"].status == sr.FAILED
    assert out["z.spec.ts"].tests[0].message == "test status 'failed'"


def test_json_round_trip() -> None:
    out = sr.parse_report(REPORT, SPECS)
    for name, outcome in out.items():
        assert sr.SpecOutcome.from_json(name, outcome.to_json()) == outcome


def outcomes(**statuses: str) -> dict[str, sr.SpecOutcome]:
    made = {}
    for key, status in statuses.items():
        name = f"{key}.spec.ts"
        test_status = {sr.PASSED: sr.PASSED, sr.FAILED: sr.FAILED, sr.SKIPPED: sr.SKIPPED}.get(
            status
        )
        tests = (sr.CaseOutcome("t", test_status),) if test_status else ()
        made[name] = sr.SpecOutcome(name, status, tests)
    return made


def test_compare_finds_regressions_and_improvements() -> None:
    real = {
        "test": outcomes(a=sr.PASSED, b=sr.PASSED, c=sr.FAILED, d=sr.SKIPPED, e=sr.FAILED),
        "test-panic-unwind": outcomes(a=sr.PASSED),
    }
    ours = {
        "test": outcomes(a=sr.PASSED, b=sr.FAILED, c=sr.PASSED, d=sr.SKIPPED, e=sr.FAILED),
        "test-panic-unwind": outcomes(a=sr.NOT_RUN),
    }
    result = sr.compare(real, ours)
    assert not result.ok
    assert [(d.mode, d.spec, d.real, d.ours) for d in result.regressions] == [
        ("test", "b.spec.ts", sr.PASSED, sr.FAILED),
        ("test-panic-unwind", "a.spec.ts", sr.PASSED, sr.NOT_RUN),
    ]
    assert result.regressions[0].tests == ("t",)
    assert [(d.mode, d.spec) for d in result.improvements] == [("test", "c.spec.ts")]


def test_compare_spec_missing_on_one_side_and_modes_run_by_one_side() -> None:
    real = {"test": outcomes(a=sr.PASSED), "only-real": outcomes(a=sr.PASSED)}
    ours = {"test": {}, "only-ours": outcomes(a=sr.FAILED)}
    result = sr.compare(real, ours)
    assert [(d.mode, d.spec, d.ours) for d in result.regressions] == [
        ("test", "a.spec.ts", sr.MISSING)
    ]


def test_compare_equal_results_pass_the_check() -> None:
    same = {"test": outcomes(a=sr.PASSED, b=sr.FAILED, c=sr.SKIPPED)}
    assert sr.compare(same, same).ok
    assert sr.compare(same, same).improvements == []


def test_render_table_cells_and_totals() -> None:
    parsed = sr.parse_report(REPORT, SPECS)
    runs = {
        ("test", "ours"): parsed,
        ("test", "real"): sr.not_run(SPECS, "build failed (1)"),
    }
    table = sr.render_table(runs).splitlines()
    assert table[0] == "| spec | test: ours | test: real |"
    assert table[1] == "|---|---|---|"
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table[2:]}
    assert rows["a.spec.ts"] == "| a.spec.ts | pass 2/2 | not-run |"
    assert rows["b.spec.ts"] == "| b.spec.ts | **FAIL** 1/2 | not-run |"
    assert rows["c.spec.ts"] == "| c.spec.ts | skip (2) | not-run |"
    assert rows["d.spec.ts"] == "| d.spec.ts | **FAIL** (file) | not-run |"
    assert rows["f.spec.ts"] == "| f.spec.ts | missing | not-run |"
    assert rows["**total**"] == "| **total** | 3/4 tests, 2/6 files | 0/0 tests, 0/6 files |"


def test_render_failures_one_line_per_failed_test_or_file() -> None:
    runs = {("test-panic-unwind", "ours"): sr.parse_report(REPORT, SPECS)}
    lines = sr.render_failures(runs).splitlines()
    assert lines[0] == (
        "- test-panic-unwind: ours: b.spec.ts > grp > bad: "
        "AssertionError: expected 'x' to contain 'y' (at b.spec.ts:3:1)"
    )
    assert lines[1] == (
        "- test-panic-unwind: ours: d.spec.ts [failed]: Error: Cannot find module 'nope'"
    )
    assert lines[2].startswith("- test-panic-unwind: ours: e.spec.ts [failed]: ")
    assert lines[3] == "- test-panic-unwind: ours: f.spec.ts [missing]: not in vitest's report"
    assert len(lines) == 4  # passed and skipped specs are not listed


def test_first_lines_limits_and_location() -> None:
    assert sr.first_lines("a\n\n b \nc\nd", limit=3) == "a / b / c"
    assert sr.first_lines("x" * 500, width=10) == "x" * 10
    stack = "E: no\n  at f (file:///x/node_modules/r.js:1:2)\n  at /t/tests/k.spec.ts:9:7\n  at /t/tests/j.spec.ts:1:1"
    assert sr.first_lines(stack) == "E: no (at k.spec.ts:9:7)"
    assert sr.first_lines("  at only.js:1:1") == ""


def test_vitest_timeout_placeholder_becomes_a_timeout_message() -> None:
    raw = case(
        "slow",
        "failed",
        "Error: STACK_TRACE_ERROR\n    at task (file:///n/chunk.js:1:2)\n    at /t/tests/r.spec.ts:39:3",
    )
    raw["duration"] = 5031.3
    out = sr.parse_report({"testResults": [spec("r.spec.ts", "failed", raw)]}, ["r.spec.ts"])
    message = out["r.spec.ts"].tests[0].message
    assert message.startswith(
        "Error: timed out after 5.0 s (vitest's JSON report: STACK_TRACE_ERROR)\n"
    )
    assert sr.first_lines(message) == (
        "Error: timed out after 5.0 s (vitest's JSON report: STACK_TRACE_ERROR) (at r.spec.ts:39:3)"
    )


def test_rerun_merge_counts_attempts_and_keeps_the_first_failure() -> None:
    first = sr.parse_report(REPORT, SPECS)
    assert sr.to_rerun(first) == ["b.spec.ts", "d.spec.ts", "e.spec.ts", "f.spec.ts"]
    assert sr.to_rerun(sr.not_run(SPECS, "build failed")) == []
    second = sr.parse_report(
        {"testResults": [spec("b.spec.ts", "passed", case("ok", "passed"), case("bad", "passed"))]},
        ["b.spec.ts", "f.spec.ts"],
    )
    merged = sr.merge_rerun(first, second)
    b, f = merged["b.spec.ts"], merged["f.spec.ts"]
    assert (b.status, b.attempts) == (sr.PASSED, 2)
    assert (
        b.first_failure
        == "grp > bad: AssertionError: expected 'x' to contain 'y' (at b.spec.ts:3:1)"
    )
    assert (f.status, f.attempts, f.first_failure) == (sr.MISSING, 2, "not in vitest's report")
    assert merged["a.spec.ts"] is first["a.spec.ts"]
    assert merged["d.spec.ts"] is first["d.spec.ts"]  # not rerun: unchanged
    third = sr.merge_rerun(merged, {"f.spec.ts": sr.SpecOutcome("f.spec.ts", sr.PASSED)})
    assert third["f.spec.ts"].attempts == 3
    assert third["f.spec.ts"].first_failure == "not in vitest's report"  # still run 1's
    assert sr.SpecOutcome.from_json("b.spec.ts", b.to_json()) == b


def test_rerun_shows_in_table_and_failures() -> None:
    outcome = sr.SpecOutcome(
        "r.spec.ts",
        sr.PASSED,
        (sr.CaseOutcome("t", sr.PASSED),),
        attempts=2,
        first_failure="t: Error: Test timed out in 5000ms.",
    )
    runs = {("test", "real"): {"r.spec.ts": outcome}}
    assert "| r.spec.ts | pass 1/1, run 2 |" in sr.render_table(runs)
    assert sr.render_failures(runs) == (
        "- test: real: r.spec.ts passed on run 2; run 1: t: Error: Test timed out in 5000ms."
    )


def test_failure_summary_lists_the_file_error_and_each_failed_test() -> None:
    out = sr.parse_report(REPORT, SPECS)
    assert out["d.spec.ts"].failure_summary() == "Error: Cannot find module 'nope'"
    two = sr.SpecOutcome(
        "x.spec.ts",
        sr.FAILED,
        (sr.CaseOutcome("a", sr.FAILED, "E1\nstack"), sr.CaseOutcome("b", sr.FAILED, "E2")),
        message="hook failed",
    )
    assert two.failure_summary() == "hook failed; a: E1 / stack; b: E2"
    assert sr.SpecOutcome("y.spec.ts", sr.MISSING).failure_summary() == "missing"
