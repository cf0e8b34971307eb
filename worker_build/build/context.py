"""The state one build carries from step to step.

Steps read the frozen options and the facts earlier steps found, and record
their own; nothing else is shared. Lives apart from pipeline.py so steps can
import it without importing the pipeline that imports them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker_build.build.crate import Crate, LockNeeded
from worker_build.build.options import BuildOptions
from worker_build.rust.compile_cache import CompileCache
from worker_build.rust.stdcache import StdUse
from worker_build.rust.toolchain import Toolchain
from worker_build.tools.tool import Tool
from worker_build.util.proc import Background


@dataclass
class BuildContext:
    options: BuildOptions
    staging: Path  # scratch space for this build, removed afterwards
    crate: Crate | None = None  # None until the lock file step when pre-flight needed one
    lock_needed: LockNeeded | None = None  # no Cargo.lock yet, or none with wasm-bindgen
    toolchain: Toolchain | None = None
    std: StdUse | None = None  # None: no std step ran (--no-std-cache)
    compile_cache: CompileCache | None = None  # None: --no-compile-cache
    tools: dict[str, Tool] = field(default_factory=dict)
    artifact: Path | None = None  # the .wasm cargo produced
    notes: list[str] = field(default_factory=list)  # shown in the summary
    facts: dict[str, Any] = field(default_factory=dict)  # for the summary / JSON report
    # Commands one step starts in the background and a later step joins, by name; the
    # pipeline stops whatever is left when the build ends (failed or interrupted).
    jobs: dict[str, Background] = field(default_factory=dict)
    eh_encodings: tuple[str, ...] | None = None  # of the output module, once verified
    # How many notes, and which facts, the steps up to the checkpoint (cargo build) left:
    # they run in every build and say what happened in this one (std built, a lock file
    # written), so the state of the output (incremental.py) keeps only what came after.
    checkpoint_notes: int = 0
    checkpoint_facts: frozenset[str] = frozenset()

    def mark_checkpoint(self) -> None:
        self.checkpoint_notes = len(self.notes)
        self.checkpoint_facts = frozenset(self.facts)

    # What a step holds until the build ends (the compile cache's locks); the pipeline
    # closes it however the build ends.
    cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def bindgen_dir(self) -> Path:
        """wasm-bindgen's output and the shim entry point."""
        return self.staging / "bindgen"

    @property
    def out_dir(self) -> Path:
        """What becomes the user's build/ directory when every step succeeded."""
        return self.staging / "out"

    @property
    def output_module(self) -> Path:
        """The .wasm the Worker loads, in the staged output."""
        if self.options.legacy_layout:
            return self.out_dir / "worker" / "index.wasm"
        return self.out_dir / "index_bg.wasm"

    def need_crate(self) -> Crate:
        assert self.crate is not None, "preflight must run before this step"
        return self.crate

    def need_toolchain(self) -> Toolchain:
        assert self.toolchain is not None, "toolchain step must run before this step"
        return self.toolchain

    def need_artifact(self) -> Path:
        assert self.artifact is not None, "cargo step must run before this step"
        return self.artifact
