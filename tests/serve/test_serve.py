"""worker_build.serve: settings -> the workerd config of a served build (no process started;
tests/integration/test_serve_real.py runs it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builddir import fake_build_dir
from worker_build.errors import UsageError
from worker_build.serve import (
    AUTO,
    LocalDurableObject,
    LocalKv,
    SelfService,
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
