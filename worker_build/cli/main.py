"""The `worker-build` command: the build, or the subcommand its first argument names.

The build is the default command, as in the Rust worker-build, so wrangler's
`[build] command = "worker-build --release"` works unchanged. Each command imports
only what it needs, here and in its own module, so that `--help`, `--version` and
`verify` (run by pre-commit hooks on every commit) start fast.

The parsers, each chosen for a reason (see README, "Command-line conventions"):
- the build: cli/argtable.py's table parser, since every option we do not know goes
  to `cargo build` with its value, which click cannot express (cli/build_args.py);
- `verify`: the same table parser, for its start-up time (cli/verify.py);
- `doctor` and `cache`: typer, the project's CLI library, where start-up does not
  matter (cli/doctor.py, cli/cache.py; usage errors become one line: cli/typer_app.py).
Whichever parses, `-h`/`--help` works, a usage error is one `error:` line with exit 2,
and `--json`, `--quiet`, `--traceback` mean the same (cli/guard.py).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "verify":
        from worker_build.cli import verify

        return verify.main(args[1:])
    if command == "cache":
        from worker_build.cli import cache

        return cache.main(args[1:])
    if command == "doctor":
        from worker_build.cli import doctor

        return doctor.main(args[1:])
    from worker_build.cli import build

    return build.main(args)
