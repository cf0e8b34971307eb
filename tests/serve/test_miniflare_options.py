"""worker_build.serve.miniflare_options: settings -> miniflare's options (v4 shape), for each
binding kind; the real miniflare runs them in tests/integration/test_serve_real.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.builddir import fake_build_dir
from worker_build.errors import UsageError
from worker_build.serve import miniflare_options as mo
from worker_build.serve.bindings import (
    LocalD1,
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    LocalRateLimit,
    MiniflareBinding,
    SelfService,
)
from worker_build.serve.wrangler import Assets, QueueConsumer, Settings


def test_every_binding_maps_to_the_option_wrangler_fills(tmp_path: Path) -> None:
    build = fake_build_dir(tmp_path / "crate ö")
    settings = Settings(
        None,
        compatibility_date="2025-10-01",
        compatibility_flags=("nodejs_compat",),
        bindings={
            "TEXT": "grüße",
            "JSON": {"ä": [1]},
            "KV": LocalKv("ns"),
            "DO": LocalDurableObject("Counter"),
            "PLAIN_DO": LocalDurableObject("Plain"),
            "SELF": SelfService("Api"),
            "SELF2": SelfService(),
            "R2": LocalR2("files"),
            "D1": LocalD1("db"),
            "Q": LocalQueue("jobs", 3),
            "Q2": LocalQueue("other"),
            "RL": LocalRateLimit(5, 10, "1001"),
            "RL2": LocalRateLimit(2),
            "AE": MiniflareBinding("analyticsEngineDatasets", {"dataset": "d"}),
            "VERSION": MiniflareBinding("versionMetadata"),
            "IMAGES": MiniflareBinding("images"),
            "MAIL": MiniflareBinding("email", {"destination_address": "a@example.com"}),
        },
        sqlite_classes=frozenset({"Counter"}),
        queue_consumers=(QueueConsumer("jobs", max_batch_timeout=0.5, max_retries=2),),
        assets=Assets(tmp_path / "public", "ASSETS", True, "none", "404-page"),
    )
    worker = mo.main_worker(build, settings)
    assert worker["name"] == "main"
    assert worker["modules"] == [
        {"type": "ESModule", "path": str((build / "index.js").resolve())},
        {"type": "CompiledWasm", "path": str((build / "index_bg.wasm").resolve())},
    ]
    assert worker["compatibilityDate"] == "2025-10-01"
    assert worker["compatibilityFlags"] == ["nodejs_compat"]
    assert worker["bindings"] == {"TEXT": "grüße", "JSON": {"ä": [1]}}
    assert worker["kvNamespaces"] == {"KV": {"id": "ns"}}
    assert worker["durableObjects"] == {
        "DO": {"className": "Counter", "useSQLite": True},
        "PLAIN_DO": {"className": "Plain", "useSQLite": False},
    }
    assert worker["serviceBindings"] == {
        "SELF": {"name": "main", "entrypoint": "Api"},
        "SELF2": {"name": "main"},
    }
    assert worker["r2Buckets"] == {"R2": {"id": "files"}}
    assert worker["d1Databases"] == {"D1": {"id": "db"}}
    assert worker["queueProducers"] == {
        "Q": {"queueName": "jobs", "deliveryDelay": 3},
        "Q2": {"queueName": "other"},
    }
    assert worker["queueConsumers"] == {"jobs": {"maxBatchTimeout": 0.5, "maxRetries": 2}}
    assert worker["ratelimits"] == {
        "RL": {"namespace_id": "1001", "simple": {"limit": 5, "period": 10}},
        "RL2": {"namespace_id": "RL2", "simple": {"limit": 2, "period": 60}},
    }
    assert worker["analyticsEngineDatasets"] == {"AE": {"dataset": "d"}}
    assert worker["versionMetadata"] == "VERSION"
    assert worker["images"] == {"binding": "IMAGES"}
    assert worker["email"] == {
        "send_email": [{"name": "MAIL", "destination_address": "a@example.com"}]
    }
    assert worker["assets"] == {
        "directory": str(tmp_path / "public"),
        "binding": "ASSETS",
        "routerConfig": {"has_user_worker": True, "invoke_user_worker_ahead_of_assets": True},
        "assetConfig": {"html_handling": "none", "not_found_handling": "404-page"},
    }


def test_shared_options_loopback_and_storage(tmp_path: Path) -> None:
    build = fake_build_dir(tmp_path / "crate")
    options = mo.options(build, Settings(None), storage=None, tmp=tmp_path / "t", port=8790)
    assert (options["host"], options["port"]) == ("127.0.0.1", 8790)
    assert options["cf"] == mo.CF  # no request to Cloudflare for a `cf` object
    assert options["telemetry"] == {"enabled": False}
    assert options["resourceTmpPath"] == str(tmp_path / "t")
    assert "resourcePersistencePath" not in options  # no storage: the private directory
    (main,) = options["workers"]  # the control routes are the runner's own
    assert main["compatibilityDate"] == mo.COMPATIBILITY_DATE
    kept = mo.options(build, Settings(None), storage=tmp_path / "data", tmp=tmp_path / "t")
    assert kept["resourcePersistencePath"] == str(tmp_path / "data" / "miniflare")
    json.dumps(kept)  # all of it crosses to Node as JSON


def test_a_value_that_is_no_binding_is_a_usage_error(tmp_path: Path) -> None:
    settings = Settings(None, bindings={"HANDLE": object()})
    with pytest.raises(UsageError, match="binding HANDLE: a object cannot be passed"):
        mo.main_worker(fake_build_dir(tmp_path / "crate"), settings)
