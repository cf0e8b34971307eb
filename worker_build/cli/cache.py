"""`worker-build cache [list] [--json]` and `worker-build cache prune [...]`.

Lists the entries of the std cache (rust/stdcache/) with their sizes, what each holds
and when a build last used it, and removes them: broken or incomplete entries and
the leftovers of killed builds always, entries unused for `--older-than DAYS`
(default 30), or `--all`. An entry a build holds right now is never removed. The
other directories of worker-build's cache (tools) are listed with their sizes only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from worker_build.cli.guard import run_guarded
from worker_build.errors import UsageError, WorkerBuildError
from worker_build.rust import stdcache
from worker_build.util.cachedir import cache_root, tree_size

USAGE = (
    "usage: worker-build cache [list] [--json]\n"
    "       worker-build cache prune [--older-than DAYS | --all] [--dry-run]"
)
USAGE_HINT = "see `worker-build cache --help`"
DEFAULT_DAYS = 30.0


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _since(stamp: float, now: float) -> str:
    seconds = max(0.0, now - stamp)
    if seconds >= 86400:
        return f"{seconds / 86400:.0f} days"
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def _age(stamp: float | None, now: float) -> str:
    return "never" if stamp is None else f"{_since(stamp, now)} ago"


def _describe(spec: dict[str, Any]) -> str:
    if not spec:
        return "?"
    profile = spec.get("profile", {})
    parts = [
        f"rustc {spec.get('rustc', '?')}",
        f"panic={spec.get('panic', '?')}",
        f"opt-level={profile.get('opt_level', '?')}",
    ]
    if str(profile.get("lto", "false")) not in ("false", "off"):
        parts.append(f"lto={profile['lto']}")
    if spec.get("eh_encoding") not in (None, "none", "default"):
        parts.append(f"eh={spec['eh_encoding']}")
    if str(spec.get("policy", "")).startswith("dev"):
        parts.append("dev (optimized)")
    flags = [f for f in spec.get("rustflags", []) if not f.startswith("-Cpanic=")]
    if flags:
        parts.append("rustflags " + " ".join(flags))
    return ", ".join(parts)


def list_entries(as_json: bool) -> int:
    entries = stdcache.entries()
    now = time.time()
    others = {
        p.name: tree_size(p)
        for p in sorted(cache_root().glob("*"))
        if p.is_dir() and p.name not in ("std", "locks")
    }
    if as_json:
        doc = {
            "std_cache": str(stdcache.root()),
            "entries": [
                {
                    "key": e.key,
                    "path": str(e.path),
                    "bytes": e.bytes,
                    "ok": e.problem is None,
                    "problem": e.problem,
                    "created": e.created,
                    "last_used": e.last_used,
                    "spec": e.spec,
                }
                for e in entries
            ],
            "other_bytes": others,
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        return 0
    out = [f"std cache: {stdcache.root()}"]
    if not entries:
        out.append("  (no entries)")
    for e in entries:
        state = "ok" if e.problem is None else f"broken: {e.problem}"
        out.append(
            f"  {e.key}  {human(e.bytes):>9}  used {_age(e.last_used, now)}  {state}\n"
            f"      {_describe(e.spec)}"
        )
    total = sum(e.bytes for e in entries)
    out.append(f"  {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {human(total)}")
    if others:
        out.append(f"other caches in {cache_root()}:")
        out += [f"  {name:<14} {human(size):>9}" for name, size in others.items()]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def prune(older_than: float | None, remove_all: bool, dry_run: bool) -> int:
    now = time.time()
    removed, kept_busy, freed = [], [], 0
    for e in stdcache.entries():
        unused = e.last_used is None or (
            older_than is not None and now - e.last_used > older_than * 86400
        )
        if not (remove_all or e.problem is not None or unused):
            continue
        if remove_all:
            why = "all"
        elif e.problem is not None:
            why = e.problem
        else:
            why = "never used" if e.last_used is None else f"unused for {_since(e.last_used, now)}"
        if dry_run or stdcache.remove(e):
            removed.append(f"  {e.key}  {human(e.bytes):>9}  ({why})")
            freed += e.bytes
        else:
            kept_busy.append(e.key)
    for leftover in stdcache.leftovers():
        size = tree_size(leftover)
        if dry_run or stdcache.remove_leftover(leftover):
            removed.append(f"  {leftover.name}  {human(size):>9}  (left by a killed build)")
            freed += size
    verb = "would remove" if dry_run else "removed"
    lines = (
        [f"{verb} {len(removed)} item(s), {human(freed)}:", *removed]
        if removed
        else ["nothing to remove"]
    )
    if kept_busy:
        lines.append(f"kept (a build is using them): {', '.join(kept_busy)}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit(2) with its own text
        raise UsageError(message, USAGE_HINT)


def run(argv: list[str]) -> int:
    parser = _Parser(prog="worker-build cache", add_help=False)
    parser.add_argument("command", nargs="?", default="list", choices=("list", "prune"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--older-than", type=float, metavar="DAYS")
    parser.add_argument("--all", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "list":
        if args.older_than is not None or args.all or args.dry_run:
            raise UsageError("--older-than, --all and --dry-run go with `cache prune`", USAGE_HINT)
        return list_entries(args.json)
    if args.json:
        raise UsageError("--json goes with `cache list`")
    if args.all and args.older_than is not None:
        raise UsageError("--all and --older-than conflict", "pass only one")
    if args.older_than is not None and args.older_than < 0:
        raise UsageError("--older-than must be a number of days >= 0")
    days = None if args.all else (DEFAULT_DAYS if args.older_than is None else args.older_than)
    return prune(days, args.all, args.dry_run)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        sys.stdout.write(
            f"{USAGE}\n\nList or prune worker-build's std cache (a wasm32 std per compiler, "
            "panic strategy, profile\nand flags). prune removes broken entries, leftovers of "
            f"killed builds and entries unused\nfor --older-than DAYS (default "
            f"{DEFAULT_DAYS:.0f}); --all removes every entry.\n"
        )
        return 0
    return run_guarded(
        lambda: run(args),
        _report_error,
        show_traceback=False,
        interrupted="interrupted",
    )


def _report_error(exc: WorkerBuildError) -> None:
    sys.stderr.write(f"error: {exc.one_line()}\n")


if __name__ == "__main__":
    raise SystemExit(main())
