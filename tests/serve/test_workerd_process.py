"""worker_build.serve.workerd: the config text, and the process's start/stop paths with a
fake workerd (a shell script speaking the control-fd protocol). The real runtime is run by
tests/test_serve_real.py and tests/test_shim_workerd.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from worker_build.serve import workerd_config as wd
from worker_build.serve import workerd_process


def build_dir(tmp_path: Path) -> Path:
    out = tmp_path / "build"
    out.mkdir()
    (out / "index.js").write_text("export default {}")
    (out / "index_bg.wasm").write_bytes(b"\0asm\1\0\0\0")
    return out


def test_render_embeds_relative_paths_binds_loopback_and_picks_storage(tmp_path: Path) -> None:
    out = build_dir(tmp_path)
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


# A fake workerd: finds --control-fd=N, starts a grandchild (to prove the whole group is
# stopped; its pid is written before any socket is reported), reports the sockets named in
# FAKE_SOCKETS and waits.
FAKE = r"""
for a in "$@"; do case "$a" in --control-fd=*) fd="${a#--control-fd=}";; esac; done
echo "fake workerd starting"
if [ -n "$FAKE_EXIT" ]; then echo "config error: $FAKE_EXIT"; exit 3; fi
sleep 300 &
echo $! > "$FAKE_PIDFILE"
port=4000
for s in $FAKE_SOCKETS; do
  port=$((port + 1))
  printf '{"event":"listen","socket":"%s","port":%d}\n' "$s" "$port" >> "/dev/fd/$fd"
done
wait
"""


def fake_process(tmp_path: Path, sockets: str, **env: str) -> workerd_process.WorkerdProcess:
    exe = fake_exe(tmp_path / "bin" / "workerd", FAKE)
    worker = wd.Worker("main", wd.build_modules(build_dir(tmp_path)))
    config = wd.Config((worker,), (wd.Socket("http", "main"), wd.Socket("control", "main")))
    return workerd_process.WorkerdProcess(
        exe,
        config,
        env={"FAKE_SOCKETS": sockets, "FAKE_PIDFILE": str(tmp_path / "grandchild"), **env},
    )


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ports_are_read_back_and_stop_ends_the_whole_group(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "http control")
    with process:
        assert process.ports == {"http": 4001, "control": 4002}
        assert process.running
        grandchild = int((tmp_path / "grandchild").read_text())
        assert alive(grandchild)
    assert not process.running
    deadline = time.monotonic() + 30  # the signal is sent; its delivery is asynchronous
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(grandchild)
    assert "fake workerd starting" in process.log_text()  # kept after the dir is removed


def test_exit_before_listening_quotes_the_log(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "", FAKE_EXIT="no such module")
    with pytest.raises(wd.WorkerdError, match="exited with code 3") as info:
        process.start()
    assert "config error: no such module" in info.value.message
    assert not process.running


def test_missing_socket_times_out_and_stops_it(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "http")  # never reports "control"
    with pytest.raises(wd.WorkerdError, match="did not listen within 1 s"):
        process.start(timeout=1.0)
    assert not process.running
