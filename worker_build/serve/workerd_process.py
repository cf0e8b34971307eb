"""workerd, the Workers runtime, as a child process serving a config on loopback.

`WorkerdProcess` writes the config (workerd_config.py) into a private directory and runs
`workerd serve --control-fd=N config.capnp`; server_process.py has the rest (ports read
back from the control fd, the log, stopping the process group).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from worker_build.serve.server_process import START_TIMEOUT, ServerProcess
from worker_build.serve.workerd_config import (
    Binding,
    Config,
    DurableObject,
    InMemory,
    Module,
    OnDisk,
    Socket,
    Storage,
    Worker,
    build_modules,
    render,
)

__all__ = ["START_TIMEOUT", "WorkerdProcess", "serve_build"]

CONFIG_FILE = "config.capnp"


class WorkerdProcess(ServerProcess):
    """One `workerd serve` of `config`."""

    name = "workerd"
    fix = "set WORKERD_BIN to a working workerd, or `npm install workerd`"

    def __init__(
        self,
        binary: Path,
        config: Config,
        *,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(binary, {}, log_path=log_path, env=env)
        self.config = config

    @property
    def sockets(self) -> dict[str, int]:
        # from the config as it is when the process starts (a caller may extend it first)
        return {s.name: s.port for s in self.config.sockets}

    def files(self, workdir: Path) -> dict[str, str]:
        return {CONFIG_FILE: render(self.config, workdir)}

    def prepare(self) -> None:
        for worker in self.config.workers:
            if isinstance(worker.storage, OnDisk) and worker.durable_object_classes:
                worker.storage.path.mkdir(parents=True, exist_ok=True)

    def argv(self, workdir: Path, control_fd: int) -> list[str | os.PathLike[str]]:
        return [
            self.binary,
            "serve",
            "--experimental",
            f"--control-fd={control_fd}",
            workdir / CONFIG_FILE,
        ]


def serve_build(
    binary: Path,
    build_dir: Path,
    *,
    durable_objects: Mapping[str, str] | None = None,
    storage: Storage | None = None,
    extra_modules: Sequence[Module] = (),
    bindings: Sequence[Binding] = (),
    log_path: Path | None = None,
    socket_entrypoint: str | None = None,
) -> WorkerdProcess:
    """A WorkerdProcess (not started) serving one build on one socket, "http"."""
    classes = tuple(sorted(set((durable_objects or {}).values())))
    do_bindings = tuple(DurableObject(n, c) for n, c in (durable_objects or {}).items())
    worker = Worker(
        name="main",
        modules=(*extra_modules, *build_modules(build_dir)),
        bindings=(*do_bindings, *bindings),
        durable_object_classes=classes,
        storage=storage or InMemory(),
    )
    return WorkerdProcess(
        binary,
        Config((worker,), (Socket("http", "main", socket_entrypoint),)),
        log_path=log_path,
    )
