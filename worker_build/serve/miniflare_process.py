"""miniflare on Node, as a child process serving a build on loopback.

`MiniflareProcess` writes miniflare's options (miniflare_options.py) as JSON into a private
directory and runs templates/serve_miniflare.mjs on Node >= 22.12 with the miniflare package
(both resolved by tools/nodejs.py); the script reports its sockets on the control fd as
workerd does, so server_process.py starts, watches and stops it like workerd. miniflare
starts its own workerd, in the same process group, so stopping the group stops it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from worker_build.serve.server_process import ServerProcess
from worker_build.util import resources

OPTIONS_FILE = "miniflare.json"
DRIVER = "serve_miniflare.mjs"


class MiniflareProcess(ServerProcess):
    """One miniflare. `options_for(tmp)` builds the options once the private directory
    exists (miniflare keeps its temporary data there)."""

    name = "miniflare"
    fix = "set NODE_BIN to a working Node >= 22.12"

    def __init__(
        self,
        node: Path,
        package: Path,
        options_for: Callable[[Path], Mapping[str, Any]],
        *,
        port: int = 0,
        storage: Path | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(node, {"http": port, "control": 0}, log_path=log_path, env=env)
        self.package = package
        self.storage = storage
        self.options = dict(options_for(self._workdir / "tmp"))

    def files(self, workdir: Path) -> dict[str, str]:
        # ensure_ascii: the file is the same whatever encoding Node is told to read it in
        return {OPTIONS_FILE: json.dumps(self.options, indent=1)}

    def prepare(self) -> None:
        (self._workdir / "tmp").mkdir(exist_ok=True)

    def argv(self, workdir: Path, control_fd: int) -> list[str | os.PathLike[str]]:
        driver = resources.template(DRIVER)
        return [self.binary, driver, workdir / OPTIONS_FILE, self.package, str(control_fd)]
