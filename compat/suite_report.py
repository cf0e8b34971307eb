"""Results of workers-rs's vitest suite: vitest's JSON report -> per-spec outcomes, the
comparison of two tools, and the table. Pure functions (no processes, no files): the
runner (`compat/workers_rs_suite.py`, `compat/suite_runs.py`) does the I/O;
`tests/compat/test_suite_report.py` tests this module.

A spec file's outcome:
  passed   every test that ran passed (at least one ran), and the file loaded
  skipped  the file loaded and all its tests were skipped (e.g. container.spec.ts
           without TEST_CONTAINER_NAME)
  failed   a test failed, or the file itself failed (import error, crash, timeout
           in a hook)
  missing  the spec exists but vitest reported nothing for it (vitest died)
  not-run  the build failed, so the suite did not run

A spec that did not pass can be run again (`merge_rerun`): its outcome is then the last
run's, with `attempts` > 1 and the first run's failure kept in `first_failure`, so a
spec that passes only on a second run shows as such in the table ("pass 1/1, run 2").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any

PASSED, SKIPPED, FAILED, MISSING, NOT_RUN = "passed", "skipped", "failed", "missing", "not-run"
OK = frozenset({PASSED, SKIPPED})
# vitest's JSON reporter: passed | failed | skipped | pending | todo | disabled
_SKIPPED_TEST = frozenset({"skipped", "pending", "todo", "disabled"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TIMEOUT_PLACEHOLDER = "Error: STACK_TRACE_ERROR"
_SPEC_FRAME = re.compile(r"([\w.-]+\.spec\.ts:\d+:\d+)")


@dataclass(frozen=True)
class CaseOutcome:
    name: str  # "describe > ... > title"
    status: str  # "passed", "failed" or "skipped"
    message: str = ""  # the first failure message, ANSI codes removed


@dataclass(frozen=True)
class SpecOutcome:
    spec: str  # file name, e.g. "panic.spec.ts"
    status: str
    tests: tuple[CaseOutcome, ...] = ()
    message: str = ""  # the file-level error (import failure, crash)
    attempts: int = 1
    first_failure: str = ""  # with attempts > 1: what failed in the first run

    @property
    def passed(self) -> int:
        return sum(t.status == PASSED for t in self.tests)

    @property
    def failed(self) -> int:
        return sum(t.status == FAILED for t in self.tests)

    @property
    def skipped(self) -> int:
        return sum(t.status == SKIPPED for t in self.tests)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "message": self.message,
            "attempts": self.attempts,
            "first_failure": self.first_failure,
            "tests": [
                {"name": t.name, "status": t.status, "message": t.message} for t in self.tests
            ],
        }

    @classmethod
    def from_json(cls, spec: str, data: Mapping[str, Any]) -> SpecOutcome:
        tests = tuple(
            CaseOutcome(t["name"], t["status"], t.get("message", "")) for t in data["tests"]
        )
        return cls(
            spec,
            data["status"],
            tests,
            data.get("message", ""),
            data.get("attempts", 1),
            data.get("first_failure", ""),
        )

    def failure_summary(self) -> str:
        """The file-level error and every failed test, one line each joined by "; "."""
        parts = [first_lines(self.message)] if self.message else []
        parts += [f"{t.name}: {first_lines(t.message)}" for t in self.tests if t.status == FAILED]
        return "; ".join(parts) or self.status


def clean(text: str) -> str:
    return _ANSI.sub("", text).strip()


def _test_outcome(raw: Mapping[str, Any]) -> CaseOutcome:
    titles = [*raw.get("ancestorTitles", []), raw.get("title", "")]
    name = " > ".join(t for t in titles if t) or str(raw.get("fullName", "?"))
    status = str(raw.get("status", ""))
    if status == PASSED:
        return CaseOutcome(name, PASSED)
    if status in _SKIPPED_TEST:
        return CaseOutcome(name, SKIPPED)
    messages = raw.get("failureMessages") or [f"test status {status!r}"]
    message = clean(str(messages[0]))
    if message.startswith(_TIMEOUT_PLACEHOLDER):
        # vitest's JSON report keeps the placeholder error its timeouts are made from,
        # not the "Test timed out in N ms" its console shows
        took = float(raw.get("duration") or 0) / 1000
        message = (
            f"Error: timed out after {took:.1f} s (vitest's JSON report: STACK_TRACE_ERROR)"
            + message[len(_TIMEOUT_PLACEHOLDER) :]
        )
    return CaseOutcome(name, FAILED, message)


def _spec_outcome(spec: str, raw: Mapping[str, Any]) -> SpecOutcome:
    tests = tuple(_test_outcome(t) for t in raw.get("assertionResults", []))
    message = clean(str(raw.get("message") or ""))
    file_failed = raw.get("status") == FAILED
    if file_failed or any(t.status == FAILED for t in tests):
        if file_failed and not message and not any(t.status == FAILED for t in tests):
            message = "the spec file failed (no message)"
        return SpecOutcome(spec, FAILED, tests, message)
    if any(t.status == PASSED for t in tests):
        return SpecOutcome(spec, PASSED, tests, message)
    return SpecOutcome(spec, SKIPPED, tests, message)


def parse_report(report: Mapping[str, Any], specs: Iterable[str]) -> dict[str, SpecOutcome]:
    """Outcome of every spec in `specs` (file names) from vitest's JSON report; a spec
    the report does not mention is MISSING. Report entries are matched on the file
    name (vitest writes absolute paths)."""
    by_name: dict[str, Mapping[str, Any]] = {}
    for raw in report.get("testResults", []):
        by_name[PurePosixPath(str(raw.get("name", ""))).name] = raw
    outcomes = {}
    for spec in sorted(specs):
        raw = by_name.get(spec)
        if raw is None:
            outcomes[spec] = SpecOutcome(spec, MISSING, message="not in vitest's report")
        else:
            outcomes[spec] = _spec_outcome(spec, raw)
    return outcomes


def to_rerun(outcomes: Mapping[str, SpecOutcome]) -> list[str]:
    """Specs worth running again: failed or missing (not those that did not run)."""
    return [s for s, o in outcomes.items() if o.status in (FAILED, MISSING)]


def merge_rerun(
    outcomes: Mapping[str, SpecOutcome], rerun: Mapping[str, SpecOutcome]
) -> dict[str, SpecOutcome]:
    """`outcomes` with each spec of `rerun` replaced by its new outcome, counting the
    attempt and keeping the first failure."""
    merged = dict(outcomes)
    for spec, new in rerun.items():
        old = outcomes[spec]
        first = old.first_failure or old.failure_summary()
        merged[spec] = replace(new, attempts=old.attempts + 1, first_failure=first)
    return merged


def not_run(specs: Iterable[str], why: str) -> dict[str, SpecOutcome]:
    return {s: SpecOutcome(s, NOT_RUN, message=why) for s in sorted(specs)}


# ------------------------------------------------------------------------------ comparison


@dataclass(frozen=True)
class Difference:
    mode: str
    spec: str
    real: str  # spec status with the real tool
    ours: str
    tests: tuple[str, ...] = ()  # tests that passed with the real tool and not with ours


@dataclass
class Comparison:
    regressions: list[Difference] = field(default_factory=list)  # real ok, ours not
    improvements: list[Difference] = field(default_factory=list)  # ours ok, real not

    @property
    def ok(self) -> bool:
        return not self.regressions


def compare(
    real: Mapping[str, Mapping[str, SpecOutcome]], ours: Mapping[str, Mapping[str, SpecOutcome]]
) -> Comparison:
    """Per mode and spec: a regression is a spec that passes (or is skipped) with the
    real tool and does not with ours. Modes only one side ran are not compared."""
    result = Comparison()
    for mode in sorted(set(real) & set(ours)):
        for spec in sorted(set(real[mode]) | set(ours[mode])):
            r = real[mode].get(spec, SpecOutcome(spec, MISSING))
            o = ours[mode].get(spec, SpecOutcome(spec, MISSING))
            if r.status in OK and o.status not in OK:
                ours_passed = {t.name for t in o.tests if t.status == PASSED}
                lost = tuple(
                    t.name for t in r.tests if t.status == PASSED and t.name not in ours_passed
                )
                result.regressions.append(Difference(mode, spec, r.status, o.status, lost))
            elif o.status in OK and r.status not in OK:
                result.improvements.append(Difference(mode, spec, r.status, o.status))
    return result


# ------------------------------------------------------------------------------ table


def cell(outcome: SpecOutcome | None) -> str:
    if outcome is None:
        return ""
    ran = outcome.passed + outcome.failed
    if outcome.status == PASSED:
        text = f"pass {outcome.passed}/{ran}"
    elif outcome.status == SKIPPED:
        text = f"skip ({outcome.skipped})"
    elif outcome.status == FAILED:
        text = f"**FAIL** {outcome.passed}/{ran}" if ran else "**FAIL** (file)"
    else:
        text = outcome.status
    return f"{text}, run {outcome.attempts}" if outcome.attempts > 1 else text


def render_table(runs: Mapping[tuple[str, str], Mapping[str, SpecOutcome]]) -> str:
    """A markdown table: one row per spec, one column per (mode, tool) run, in the
    order given; a last row with the passed/total test counts."""
    columns = list(runs)
    specs = sorted({spec for outcomes in runs.values() for spec in outcomes})
    head = "| spec | " + " | ".join(f"{mode}: {tool}" for mode, tool in columns) + " |"
    lines = [head, "|---" * (len(columns) + 1) + "|"]
    for spec in specs:
        cells = [cell(runs[col].get(spec)) for col in columns]
        lines.append(f"| {spec} | " + " | ".join(cells) + " |")
    totals = []
    for col in columns:
        outcomes = runs[col].values()
        passed = sum(o.passed for o in outcomes)
        ran = sum(o.passed + o.failed for o in outcomes)
        files = sum(o.status in OK for o in outcomes)
        totals.append(f"{passed}/{ran} tests, {files}/{len(outcomes)} files")
    lines.append("| **total** | " + " | ".join(totals) + " |")
    return "\n".join(lines)


def first_lines(text: str, limit: int = 3, width: int = 300) -> str:
    """Up to `limit` message lines (stack frames left out) joined by " / ", then where
    in a spec file it happened, e.g. "AssertionError: ... (at panic.spec.ts:138:27)"."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = [line for line in lines if not line.startswith("at ")][:limit]
    frames = (_SPEC_FRAME.search(line) for line in lines if line.startswith("at "))
    where = next((m.group(1) for m in frames if m), None)
    return (" / ".join(message)[:width] + (f" (at {where})" if where else "")).strip()


def render_failures(runs: Mapping[tuple[str, str], Mapping[str, SpecOutcome]]) -> str:
    """One line per failed test (or failed spec file), with its first message lines."""
    out = []
    for (mode, tool), outcomes in runs.items():
        for spec, outcome in outcomes.items():
            if outcome.status in OK:
                if outcome.attempts > 1:
                    out.append(
                        f"- {mode}: {tool}: {spec} passed on run {outcome.attempts}; "
                        f"run 1: {first_lines(outcome.first_failure)}"
                    )
                continue
            failed = [t for t in outcome.tests if t.status == FAILED]
            if outcome.message or not failed:
                out.append(
                    f"- {mode}: {tool}: {spec} [{outcome.status}]: "
                    f"{first_lines(outcome.message) or '(no message)'}"
                )
            for test in failed:
                out.append(f"- {mode}: {tool}: {spec} > {test.name}: {first_lines(test.message)}")
    return "\n".join(out)
