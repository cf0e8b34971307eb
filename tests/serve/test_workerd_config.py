"""worker_build.serve.workerd_config: the config model as Cap'n Proto text, and the modules
of a build directory (no process started; tests/serve/test_workerd_process.py starts one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builddir import fake_build_dir
from worker_build.serve import workerd_config as wd


def test_render_embeds_relative_paths_binds_loopback_and_picks_storage(tmp_path: Path) -> None:
    out = fake_build_dir(tmp_path)
    worker = wd.Worker(
        name="main",
        modules=wd.build_modules(out),
        compatibility_flags=("nodejs_compat",),
        bindings=(
            wd.Text("GREETING", 'say "hi"'),
            wd.Json("LIMITS", '{"n": 1}'),
            wd.DurableObject("COUNTER", "Counter"),
            wd.Kv("CACHE", "kv-CACHE"),
            wd.Service("SELF", "main", "Caller"),
        ),
        durable_object_classes=("Counter",),
        storage=wd.OnDisk(tmp_path / "do"),
    )
    text = wd.render(wd.Config((worker,), (wd.Socket("http", "main"),)), tmp_path / "cfg")
    assert 'esModule = embed "../build/index.js"' in text
    assert 'wasm = embed "../build/index_bg.wasm"' in text
    assert 'address = "127.0.0.1:0"' in text and "*:" not in text
    assert '(name = "GREETING", text = "say \\x22hi\\x22")' in text
    assert '(name = "LIMITS", json = "{\\x22n\\x22: 1}")' in text
    assert 'kvNamespace = "kv-CACHE"' in text
    assert 'service = (name = "main", entrypoint = "Caller")' in text
    assert 'compatibilityFlags = ["nodejs_compat"]' in text
    assert 'durableObjectStorage = (localDisk = "main-do-storage")' in text
    assert f'path = "{(tmp_path / "do").resolve()}", writable = true' in text

    assert text.isascii()

    in_memory = wd.Worker(
        "main",
        wd.build_modules(out),
        bindings=(wd.Kv("KV", "harness", "KvNamespace", '{"namespace": "n"}'),),
        durable_object_classes=("Counter", "Plain"),
        sqlite_classes=frozenset({"Counter"}),
    )
    text = wd.render(wd.Config((in_memory,), ()), tmp_path)
    assert "durableObjectStorage = (inMemory = void)" in text
    assert (
        'kvNamespace = (name = "harness", entrypoint = "KvNamespace", '
        'props = (json = "{\\x22namespace\\x22: \\x22n\\x22}"))'
    ) in text
    assert '(className = "Counter", uniqueKey = "main-Counter", enableSql = true)' in text
    assert '(className = "Plain", uniqueKey = "main-Plain")' in text


def test_build_modules_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(wd.WorkerdError, match=r"index\.js does not exist") as info:
        wd.build_modules(tmp_path)
    assert "run worker-build first" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("plain", '"plain"'),
        ("grüße", '"gr\\xc3\\xbc\\xc3\\x9fe"'),
        ("日本", '"\\xe6\\x97\\xa5\\xe6\\x9c\\xac"'),
        ('"q" \\ \n\t\x00', '"\\x22q\\x22 \\x5c \\x0a\\x09\\x00"'),
        ("\udcff", '"\\xff"'),  # a path byte that is not UTF-8 (surrogateescape) stays that byte
    ],
)
def test_strings_are_capnp_literals_of_their_utf8_bytes(text: str, literal: str) -> None:
    # Cap'n Proto text reads C escapes, not JSON's \\uNNNN (issue 16: "config.capnp:9:76:
    # Parse error" for a non-ASCII crate path or var)
    assert wd._string(text) == literal


def test_a_socket_may_ask_for_a_fixed_port(tmp_path: Path) -> None:
    worker = wd.Worker("main", wd.build_modules(fake_build_dir(tmp_path)))
    config = wd.Config((worker,), (wd.Socket("http", "main", port=8787),))
    assert 'address = "127.0.0.1:8787"' in wd.render(config, tmp_path)
