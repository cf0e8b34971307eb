"""Step: prove from the bytes that the output module can unwind.

A --panic-unwind build whose module holds no exception handling would deploy
and then poison its instance on the first panic, so it fails the build
before the previous output is replaced.
"""

from __future__ import annotations

from typing import Literal

from worker_build.build.context import BuildContext
from worker_build.errors import NoExceptionHandlingError
from worker_build.rust.flags import EhEncoding
from worker_build.wasm.eh import inspect_file

EXPECT: dict[EhEncoding, Literal["legacy", "exnref", "any"]] = {
    EhEncoding.DEFAULT: "any",
    EhEncoding.LEGACY: "legacy",
    EhEncoding.EXNREF: "exnref",
}


# A --panic-unwind build that cannot unwind: the flags reached cargo, so what went wrong
# is elsewhere (verify's own "build with --panic-unwind" would mislead).
CANNOT_UNWIND_FIX = (
    "check that RUSTFLAGS does not override -Cpanic=unwind and that the toolchain's std "
    "was built with panic_unwind; the previous output was left unchanged"
)


def run(ctx: BuildContext) -> None:
    report = inspect_file(ctx.output_module)
    # Named as the user will find it, not by the staging directory that goes away.
    report.path = str(ctx.options.out_dir / ctx.output_module.relative_to(ctx.out_dir))
    ctx.eh_encodings = report.encodings  # the python loader step reads them
    if ctx.options.panic_unwind:
        try:
            report = report.check(EXPECT[ctx.options.eh_encoding])
        except NoExceptionHandlingError as exc:
            raise NoExceptionHandlingError(
                f"--panic-unwind build produced a module without the expected exception "
                f"handling: {exc.message}",
                exc.fix if report.can_unwind else CANNOT_UNWIND_FIX,
            ) from exc
    else:
        try:
            report = report.check("any")
        except NoExceptionHandlingError:
            ctx.facts["eh_encoding"] = "none (panic=abort)"
            return
    ctx.facts["eh_encoding"] = "+".join(report.encodings) if report.encodings else "none"
    ctx.facts["eh"] = report.to_json()
