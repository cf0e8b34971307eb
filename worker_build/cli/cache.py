"""`worker-build cache [list] [--json]` and `worker-build cache prune [...]` (typer).

Lists the entries of the std cache (rust/stdcache/) with their sizes, what each holds
and when a build last used it, and removes them: broken or incomplete entries and
the leftovers of killed builds always, entries unused for `--older-than DAYS`
(default 30), or `--all`. An entry a build holds right now is never removed. The
compile cache (rust/compile_cache/: the shared build directory, sccache's local
storage and servers) is listed and pruned by the same rules. The other directories of
worker-build's cache (tools) are listed with their sizes only.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from worker_build.cli import typer_app
from worker_build.cli.guard import print_error, run_guarded
from worker_build.cli.units import format_bytes
from worker_build.errors import UsageError
from worker_build.rust import stdcache
from worker_build.rust.compile_cache import listing as compile_listing
from worker_build.tools import sccache
from worker_build.util.cachedir import cache_root, tree_size

DEFAULT_DAYS = 30.0


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
        if p.is_dir() and p.name not in ("std", "locks", "compile")
    }
    compiled = compile_listing.listing(cache_root())
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
            "compile_cache": {
                "path": str(compiled.root),
                "build_dir": str(compiled.build_dir),
                "build_dir_bytes": compiled.build_dir_bytes,
                "build_dir_last_used": compiled.build_dir_used,
                "sccache_dir": str(compiled.sccache_dir),
                "sccache_bytes": compiled.sccache_bytes,
                "sccache_files": compiled.sccache_files,
                "servers": [{"socket": str(s), "running": up} for s, up in compiled.servers],
            },
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
            f"  {e.key}  {format_bytes(e.bytes):>9}  used {_age(e.last_used, now)}  {state}\n"
            f"      {_describe(e.spec)}"
        )
    total = sum(e.bytes for e in entries)
    out.append(f"  {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, {format_bytes(total)}")
    out += _compile_lines(compiled, now)
    if others:
        out.append(f"other caches in {cache_root()}:")
        out += [f"  {name:<14} {format_bytes(size):>9}" for name, size in others.items()]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _compile_lines(info: compile_listing.Listing, now: float) -> list[str]:
    running = sum(up for _, up in info.servers)
    return [
        f"compile cache: {info.root}",
        f"  build directory  {format_bytes(info.build_dir_bytes):>9}  used "
        f"{_age(info.build_dir_used, now)}",
        f"  sccache storage  {format_bytes(info.sccache_bytes):>9}  {info.sccache_files} files"
        f"; {running} server{'' if running == 1 else 's'} running",
    ]


def _prune_compile_cache(
    older_than: float | None, remove_all: bool, dry_run: bool
) -> compile_listing.Pruned:
    found = sccache.find()
    exe = None if isinstance(found, str) else found.path
    return compile_listing.prune(cache_root(), older_than, remove_all, dry_run, exe)


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
            removed.append(f"  {e.key}  {format_bytes(e.bytes):>9}  ({why})")
            freed += e.bytes
        else:
            kept_busy.append(e.key)
    for leftover in stdcache.leftovers():
        size = tree_size(leftover)
        if dry_run or stdcache.remove_leftover(leftover):
            removed.append(f"  {leftover.name}  {format_bytes(size):>9}  (left by a killed build)")
            freed += size
    compiled = _prune_compile_cache(older_than, remove_all, dry_run)
    for what, size, why in compiled.removed:
        removed.append(f"  {what}  {format_bytes(size):>9}  ({why})")
        freed += size
    kept_busy += compiled.busy
    verb = "would remove" if dry_run else "removed"
    lines = (
        [f"{verb} {len(removed)} item(s), {format_bytes(freed)}:", *removed]
        if removed
        else ["nothing to remove"]
    )
    if kept_busy:
        lines.append(f"kept (a build is using them): {', '.join(kept_busy)}")
    if compiled.stopped:
        lines.append(f"stopped {compiled.stopped} sccache server(s) of this cache directory")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


JSON_HELP = "print the listing as JSON on stdout"
TRACEBACK_HELP = "also print the Python traceback of an error (same exit code)"
Json = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
Traceback = Annotated[bool, typer.Option("--traceback", help=TRACEBACK_HELP)]

app = typer_app.new_app(
    "List or prune worker-build's caches: the std cache (a wasm32 std per compiler, panic "
    "strategy, profile and flags), the compile cache (the shared build directory and "
    "sccache's storage) and the tools. Without a command: list."
)


def _guarded(body: Callable[[], int], traceback: bool) -> int:
    return run_guarded(body, print_error, show_traceback=traceback)


@app.callback(invoke_without_command=True)
def cache(ctx: typer.Context, json: Json = False, traceback: Traceback = False) -> int | None:
    if ctx.invoked_subcommand is None:
        return _guarded(lambda: list_entries(json), traceback)
    return None


@app.command(
    "list",
    help="List the std cache's entries, the compile cache and the size of the other caches.",
)
def list_command(json: Json = False, traceback: Traceback = False) -> int:
    return _guarded(lambda: list_entries(json), traceback)


@app.command(
    "prune",
    help="Remove broken entries and leftovers of killed builds, and entries, the shared "
    f"build directory and sccache's files unused for --older-than DAYS (default "
    f"{DEFAULT_DAYS:.0f}); --all removes all of them. What a build holds right now is "
    "never removed.",
)
def prune_command(
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", metavar="DAYS", min=0, help="unused for this long"),
    ] = None,
    remove_all: Annotated[bool, typer.Option("--all", help="every entry")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go")] = False,
    traceback: Traceback = False,
) -> int:
    def body() -> int:
        if remove_all and older_than is not None:
            raise UsageError("--all and --older-than conflict", "pass only one")
        days = None if remove_all else (DEFAULT_DAYS if older_than is None else older_than)
        return prune(days, remove_all, dry_run)

    return _guarded(body, traceback)


def main(argv: list[str]) -> int:
    return typer_app.run(app, "cache", argv)
