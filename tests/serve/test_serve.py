"""worker_build.serve: settings -> the workerd config of a served build (no process started;
tests/integration/test_serve_real.py runs it)."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from tests.support.builddir import fake_build_dir
from worker_build.errors import EXIT_NOT_WRITABLE, NotWritableError, UsageError
from worker_build.serve import (
    AUTO,
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    PortInUseError,
    SelfService,
    check_port,
    check_storage,
    pick_runtime,
    resolve_settings,
    worker_config,
)
from worker_build.serve import workerd_config as wd
from worker_build.serve.wrangler import Settings


def test_the_build_and_the_harness_each_get_a_loopback_socket(tmp_path: Path) -> None:
    settings = Settings(
        None,
        compatibility_flags=("nodejs_compat",),
        bindings={
            "TEXT": "t",
            "NUMBERS": [1, 2],
            "KV": LocalKv("ns"),
            "DO": LocalDurableObject("Counter"),
            "SELF": SelfService("Api"),
        },
        sqlite_classes=frozenset({"Counter"}),
    )
    config = worker_config(fake_build_dir(tmp_path / "crate"), settings, tmp_path / "data")
    main, harness = config.workers
    assert [(s.name, s.service) for s in config.sockets] == [
        ("http", "main"),
        ("control", "harness"),
    ]
    assert main.compatibility_date == wd.COMPATIBILITY_DATE  # none in the settings
    assert main.compatibility_flags == ("nodejs_compat",)
    assert main.bindings == (
        wd.Text("TEXT", "t"),
        wd.Json("NUMBERS", "[1, 2]"),
        wd.Kv("KV", "harness", "KvNamespace", '{"namespace": "ns"}'),
        wd.DurableObject("DO", "Counter"),
        wd.Service("SELF", "main", "Api"),
    )
    assert (main.durable_object_classes, main.sqlite_classes) == (("Counter",), {"Counter"})
    assert main.storage == wd.OnDisk(tmp_path / "data" / "durable-objects")
    assert harness.storage == wd.OnDisk(tmp_path / "data" / "kv")
    assert "service_binding_extra_handlers" in harness.compatibility_flags
    assert wd.Service("WORKER", "main") in harness.bindings
    bare = fake_build_dir(tmp_path / "b" / "crate")
    assert worker_config(bare, Settings(None), None).workers[0].storage == wd.InMemory()


def test_a_value_that_is_no_binding_is_a_usage_error(tmp_path: Path) -> None:
    settings = Settings(None, bindings={"HANDLE": object()})
    with pytest.raises(UsageError, match="binding HANDLE: a object cannot be passed"):
        worker_config(fake_build_dir(tmp_path / "crate"), settings, None)


def test_settings_from_auto_explicit_or_no_configuration(tmp_path: Path) -> None:
    out = fake_build_dir(tmp_path / "crate")
    crate = out.parent
    (crate / "wrangler.toml").write_text('[vars]\nA = "from crate"\n')
    other = tmp_path / "other.toml"
    other.write_text('[vars]\nA = "from other"\n')

    def settings(config: Path | str | None) -> object:
        found = resolve_settings(
            out, crate_dir=crate, config=config, environment=None, bindings={"B": "x"}
        )
        return dict(found.bindings)

    assert settings(AUTO) == {"A": "from crate", "B": "x"}
    assert settings(other) == {"A": "from other", "B": "x"}
    assert settings(None) == {"B": "x"}
    with pytest.raises(UsageError, match=r"missing\.toml does not exist"):
        settings(tmp_path / "missing.toml")


def test_plain_workerd_when_it_suffices_else_miniflare() -> None:
    plain = Settings(None, bindings={"T": "t", "KV": LocalKv("n"), "SELF": SelfService()})
    assert pick_runtime(plain, AUTO) == "workerd"
    assert pick_runtime(plain, "miniflare") == "miniflare"
    bucket = Settings(None, bindings={"T": "t", "FILES": LocalR2("f"), "JOBS": LocalQueue("j")})
    assert pick_runtime(bucket, AUTO) == "miniflare"
    with pytest.raises(UsageError, match="runtime='workerd' cannot serve FILES, JOBS") as info:
        pick_runtime(bucket, "workerd")
    assert "bindings={'FILES': None, 'JOBS': None}" in (info.value.fix or "")
    with pytest.raises(UsageError, match="runtime='node' is not a runtime"):
        pick_runtime(plain, "node")


def test_storage_must_be_a_writable_directory(tmp_path: Path) -> None:
    made = check_storage(tmp_path / "dätä" / "new")
    assert made.is_dir() and list(made.iterdir()) == []  # created, the probe removed
    file = tmp_path / "a-file"
    file.write_text("x")
    with pytest.raises(NotWritableError) as info:
        check_storage(file)
    assert info.value.one_line() == (
        f"storage={file} is a file, not a directory (pass a directory, or leave storage= "
        "out to keep the data in memory)"
    )
    with pytest.raises(NotWritableError, match=r"storage=.*/a-file/sub cannot be written: Not a"):
        check_storage(file / "sub")


def test_an_unwritable_storage_directory_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As root every directory is writable, so the refusal is faked at the probe file.
    def refuse(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(NotWritableError) as info:
        check_storage(tmp_path)
    assert info.value.exit_code == EXIT_NOT_WRITABLE
    assert info.value.message == f"storage={tmp_path} cannot be written: Permission denied"


def test_a_fixed_port_is_checked_before_the_server_starts() -> None:
    assert check_port(None) == 0 and check_port(0) == 0
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as info:
            check_port(port)
    assert info.value.one_line() == (
        f"port {port} on 127.0.0.1 is already in use (pass another port= (or none: the "
        f"server then picks a free one), or stop what listens on {port})"
    )
    for bad in (-1, 70000, "80", True):
        with pytest.raises(UsageError, match="is not a TCP port"):
            check_port(bad)  # type: ignore[arg-type]


def test_a_fixed_port_goes_into_the_workerd_config(tmp_path: Path) -> None:
    out = fake_build_dir(tmp_path / "crate")
    config = worker_config(out, Settings(None), None, port=8789)
    assert config.sockets[0] == wd.Socket("http", "main", port=8789)
    assert config.sockets[1].port == 0  # the control socket: always a free one
