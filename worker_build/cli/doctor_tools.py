"""`doctor`'s rows for wasm-bindgen, wasm-opt, esbuild and workerd.

Each tool is looked up as a build looks it up (resolve.survey: the override, PATH and
node_modules at the pinned version, the cache), but every candidate is run now
(`fresh`), so a row says "ok" only for a tool that just ran and reported the pinned
version; what was passed over is named with the reason, as the build's summary does.

For a tool the first build would fetch, the row says what it would fetch and how,
after one cheap look at each host involved (tools/reach.py: all at once, bounded by
one short timeout): the prebuilt download and its size; or, when that host does not
answer, `cargo install` / `npm install` and about how long, if crates.io / the npm
registry answers; or that the build would fail. A broken cache entry is its own
status, `broken`, with what the next build does about it. `doctor --offline` looks at
no host and predicts an `--offline` build: whatever is not there fails it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from worker_build.cli.doctor_checks import Check, Status, missing
from worker_build.errors import EXIT_OK, EXIT_TOOL_MISSING, ToolMissingError
from worker_build.tools import install, prebuilt, reach, resolve
from worker_build.tools.resolve import Spec, Survey

# Answers cheaply for "can cargo reach crates.io" (the sparse index's config file).
CRATES_IO_PROBE = "https://index.crates.io/config.json"
Look = Callable[[Sequence[str]], dict[str, reach.Reach]]


@dataclass(frozen=True)
class Want:
    """One row to check: the tool's spec (None when it cannot be known yet), whether a
    build needs it, and what to say when it does not."""

    name: str
    spec: Spec | None
    needed: bool = True
    why_not_needed: str = ""


def _fallback_url(spec: Spec) -> str:
    inst = spec.installer
    if inst.command == "cargo":
        return CRATES_IO_PROBE
    return f"{prebuilt.npm_registry()}/{inst.package}/{inst.version}"


def _urls(spec: Spec) -> list[str]:
    return ([spec.asset.url] if spec.asset else []) + [_fallback_url(spec)]


# The fix when the hosts did not answer (rather than a tool or a setting missing here).
NETWORK_FIX = "or point worker-build at a mirror, or set HTTPS_PROXY (README: Downloads)"


@dataclass(frozen=True)
class Plan:
    works: bool
    text: str  # what the first build does, or why it fails
    network: bool = False  # it fails because no host answered


def predict(spec: Spec, reached: dict[str, reach.Reach], offline: bool) -> Plan:
    """What a build does about a tool it does not find, from the hosts' answers."""
    if offline:
        return Plan(False, "fails: an --offline build fetches nothing")
    if spec.asset is not None:
        got = reached[spec.asset.url]
        if got.ok:
            size = f" ({got.detail})" if got.size else ""
            return Plan(True, f"downloads the prebuilt release{size} from {got.url}, reachable now")
        no_prebuilt = f"no prebuilt {spec.name} reachable ({got.url}: {got.detail})"
    elif spec.prebuilt:
        system, machine = prebuilt.host()
        no_prebuilt = f"no prebuilt {spec.name} is published for {system}/{machine}"
    else:
        no_prebuilt = ""
    inst = spec.installer
    registry = "crates.io" if inst.command == "cargo" else "the npm registry"
    fallback = reached[_fallback_url(spec)]
    lead = f"{no_prebuilt}; " if no_prebuilt else ""
    if shutil.which(inst.command) is None:
        return Plan(False, f"fails: {lead}{inst.command} is not on PATH to install it")
    if not fallback.ok:
        text = f"fails: {lead}{registry} does not answer ({fallback.url}: {fallback.detail})"
        return Plan(False, text, network=True)
    if inst.command == "cargo":
        how = (
            f"compiles it with `cargo install {inst.package} --version {inst.version}` into "
            f"{spec.installed}, {install.CARGO_ESTIMATE}"
        )
    else:
        how = (
            f"installs npm's {inst.package}@{inst.version} into {spec.installed}, "
            f"{install.NPM_ESTIMATE}"
        )
    return Plan(True, f"{how} ({lead}{registry} answered)")


def _passed(found: Survey) -> str:
    labels = [p.label for p in found.passed]
    return f"; passed over: {'; '.join(labels)}" if labels else ""


def _row(want: Want, found: Survey, reached: dict[str, reach.Reach], offline: bool) -> Check:
    spec, name = found.spec, want.name
    tool = found.tool
    if tool is not None:
        detail = f"{tool.version} ({tool.source.value}), ran now: {tool.path}{_passed(found)}"
        if tool.version == spec.version:
            return Check(name, Status.OK, detail)
        if spec.name == "wasm-bindgen":  # only an override can differ; the build fails
            return Check(
                name,
                Status.MISSING,
                f"{spec.env_var} is wasm-bindgen {tool.version} but Cargo.lock locks "
                f"{spec.version} (the CLI must match the crate's wasm-bindgen)",
                f"point {spec.env_var} at wasm-bindgen {spec.version} or unset it",
                EXIT_TOOL_MISSING,
            )
        return Check(name, Status.OK, f"{detail} (not {spec.pinned}: used as {spec.env_var} asks)")
    broken = "; ".join(f"the cached {spec.name} in {d} is {p.reason}" for d, p in found.broken)
    if not want.needed and not broken:
        text = f"{resolve.missing_message(found)}; {want.why_not_needed}"
        return Check(name, Status.ABSENT, text, spec.fix)
    plan = predict(spec, reached, offline)
    if broken:
        entries = ", ".join(str(d) for d, _ in found.broken)
        fix = f"run a build (it replaces the entry) or delete {entries}"
        if not plan.works:
            fix = f"{spec.fix}, {NETWORK_FIX}" if plan.network else spec.fix
        what = f"{broken}{_passed(found)}; the next build removes it and {plan.text}"
        code = EXIT_OK if plan.works or not want.needed else EXIT_TOOL_MISSING
        return Check(name, Status.BROKEN, what, fix, code)
    what = f"{resolve.missing_message(found)}; the first build {plan.text}"
    if plan.works:
        return Check(name, Status.WARN, what, spec.fix)
    fix = f"{spec.fix}, {NETWORK_FIX}" if plan.network else spec.fix
    if offline:
        fix = f"{spec.fix}, or build once without --offline"
    return Check(name, Status.MISSING, what, fix, EXIT_TOOL_MISSING)


def check_tools(
    wants: Sequence[Want], crate_root: Path, *, offline: bool, look: Look = reach.look
) -> list[Check]:
    """One row per wanted tool, each found tool run now, the hosts asked once."""
    rows: dict[str, Check] = {}
    surveys: dict[str, Survey] = {}
    for want in wants:
        if want.spec is None:
            rows[want.name] = Check(want.name, Status.SKIPPED, "needs the crate's Cargo.lock")
            continue
        try:
            surveys[want.name] = resolve.survey(want.spec, crate_root, fresh=True)
        except ToolMissingError as exc:  # the override names no working tool
            rows[want.name] = missing(want.name, exc)
    urls: list[str] = []
    for want in wants:
        found = surveys.get(want.name)
        if found and found.tool is None and (want.needed or found.broken) and not offline:
            urls += _urls(found.spec)
    reached = look(urls) if urls else {}
    for want in wants:
        if want.name in surveys:
            rows[want.name] = _row(want, surveys[want.name], reached, offline)
    return [rows[want.name] for want in wants]
