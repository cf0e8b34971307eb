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
    assert '(name = "GREETING", text = "say \\"hi\\"")' in text
    assert '(name = "LIMITS", json = "{\\"n\\": 1}")' in text
    assert 'kvNamespace = "kv-CACHE"' in text
    assert 'service = (name = "main", entrypoint = "Caller")' in text
    assert 'compatibilityFlags = ["nodejs_compat"]' in text
    assert 'durableObjectStorage = (localDisk = "main-do-storage")' in text
    assert f'path = "{(tmp_path / "do").resolve()}", writable = true' in text

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
        'props = (json = "{\\"namespace\\": \\"n\\"}"))'
    ) in text
    assert '(className = "Counter", uniqueKey = "main-Counter", enableSql = true)' in text
    assert '(className = "Plain", uniqueKey = "main-Plain")' in text


def test_build_modules_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(wd.WorkerdError, match=r"index\.js does not exist") as info:
        wd.build_modules(tmp_path)
    assert "run worker-build first" in (info.value.fix or "")
