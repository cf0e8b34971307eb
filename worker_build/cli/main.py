"""Console-script entry point.

`worker-build verify` is dispatched before the typer CLI is imported: typer and
rich cost more start-up time than decoding a typical module, and verify runs
in pre-commit hooks on every commit.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["verify"]:
        from worker_build.cli.verify import main as verify_main

        return verify_main(args[1:])
    if args[:1] == ["cache"]:
        from worker_build.cli.cache import main as cache_main

        return cache_main(args[1:])
    from worker_build.cli.build import main as cli_main

    return cli_main(args)
