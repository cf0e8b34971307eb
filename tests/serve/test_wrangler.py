"""worker_build.serve.wrangler: the bindings a local run gets from a wrangler configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker_build.errors import EXIT_USAGE, UsageError
from worker_build.serve import wrangler
from worker_build.serve.bindings import (
    LocalDurableObject,
    LocalKv,
    LocalQueue,
    LocalR2,
    SelfService,
    Unsupported,
)
from worker_build.serve.wrangler import (
    Assets,
    QueueConsumer,
    load,
    require_providable,
    with_overrides,
)

TOML = """
name = "app"
main = "build/index.js"
compatibility_date = "2025-10-01"
compatibility_flags = ["nodejs_compat"]

[vars]
GREETING = "hi"
LIMITS = { max = 3 }

[[kv_namespaces]]
binding = "CACHE"
id = "abc123"

[[durable_objects.bindings]]
name = "COUNTER"
class_name = "Counter"

[[durable_objects.bindings]]
name = "REMOTE"
class_name = "Other"
script_name = "elsewhere"

[[services]]
binding = "SELF"
service = "app"
entrypoint = "Api"

[[services]]
binding = "AUTH"
service = "auth-worker"

[[r2_buckets]]
binding = "FILES"
bucket_name = "files"

[ai]
binding = "AI"

[[queues.producers]]
binding = "JOBS"
queue = "jobs"

[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 1

[assets]
directory = "public"
binding = "ASSETS"

[triggers]
crons = ["*/5 * * * *"]

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]

