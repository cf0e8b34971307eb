"""worker_build.serve.wrangler: the bindings a local run gets from a wrangler configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from worker_build.errors import EXIT_USAGE, UsageError
from worker_build.serve import wrangler
from worker_build.serve.wrangler import (
    LocalDurableObject,
    LocalKv,
    SelfService,
    Unsupported,
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
        "REMOTE": Unsupported("durable_objects (class Other of script elsewhere)"),
        "SELF": SelfService("Api"),
        "AUTH": Unsupported("services"),
        "FILES": Unsupported("r2_buckets"),
        "AI": Unsupported("ai"),
        "JOBS": Unsupported("queues.producers"),
    }
    assert settings.durable_object_classes == ("Counter",)


def test_unprovidable_bindings_are_one_error_naming_each(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "wrangler.toml", TOML))
    with pytest.raises(UsageError) as info:
        require_providable(settings)
    error = info.value
    assert error.exit_code == EXIT_USAGE
    assert error.message.startswith("bindings REMOTE (durable_objects (class Other of script")
    for name in ("AUTH (services)", "FILES (r2_buckets)", "AI (ai)", "JOBS (queues.producers)"):
        assert name in error.message
    assert "'FILES': None" in (error.fix or "")
    # Leaving them out, or replacing them, makes the rest servable.
    kept = with_overrides(
        settings, {"REMOTE": None, "AUTH": None, "FILES": None, "AI": "fake", "JOBS": None}
    )
    require_providable(kept)
    assert kept.bindings["AI"] == "fake" and "FILES" not in kept.bindings


def test_environment_inherits_settings_but_not_bindings(tmp_path: Path) -> None:
    path = write(tmp_path, "wrangler.toml", TOML)
    write(tmp_path, ".dev.vars", "TOKEN=top\n")
    write(tmp_path, ".dev.vars.staging", "# staging secrets\nexport TOKEN='for staging'\n")
    settings = load(path, "staging")
    assert settings.compatibility_date == "2025-11-01"
    assert settings.compatibility_flags == ("nodejs_compat",)  # inherited
    assert dict(settings.bindings) == {"GREETING": "staging", "TOKEN": "for staging"}
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
