"""The build's summary for people: the rows after a build, the lines shown with an
error, and the same summary as Markdown for $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from worker_build.cli.units import format_bytes, format_duration
from worker_build.errors import CommandFailedError, WorkerBuildError


def format_size(raw: int, gz: int) -> str:
    return f"{format_bytes(raw)} ({format_bytes(gz)} gzip)"


def human_tail(output: str, lines: int) -> list[str]:
    """The last `lines` lines of a tool's output meant for people: cargo's JSON
    messages (captured on stdout for the artifact path) are dropped."""
    kept = [
        line for line in output.rstrip().splitlines() if not line.lstrip().startswith('{"reason":')
    ]
    return kept[-lines:]


def error_details(exc: WorkerBuildError, lines: int) -> list[str]:
    """What is shown above an error's one line: a failed tool's last lines of output,
    or the lines an error's message carried after its first (`exc.details`)."""
    if isinstance(exc, CommandFailedError):
        return human_tail(exc.output, lines)
    return human_tail(exc.details, lines) if exc.details else []


def _tool_version(label: str, name: str) -> str:
    """'wasm-opt 132 (PATH)' -> '132 (PATH)'."""
    prefix = f"{name} "
    return label[len(prefix) :] if label.startswith(prefix) else label


def std_row(std: Any) -> str:
    """Where the wasm32 std came from (facts["std"], set by steps/std.py)."""
    if not isinstance(std, Mapping):
        return "unknown"
    source = std.get("source")
    if source == "cache":
        return f"std cache {std.get('key')}" + (" (built now)" if std.get("built") else "")
    if source == "build-std":
        reason = std.get("reason")
        return "built from source (-Zbuild-std)" + (f": {reason}" if reason else "")
    return str(source)


def tool_row(facts: Mapping[str, Any], name: str) -> str:
    """'0.28.2 (cache)', and what was passed over for it and why (facts from
    build/report.py: `tools_passed_over`)."""
    tools: Mapping[str, str] = facts.get("tools", {})
    if name not in tools:
        return "not run" if name == "wasm-opt" else "unknown"
    row = _tool_version(tools[name], name)
    passed = facts.get("tools_passed_over", {}).get(name) or []
    if passed:
        row += "; passed over: " + "; ".join(
            f"{p.get('path')} ({p.get('origin')}): {p.get('reason')}" for p in passed
        )
    return row


def compile_cache_row(cache: Any) -> str:
    """Where the dependencies were compiled and what sccache served (facts["compile_cache"],
    set by steps/cargo.py; absent with --no-compile-cache)."""
    if not isinstance(cache, Mapping):
        return "off"
    where = {
        "shared": "shared build directory",
        "busy": "target directory (the shared build directory was busy)",
        "yours": "your build directory",
        "old-cargo": "target directory (cargo before 1.91)",
    }.get(str(cache.get("build_dir_state")), "?")
    sccache = cache.get("sccache")
    if isinstance(sccache, Mapping) and "hits" in sccache:
        served = (
            f"sccache {sccache['hits']} hits, {sccache['misses']} misses"
            f" ({sccache.get('location', '?')})"
        )
    elif isinstance(sccache, Mapping):
        served = "sccache (no counts)"
    elif cache.get("wrapper") is not None:
        served = f"your wrapper ({cache['wrapper']})"
    else:
        served = "no sccache"
    return f"{where}; {served}"


def summary_rows(facts: Mapping[str, Any]) -> list[tuple[str, str]]:
    tools: Mapping[str, str] = facts.get("tools", {})
    rows = [
        ("output", str(facts["out_dir"])),
        ("profile", f"{facts['profile']}, panic={facts['panic_strategy']}"),
        ("toolchain", str(facts.get("toolchain", "unknown"))),
        ("std", std_row(facts.get("std"))),
        ("compile cache", compile_cache_row(facts.get("compile_cache"))),
        ("wasm-bindgen", tool_row(facts, "wasm-bindgen")),
        ("wasm-opt", tool_row(facts, "wasm-opt")),
    ]
    rows += [
        (name, tool_row(facts, name)) for name in tools if name not in ("wasm-bindgen", "wasm-opt")
    ]
    rows += [
        ("EH encoding", str(facts.get("eh_encoding", "unknown"))),
        ("index_bg.wasm", format_size(facts["wasm_bytes"], facts["wasm_gzip_bytes"])),
        ("index.js", format_size(facts["js_bytes"], facts["js_gzip_bytes"])),
    ]
    loader = facts.get("loader")
    if isinstance(loader, Mapping):
        rows += loader_rows(loader)
    if "report" in facts:
        rows.append(("report", str(facts["report"])))
    return rows


def loader_rows(loader: Mapping[str, Any], shown: int = 4) -> list[tuple[str, str]]:
    """The Python loader's summary: what can be called from Python and what cannot
    (each by name, with the reason), and the JS imports to provide."""
    files = ", ".join(loader.get("files", []))
    if loader.get("kind") == "worker":
        return [("python loader", f"{files} (serve() runs it in workerd)")]
    functions, unsupported = loader.get("functions", []), loader.get("unsupported", [])
    imports, bad = loader.get("imports", []), loader.get("unsupported_imports", [])
    counts = f"{len(functions)} callable, {len(unsupported)} not"
    if imports:
        counts += f", {len(imports)} JS imports to provide()"
    rows = [("python loader", f"{', '.join(loader.get('files', []))} ({counts})")]

    def listing(items: list[str]) -> str:
        more = f"; {len(items) - shown} more in the report" if len(items) > shown else ""
        return "; ".join(items[:shown]) + more

    if unsupported:
        rows.append(("  not callable", listing(unsupported)))
    if bad:
        rows.append(("  JS imports", "cannot be provided: " + listing(bad)))
    return rows


def step_summary_markdown(facts: Mapping[str, Any]) -> str:
    """The summary as Markdown for $GITHUB_STEP_SUMMARY."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"### worker-build: built in {format_duration(float(facts['seconds']))}",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {cell(name)} | {cell(value)} |" for name, value in summary_rows(facts)]
    steps = facts.get("steps", [])
    if steps:
        lines += ["", "| step | time |", "|---|---:|"]
        lines += [
            f"| {cell(str(s['name']))} | {format_duration(float(s['seconds']))} |" for s in steps
        ]
    return "\n".join(lines) + "\n"
