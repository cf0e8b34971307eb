"""worker_build.serve.workerd_process: workerd's command line and config file, and
`serve_build` (the harness's one-worker serve); process handling is test_server_process.py."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.support.builddir import fake_build_dir
from worker_build.serve import workerd_config as wd
from worker_build.serve.workerd_process import CONFIG_FILE, WorkerdProcess, serve_build


def test_workerd_serves_its_config_file_with_a_control_fd(tmp_path: Path) -> None:
    worker = wd.Worker("main", wd.build_modules(fake_build_dir(tmp_path / "crate ö")))
    process = WorkerdProcess(
        tmp_path / "workerd", wd.Config((worker,), (wd.Socket("http", "main", port=8792),))
    )
    try:
        assert process.sockets == {"http": 8792}
        argv = process.argv(tmp_path, 7)
        assert argv == [
            tmp_path / "workerd",
            "serve",
            "--experimental",
            "--control-fd=7",
            tmp_path / CONFIG_FILE,
        ]
        text = process.files(tmp_path)[CONFIG_FILE]
        assert text.isascii() and "crate \\xc3\\xb6/build/index.js" in text
    finally:
        process.stop()


def test_serve_build_is_one_worker_on_one_http_socket(tmp_path: Path) -> None:
    process = serve_build(
        tmp_path / "workerd",  # never started
        fake_build_dir(tmp_path),
        durable_objects={"B": "Counter", "A": "Counter", "C": "Bag"},
        extra_modules=(wd.Module("entry.js", tmp_path / "entry.js"),),
        bindings=[wd.Service("S", "main")],
        socket_entrypoint="Api",
    )
    try:
        (worker,) = process.config.workers
        assert [m.name for m in worker.modules] == ["entry.js", "index.js", "index_bg.wasm"]
        assert worker.bindings == (
            wd.DurableObject("B", "Counter"),
            wd.DurableObject("A", "Counter"),
            wd.DurableObject("C", "Bag"),
            wd.Service("S", "main"),
        )
        assert worker.durable_object_classes == ("Bag", "Counter")
        assert worker.storage == wd.InMemory()
        assert process.config.sockets == (wd.Socket("http", "main", "Api"),)
    finally:
        process.stop()


def test_the_sockets_waited_for_are_those_of_the_config_at_start(tmp_path: Path) -> None:
    # harness/workerd.py adds a worker and its socket to the config before starting
    process = serve_build(tmp_path / "workerd", fake_build_dir(tmp_path))
    try:
        config = process.config
        process.config = dataclasses.replace(
            config, sockets=(*config.sockets, wd.Socket("log-marker", "main"))
        )
        assert process.sockets == {"http": 0, "log-marker": 0}
    finally:
        process.stop()
