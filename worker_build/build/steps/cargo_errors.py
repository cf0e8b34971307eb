"""What a failed `cargo build` means, and how to fix it.

cargo fails for many reasons besides compile errors: an unknown feature or
profile, a rejected argument, a lock file out of date, a registry it cannot
reach, a missing linker. With `--message-format=json-render-diagnostics` all
of it is on stderr: rustc's diagnostics (`error[E..]: ...`), cargo's own
`error: ...` lines and its `could not compile` summary. The first error line
a rule matches gives the cause and the fix-it of the one-line error.
"""

from __future__ import annotations

import re

from worker_build.errors import CommandFailedError
from worker_build.util.proc import Result

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The error lines cargo prints after rustc's (their cause is the compile errors).
_SUMMARY = re.compile(r"^(could not compile|aborting due to|build failed)")
_COMPILE_FAILED = re.compile(r"^could not compile ")
_ERROR = re.compile(r"^error(?:\[\w+\])?: (.*)$")
_LOCATION = re.compile(r"^\s*--> (\S+):(\d+):(\d+)$")
COMPILE_FIX = "fix the compile errors cargo printed above"
MANIFEST_FIX = "fix Cargo.toml (cargo's error above shows where)"
OFFLINE_FIX = "a dependency is not in cargo's local cache: run once without --offline/--frozen"
RESOLVE_FIX = (
    "cargo could not resolve or download a dependency: check the network, the registry "
    "and the [dependencies] of Cargo.toml"
)

# (pattern on cargo's error line, fix). First match wins; checked in this order.
RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), fix)
    for pattern, fix in (
        (
            r"does not (contain|have) (this|these|the) features?|"
            r"none of the selected packages contains? (this|these) features?",
            "check the --features names against the [features] table of Cargo.toml",
        ),
        (
            r"profile `[^`]*` is not defined",
            'define it as [profile.NAME] (with `inherits = "release"`) in Cargo.toml, '
            "or use --dev, --release or --profiling",
        ),
        (
            r"did not match any packages|package `[^`]*` not found in workspace",
            "check the -p/--package name (`cargo metadata` lists the packages)",
        ),
        (
            r"unexpected argument|cannot be used with|cannot be used multiple times|"
            r"invalid value .* for|a value is required for|unrecognized subcommand",
            "worker-build passes options it does not know to `cargo build`: "
            "fix or drop that cargo argument",
        ),
        (
            r"needs to be updated but --(locked|frozen) was passed|"
            r"lock file .* needs to be updated",
            "run `cargo update` (or `cargo generate-lockfile`) and commit Cargo.lock, "
            "or drop --locked/--frozen",
        ),
        (r"failed to (parse|load) manifest|failed to read .*Cargo\.toml", MANIFEST_FIX),
        (
            r"failed to run custom build command",
            "a build script (build.rs) failed: its output is above",
        ),
        (
            r"linker `[^`]*` not found",
            "install the wasm linker rust-lld (Debian rustc-web: `apt-get install "
            "rust-web-llvm lld-22`); `worker-build doctor` checks it",
        ),
        (
            r"library/Cargo\.lock.* does not exist|can't find crate for `(std|core)`|"
            r"the `wasm32-unknown-unknown` target may not be installed",
            "the toolchain lacks the std sources or the wasm32 std: run `worker-build doctor`",
        ),
        (
            r"failed to (get|download|select a version|update|fetch|query)|"
            r"no matching package named|unable to update registry|spurious network error|"
            r"could not resolve host|failed to load source for dependency|"
            r"attempting to make an HTTP request",
            RESOLVE_FIX,
        ),
    )
)


def error_lines(stderr: str) -> list[tuple[str, str | None]]:
    """The `error: ...` / `error[E..]: ...` lines of cargo's stderr (without the
    prefix, colour codes removed), each with the `file:line:col` shown under it."""
    lines = [line.strip() for line in _ANSI.sub("", stderr).replace("\r", "\n").splitlines()]
    found: list[tuple[str, str | None]] = []
    for index, line in enumerate(lines):
        match = _ERROR.match(line)
        if match is None:
            continue
        where = _LOCATION.match(lines[index + 1]) if index + 1 < len(lines) else None
        found.append((match.group(1).strip(), ":".join(where.groups()) if where else None))
    return found


def _fix_for(message: str, where: str | None, argv: list[str]) -> str | None:
    if where is not None and where.split(":")[0].endswith(".toml"):
        return MANIFEST_FIX
    fix = next((f for pattern, f in RULES if pattern.search(message)), None)
    if fix is RESOLVE_FIX and {"--offline", "--frozen"} & set(argv):
        return OFFLINE_FIX
    return fix


def explain(result: Result) -> CommandFailedError:
    """The error for a failed cargo run (stdout: its JSON messages, stderr: what it
    printed): cargo's cause in the message, the fix that fits it."""
    errors = error_lines(result.stderr)
    causes = [(m, w) for m, w in errors if not _SUMMARY.match(m)] or errors[:1]
    cause, fix = "", None
    for message, where in causes:
        fix = _fix_for(message, where, result.argv)
        if fix is not None:
            cause = f"{message} ({where})" if where else message
            break
    if fix is None:
        compiled = any(_COMPILE_FAILED.match(message) for message, _ in errors)
        fix = COMPILE_FIX if compiled else "see cargo's error above"
        if causes:
            message, where = causes[0]
            cause = f"{message} ({where})" if where else message
    if len(cause) > 240:
        cause = cause[:237] + "..."
    # The failure's output is stdout only: stderr was shown as cargo wrote it.
    return CommandFailedError(result.argv, result.returncode, result.stdout, fix, cause or None)
