"""worker_build.serve.bindings: every binding kind of a wrangler configuration, mapped to
the value `serve()` provides it with (or refuses), as wrangler's local mode does."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker_build.errors import UsageError
from worker_build.serve.bindings import (
    NOT_INHERITED,
    LocalD1,
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    LocalRateLimit,
    MiniflareBinding,
    SelfService,
    Unsupported,
    from_wrangler,
    needs_miniflare,
)
from worker_build.serve.wrangler import tomllib

EVERY_KIND = """
name = "app"
vars = { TEXT = "t", JSON = { a = 1 } }
kv_namespaces = [{ binding = "KV", id = "kv-id" }, { binding = "KV2" }]
durable_objects.bindings = [
  { name = "DO", class_name = "Counter" },
  { name = "DO_SELF", class_name = "Counter", script_name = "app" },
  { name = "DO_OTHER", class_name = "X", script_name = "other" },
]
services = [
  { binding = "SELF", service = "app", entrypoint = "Api" },
  { binding = "OTHER", service = "other" },
]
r2_buckets = [{ binding = "R2", bucket_name = "files" }, { binding = "R2_BARE" }]
d1_databases = [
  { binding = "D1", database_name = "db", database_id = "id-1" },
  { binding = "D1_PREVIEW", database_id = "id-2", preview_database_id = "preview" },
]
queues.producers = [{ binding = "Q", queue = "jobs", delivery_delay = 2 }]
ratelimits = [{ name = "RL", namespace_id = "1001", simple = { limit = 5, period = 10 } }]
unsafe.bindings = [
  { name = "RL_OLD", type = "ratelimit", namespace_id = "7", simple = { limit = 3, period = 60 } },
  { name = "WEIRD", type = "magic" },
]
analytics_engine_datasets = [{ binding = "AE", dataset = "events" }, { binding = "AE2" }]
hyperdrive = [
  { binding = "HD", id = "x", localConnectionString = "postgres://u@127.0.0.1/db" },
  { binding = "HD_REMOTE", id = "y" },
]
workflows = [
  { binding = "WF", name = "flow", class_name = "Flow" },
  { binding = "WF_OTHER", name = "f2", class_name = "F", script_name = "other" },
]
send_email = [{ name = "MAIL", destination_address = "a@example.com" }]
secrets_store_secrets = [{ binding = "SECRET", store_id = "s", secret_name = "n" }]
worker_loaders = [{ binding = "LOADER" }]
pipelines = [{ binding = "PIPE", pipeline = "p" }]
version_metadata = { binding = "VERSION" }
images = { binding = "IMAGES" }
browser = { binding = "BROWSER" }
ai = { binding = "AI" }
vectorize = [{ binding = "VEC", index_name = "i" }]
mtls_certificates = [{ binding = "CERT", certificate_id = "c" }]
dispatch_namespaces = [{ binding = "DISPATCH", namespace = "n" }]
something_new = [{ binding = "IGNORED" }]
"""

REMOTE = "served only remotely by Cloudflare"


def test_every_kind_of_binding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HD_REMOTE", raising=False)
    found = from_wrangler(tmp_path / "wrangler.toml", tomllib.loads(EVERY_KIND), "app")
    assert found == {
        "TEXT": "t",
        "JSON": {"a": 1},
        "KV": LocalKv("kv-id"),
        "KV2": LocalKv("KV2"),
        "DO": LocalDurableObject("Counter"),
        "DO_SELF": LocalDurableObject("Counter"),
        "DO_OTHER": Unsupported("durable_objects", "class X of another Worker"),
        "SELF": SelfService("Api"),
        "OTHER": Unsupported("services", "Worker 'other' is not this one"),
        "R2": LocalR2("files"),
        "R2_BARE": LocalR2("R2_BARE"),
        "D1": LocalD1("id-1"),
        "D1_PREVIEW": LocalD1("preview"),
        "Q": LocalQueue("jobs", 2),
        "RL": LocalRateLimit(5, 10, "1001"),
        "RL_OLD": LocalRateLimit(3, 60, "7"),
        "WEIRD": Unsupported("unsafe.bindings", "type 'magic'"),
        "AE": MiniflareBinding("analyticsEngineDatasets", {"dataset": "events"}),
        "AE2": MiniflareBinding("analyticsEngineDatasets", {"dataset": "dataset"}),
        "HD": MiniflareBinding("hyperdrives", "postgres://u@127.0.0.1/db"),
        "HD_REMOTE": Unsupported(
            "hyperdrive",
            "no localConnectionString (or CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HD_REMOTE)",
        ),
        "WF": MiniflareBinding("workflows", {"name": "flow", "className": "Flow"}),
        "WF_OTHER": Unsupported("workflows", "a workflow of another Worker"),
        "MAIL": MiniflareBinding("email", {"destination_address": "a@example.com"}),
        "SECRET": MiniflareBinding("secretsStoreSecrets", {"store_id": "s", "secret_name": "n"}),
        "LOADER": MiniflareBinding("workerLoaders", {}),
        "PIPE": MiniflareBinding("pipelines", {"pipeline": "p"}),
        "VERSION": MiniflareBinding("versionMetadata"),
        "IMAGES": MiniflareBinding("images"),
        "BROWSER": MiniflareBinding("browserRendering"),
        "AI": Unsupported("ai", REMOTE),
        "VEC": Unsupported("vectorize", REMOTE),
        "CERT": Unsupported("mtls_certificates", REMOTE),
        "DISPATCH": Unsupported("dispatch_namespaces", REMOTE),
    }
    miniflare_only = {n for n, v in found.items() if needs_miniflare(v)}
    assert miniflare_only >= {"R2", "D1", "Q", "RL", "AE", "WF", "VERSION"}
    assert not miniflare_only & {"TEXT", "JSON", "KV", "DO", "SELF"}


def test_a_local_connection_string_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HD", "postgres://h/ü")
    table = {"hyperdrive": [{"binding": "HD", "id": "x"}]}
    found = from_wrangler(tmp_path / "wrangler.toml", table, None)
    assert found == {"HD": MiniflareBinding("hyperdrives", "postgres://h/ü")}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"r2_buckets": [{"bucket_name": "b"}]}, "`r2_buckets` has no `binding`"),
        ({"ratelimits": [{"name": "RL"}]}, r"`ratelimits` has no `simple = \{ limit = N \}`"),
        ({"d1_databases": ["x"]}, "`d1_databases` must hold tables"),
        ({"queues": {"producers": [{"queue": "q"}]}}, "`queues.producers` has no `binding`"),
    ],
)
def test_bad_entries_name_the_file(tmp_path: Path, table: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        from_wrangler(tmp_path / "wrangler.toml", table, None)
    assert str(tmp_path / "wrangler.toml") in info.value.message


def test_bindings_are_not_inherited_by_an_environment() -> None:
    kinds = set(tomllib.loads(EVERY_KIND)) - {"name", "something_new"}
    assert kinds <= set(NOT_INHERITED)
