"""Step: put the staged output in place of the user's output directory.

The only step that touches the output directory. Before the rename it records the
output's sizes (into the facts, so a later up-to-date build reports them without
compressing unchanged files again) and the incremental state file, which is installed
together with the output it describes.
"""

from __future__ import annotations

from worker_build.build import incremental, report, staging
from worker_build.build.context import BuildContext


def run(ctx: BuildContext) -> None:
    ctx.facts.update(report.measure(ctx.out_dir))
    incremental.record(ctx)
    staging.replace_dir(ctx.out_dir, ctx.options.out_dir)