[env.staging]
compatibility_date = "2025-11-01"
vars = { GREETING = "staging" }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_bindings_of_every_kind(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    settings = load(write(tmp_path, "wrangler.toml", TOML))
    assert settings.name == "app"
    assert settings.compatibility_date == "2025-10-01"
    assert settings.compatibility_flags == ("nodejs_compat",)
    assert settings.crons == ("*/5 * * * *",)
    assert settings.sqlite_classes == frozenset({"Counter"})
    assert dict(settings.bindings) == {
        "GREETING": "hi",
        "LIMITS": {"max": 3},
        "CACHE": LocalKv("abc123"),
        "COUNTER": LocalDurableObject("Counter"),
        "REMOTE": Unsupported("durable_objects", "class Other of another Worker"),
        "SELF": SelfService("Api"),
        "AUTH": Unsupported("services", "Worker 'auth-worker' is not this one"),
        "FILES": LocalR2("files"),
        "AI": Unsupported("ai", "served only remotely by Cloudflare"),
        "JOBS": LocalQueue("jobs"),
    }
    assert settings.durable_object_classes == ("Counter",)
    assert settings.queue_consumers == (QueueConsumer("jobs", max_batch_timeout=1),)
    assert settings.assets == Assets((tmp_path / "public").resolve(), "ASSETS")
    assert settings.miniflare_reasons() == ["FILES", "JOBS", "[assets]"]


def test_unprovidable_bindings_are_one_error_naming_each_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    settings = load(write(tmp_path, "wrangler.toml", TOML))
    with pytest.raises(UsageError) as info:
        require_providable(settings)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith(
        "bindings REMOTE (durable_objects: class Other of another Worker), AUTH (services: "
    )
    assert "AI (ai: served only remotely by Cloudflare)" in error.message
    assert error.message.endswith("are not served locally")
    assert "FILES" not in error.message  # R2 is served (by miniflare)
    assert "serve(bindings={'REMOTE': None, 'AUTH': None, 'AI': None})" in (error.fix or "")
    assert "worker_build_bindings fixture" in (error.fix or "")
    # Leaving them out, or replacing them, makes the rest servable.
    kept = with_overrides(settings, {"REMOTE": None, "AUTH": None, "AI": "fake", "FILES": None})
    require_providable(kept)
    assert kept.bindings["AI"] == "fake" and "FILES" not in kept.bindings


def test_environment_inherits_settings_but_not_bindings(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    path = write(tmp_path, "wrangler.toml", TOML)
    write(tmp_path, ".dev.vars", "TOKEN=top\n")
    write(tmp_path, ".dev.vars.staging", "# staging secrets\nexport TOKEN='for staging'\n")
    settings = load(path, "staging")
    assert settings.compatibility_date == "2025-11-01"
    assert settings.compatibility_flags == ("nodejs_compat",)  # inherited
    assert settings.name == "app-staging"  # wrangler's name for the environment's Worker
    assert dict(settings.bindings) == {"GREETING": "staging", "TOKEN": "for staging"}
    assert settings.queue_consumers == ()  # `queues` is not inherited...
    assert settings.assets is not None  # ...`assets` is (wrangler's rules)
    assert load(path).bindings["TOKEN"] == "top"
    with pytest.raises(UsageError, match=r"no environment 'prod' \(\[env\.prod\]\)"):
        load(path, "prod")


def test_json_and_jsonc(tmp_path: Path) -> None:
    data = {"name": "app", "vars": {"A": "x // not a comment", "B": 2}}
    assert load(write(tmp_path, "wrangler.json", json.dumps(data))).bindings == data["vars"]
    jsonc = """{
      // a comment
      "name": "app", /* another */
      "vars": { "A": "x // not a comment", "B": 2, },
      "kv_namespaces": [ { "binding": "KV", "id": "i\\"d" }, ],
    }"""
    settings = load(write(tmp_path, "wrangler.jsonc", jsonc))
    assert dict(settings.bindings) == {"A": "x // not a comment", "B": 2, "KV": LocalKv('i"d')}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("wrangler.toml", "name = ", "is not valid TOML"),
        ("wrangler.json", "[1]", "is not a table of settings"),
        ("wrangler.toml", "vars = 3", "`vars` must be a table"),
        ("wrangler.toml", "[[kv_namespaces]]\nid = 'x'", "`kv_namespaces` has no `binding`"),
    ],
)
def test_bad_configuration_names_the_file(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(UsageError, match=message) as info:
        load(path)
    assert str(path) in info.value.message


def test_bad_dev_vars_line(tmp_path: Path) -> None:
    write(tmp_path, ".dev.vars", "OK=1\nnot a pair\n")
    with pytest.raises(UsageError, match="line 2 is not KEY=VALUE"):
        load(write(tmp_path, "wrangler.toml", "name = 'x'"))


def test_no_configuration(tmp_path: Path) -> None:
    assert load(None).bindings == {}
    with pytest.raises(UsageError, match="has no wrangler configuration"):
        load(None, "staging")


def test_find_config_in_the_crate_or_a_parent_whose_main_is_this_build(tmp_path: Path) -> None:
    crate = tmp_path / "ws" / "crates" / "api"
    crate.mkdir(parents=True)
    build = crate / "build"
    assert wrangler.find_config(crate, build) is None
    other = write(tmp_path / "ws", "wrangler.toml", 'main = "other/index.js"')
    assert wrangler.find_config(crate, build) is None  # a parent's, for another Worker
    other.write_text('main = "crates/api/build/index.js"')
    assert wrangler.find_config(crate, build) == other
    own = write(crate, "wrangler.jsonc", "{}")
    assert wrangler.find_config(crate, build) == own  # the crate's own wins, whatever main


def test_non_ascii_paths_vars_and_secrets(tmp_path: Path) -> None:
    crate = tmp_path / "crate ö 日本"
    crate.mkdir()
    (crate / "wrangler.toml").write_text(
        'name = "wörker"\n[vars]\nGREETING = "grüße"\nLIST = ["ä", "😀"]\n', encoding="utf-8"
    )
    (crate / ".dev.vars").write_text('TOKEN="sëcret 秘密"\n', encoding="utf-8")
    settings = load(crate / "wrangler.toml")
    assert settings.name == "wörker"
    assert dict(settings.bindings) == {
        "GREETING": "grüße",
        "LIST": ["ä", "😀"],
        "TOKEN": "sëcret 秘密",
    }
