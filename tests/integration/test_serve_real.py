"""A Worker crate's generated `build/loader.py`, used from plain Python: `loader.serve()`
runs the build in the real workerd (or the real miniflare, on Node 22) on 127.0.0.1.

hello-worker (conftest's session build, `--panic-unwind`): the recovery semantics of the
runtime. bindings-worker (built once per session at a path with a space and non-ASCII
letters, tests/support/bindings_worker.py): in workerd, vars (non-ASCII too), a .dev.vars
secret, KV, a service binding to itself, the scheduled and queue triggers, RPC, logs,
storage on disk, and the binding overrides; in miniflare (its `[env.full]`), R2, D1, a
queue producer whose messages reach the Worker's consumer, a rate limiter, assets (in front
of the Worker and through their binding) and analytics engine, each exercised by a request.
Panic and abort responses are checked for what holds both while the shim answers them and
once the runtime does (status 500, detail in the log).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from harness.paths import NODE_BIN, SAMPLES
from tests.support.bindings_worker import HOME, bindings_worker, node22_env
from tests.support.builds import Built, require_tool
from tests.support.procs import alive
from worker_build.errors import UsageError
from worker_build.serve import LocalKv, LocalR2, PortInUseError, QueueMessage, RpcError, Worker
from worker_build.util.pyimport import import_file

pytestmark = pytest.mark.slow

PANIC_TEXT = "hello-worker: deliberate panic"


def import_loader(build: Path) -> ModuleType:
    """`import loader` from `build`, as a user would with the directory on sys.path (the
    module in sys.modules as an import leaves it), as the pytest plugin imports it."""
    module = import_file(
        build / "loader.py", f"loader_{build.name.replace('-', '_')}", register=True
    )
    assert module is not None
    return module


@pytest.fixture(scope="module")
def hello_loader(hello_unwind: Built) -> ModuleType:
    require_tool(NODE_BIN / "workerd")
    return import_loader(hello_unwind.out)


@pytest.fixture
def hello(hello_loader: ModuleType) -> Iterator[Worker]:
    with hello_loader.serve() as worker:
        yield worker


def counts(worker: Worker, path: str, n: int) -> list[int]:
    answers = [worker.fetch(path) for _ in range(n)]
    assert all(a.status == 200 for a in answers), answers
    return [int(a.text) for a in answers]


# -- hello-worker: the recovery semantics ------------------------------------------------------


def test_loader_of_a_worker_crate_describes_and_serves_it(
    hello_loader: ModuleType, hello: Worker
) -> None:
    assert hello_loader.HANDLERS == ("fetch",)
    assert "Counter" in hello_loader.CLASSES
    assert (SAMPLES / "hello-worker").resolve() == hello_loader.CRATE_DIR
    root = hello.fetch("/")
    assert (root.status, root.text) == (200, "hello from hello-worker")
    assert root.headers["content-type"].startswith("text/plain")
    assert hello.fetch("/nothing-here").status == 404
    assert hello.url == f"http://127.0.0.1:{hello.port}"
    assert 0 < hello.startup_seconds < 60


def test_panic_fails_its_request_and_the_instance_keeps_counting(hello: Worker) -> None:
    assert counts(hello, "/count", 2) == [1, 2]
    mark = hello.logs.mark()
    assert hello.fetch("/panic").status == 500
    assert counts(hello, "/count", 2) == [3, 4]
    assert PANIC_TEXT in hello.logs.wait_for(PANIC_TEXT, since=mark)


def test_abort_resets_the_instance(hello: Worker) -> None:
    assert counts(hello, "/count", 3) == [1, 2, 3]
    assert hello.fetch("/abort").status == 500  # answered, never hangs
    assert counts(hello, "/count", 2) == [1, 2]


def test_durable_object_counter_survives_a_panic_and_is_recreated_by_an_abort(
    hello: Worker,
) -> None:
    assert counts(hello, "/do/increment", 2) == [1, 2]
    assert hello.fetch("/do/panic").status == 500
    assert counts(hello, "/do/increment", 1) == [3]
    assert hello.fetch("/do/abort").status == 500
    assert counts(hello, "/do/increment", 1) == [1]  # a new object: memory lost...
    assert hello.fetch("/do/stored").text == "4"  # ...storage kept


def test_storage_on_disk_outlives_the_server(hello_loader: ModuleType, tmp_path: Path) -> None:
    with hello_loader.serve(storage=tmp_path / "data") as worker:
        assert counts(worker, "/do/increment", 2) == [1, 2]
    with hello_loader.serve(storage=tmp_path / "data") as worker:
        assert counts(worker, "/do/increment", 1) == [1]  # a fresh runtime...
        assert worker.fetch("/do/stored").text == "3"  # ...over the same storage
    with hello_loader.serve() as worker:
        assert worker.fetch("/do/stored").text == "0"  # in memory: nothing kept


def test_the_server_is_gone_after_the_block_and_calls_then_fail(
    hello_loader: ModuleType,
) -> None:
    with hello_loader.serve() as worker:
        pid = worker.pid
        assert pid is not None and worker.running
    assert not worker.running
    with pytest.raises(hello_loader.WorkerdError, match="workerd is not running"):
        worker.fetch("/")


# -- bindings-worker: bindings, triggers, RPC, logs ---------------------------------------------


@pytest.fixture(scope="module")
def bindings_build() -> Built:
    return bindings_worker()


@pytest.fixture(scope="module")
def bindings_loader(bindings_build: Built) -> ModuleType:
    return import_loader(bindings_build.out)


@pytest.fixture
def bound(bindings_loader: ModuleType) -> Iterator[Worker]:
    with bindings_loader.serve() as worker:
        yield worker


def test_exports_of_the_bindings_worker(bindings_loader: ModuleType) -> None:
    assert bindings_loader.HANDLERS == ("fetch", "scheduled", "queue")
    assert bindings_loader.RPC_METHODS == ("add", "fail", "shout")
    assert HOME.resolve() == bindings_loader.CRATE_DIR  # "bindings wörker 日本"


def test_vars_json_vars_and_dev_vars_secrets(bound: Worker) -> None:
    assert bound.runtime == "workerd"  # plain workerd provides all of the top level
    assert bound.fetch("/").text == "hello from bindings-worker"
    assert bound.fetch("/var").text == "hello from vars"
    assert bound.fetch("/json-var").json() == {"max": 3, "names": ["a", "b"]}
    assert bound.fetch("/welcome").text == "grüße aus 日本 😀"
    assert bound.fetch("/secret").text == "lökal-token 秘密"  # .dev.vars
    assert bound.fetch("/self").text == "via SELF: hello from vars"  # a service binding


def test_fetch_sends_method_headers_and_body(bound: Worker) -> None:
    echoed = bound.fetch(
        "/echo", method="post", headers={"Content-Type": "x/bytes"}, body=b"\x00\xff"
    )
    assert (echoed.status, echoed.body, echoed.headers["X-Echo-Type"]) == (
        200,
        b"\x00\xff",
        "x/bytes",
    )
    as_json = bound.fetch("/echo", method="POST", json={"a": [1]})
    assert as_json.json() == {"a": [1]}
    assert as_json.headers["x-echo-type"] == "application/json"


def test_kv_namespace_get_put_list_delete_with_metadata(bound: Worker) -> None:
    assert bound.fetch("/kv/greeting").status == 404
    assert bound.fetch("/kv/greeting", method="PUT", body="hi there").text == "stored"
    assert bound.fetch("/kv/green", method="PUT", body="x" * 300_000).text == "stored"
    assert bound.fetch("/kv/greeting").text == "hi there 8"  # value and metadata
    assert bound.fetch("/kv/green").text == "x" * 300_000 + " 5"  # several storage chunks
    assert bound.fetch("/kv?gree").text == "green,greeting"
    assert bound.fetch("/kv/greeting", method="DELETE").text == "deleted"
    assert bound.fetch("/kv?gree").text == "green"


def test_scheduled_runs_the_cron_handler(bound: Worker) -> None:
    result = bound.scheduled()  # the first cron of [triggers]
    assert (result.outcome, result.no_retry) == ("ok", False)
    assert bound.fetch("/kv/last-cron").text == "*/5 * * * * 0"
    assert bound.scheduled("0 0 * * *").outcome == "ok"
    assert bound.fetch("/kv/last-cron").text == "0 0 * * * 0"


def test_queue_delivers_a_batch_and_reports_acks_and_retries(bound: Worker) -> None:
    result = bound.queue(
        "jobs", [{"n": 1}, QueueMessage({"retry": True}, id="again"), QueueMessage([2], id="m2")]
    )
    assert result.outcome == "ok"
    assert set(result.explicit_acks) == {"message-1", "m2"}
    assert result.retry_messages == ("again",)
    assert bound.fetch("/kv?queued/").text == "queued/m2,queued/message-1"
    assert bound.fetch("/kv/queued/m2").text == "[2] 0"


def test_rpc_calls_plain_exports_and_a_panic_keeps_the_instance(bound: Worker) -> None:
    assert bound.call("add", 2, 3) == 5
    assert bound.rpc.shout("quiet") == "QUIET"
    with pytest.raises(RpcError, match="bindings-worker: on purpose"):
        bound.rpc.fail("on purpose")
    with pytest.raises(RpcError, match="does not implement the method"):
        bound.call("missing")
    assert bound.call("add", 40, 2) == 42


def test_logs_hold_the_workers_console_output(bound: Worker) -> None:
    mark = bound.logs.mark()
    assert bound.fetch("/log", method="PUT").status == 200
    assert "bindings-worker: logged PUT" in bound.logs.wait_for("logged PUT", since=mark)
    assert "bindings-worker: logged PUT" in bound.logs.text


def test_bindings_argument_replaces_and_removes_configuration_bindings(
    bindings_loader: ModuleType,
) -> None:
    overrides = {"GREETING": "overridden", "LIMITS": {"max": 9}, "API_TOKEN": None}
    with bindings_loader.serve(bindings=overrides) as worker:
        assert worker.fetch("/var").text == "overridden"
        assert worker.fetch("/json-var").json() == {"max": 9}
        assert worker.fetch("/secret").status == 500  # the binding is gone
    with bindings_loader.serve(bindings={"CACHE": LocalKv("shared")}) as worker:
        assert worker.fetch("/kv/k", method="PUT", body="v").status == 200
        assert worker.fetch("/kv/k").text == "v 1"


def test_unprovidable_binding_is_one_clear_error_before_starting(
    bindings_loader: ModuleType, tmp_path: Path
) -> None:
    config = tmp_path / "wrangler.toml"
    shutil.copyfile(SAMPLES / "bindings-worker" / "wrangler.toml", config)
    with config.open("a", encoding="utf-8") as f:
        f.write('\n[ai]\nbinding = "AI"\n')  # wrangler serves Workers AI only remotely
    refused = pytest.raises(UsageError, match=r"binding AI \(ai: served only remotely")
    with refused as info, bindings_loader.serve(config=config):
        pass
    assert "serve(bindings={'AI': None})" in (info.value.fix or "")
    with bindings_loader.serve(config=config, bindings={"AI": None}) as worker:
        assert worker.fetch("/var").text == "hello from vars"


# -- bindings-worker in miniflare: what only miniflare provides locally -------------------------


@pytest.fixture(scope="module")
def full(bindings_loader: ModuleType) -> Iterator[Worker]:
    """One miniflare for the binding tests below (each uses keys of its own)."""
    with pytest.MonkeyPatch.context() as patch:
        node22_env(patch)
        with bindings_loader.serve(environment="full") as worker:
            yield worker


@pytest.fixture
def node22(monkeypatch: pytest.MonkeyPatch) -> None:
    node22_env(monkeypatch)


def test_the_full_environment_runs_in_miniflare(full: Worker) -> None:
    assert full.runtime == "miniflare"
    assert full.fetch("/welcome").text == "grüße aus 日本 😀"
    assert full.fetch("/secret").text == "lökal-token 秘密"
    assert full.fetch("/self").text == "via SELF: hello from vars"
    assert full.rpc.add(2, 3) == 5
    assert full.scheduled().outcome == "ok"
    assert full.fetch("/kv/last-cron").text == "*/5 * * * * 0"


def test_r2_bucket(full: Worker) -> None:
    assert full.fetch("/r2/notes/ä b.txt").status == 404
    assert full.fetch("/r2/notes/ä b.txt", method="PUT", body="grüße".encode()).text == "put"
    assert full.fetch("/r2/notes/ä b.txt").text == "grüße"
    assert "notes/%C3%A4%20b.txt" in full.fetch("/r2").text.split(",")


def test_d1_database(full: Worker) -> None:
    full.fetch("/d1", method="POST", body="erste Notiz")
    rows = full.fetch("/d1", method="POST", body="日本").json()
    assert [r["text"] for r in rows][-2:] == ["erste Notiz", "日本"]


def test_a_queue_producer_reaches_the_workers_consumer(full: Worker) -> None:
    mark = full.logs.mark()
    assert full.fetch("/enqueue", method="POST", body="job ü").text == "sent"
    # the consumer runs when miniflare's batch of `max_batch_timeout = 1` s is due
    full.logs.wait_for('consumed "job ü" from jobs', since=mark)
    stored = [k for k in full.fetch("/kv?queued/").text.split(",") if k]
    assert any(full.fetch(f"/kv/{key}").text == '"job ü" 0' for key in stored)


def test_rate_limiter(full: Worker) -> None:
    # `simple = { limit = 2, period = 60 }`: the third call within the period is limited
    assert [full.fetch("/limit/user-1").text for _ in range(3)] == [
        "allowed",
        "allowed",
        "limited",
    ]
    assert full.fetch("/limit/user-2").text == "allowed"  # per key


def test_assets_in_front_of_the_worker_and_through_their_binding(full: Worker) -> None:
    direct = full.fetch("/hello.txt")
    assert (direct.status, direct.text) == (200, "hello from assets, grüße\n")
    assert direct.headers["content-type"].startswith("text/plain")
    assert full.fetch("/assets-binding").text == "via ASSETS: hello from assets, grüße\n"
    assert full.fetch("/var").text == "hello from vars"  # no such asset: the Worker answers


def test_analytics_engine_dataset_and_version_metadata(full: Worker) -> None:
    assert full.fetch("/event").text == "written"
    assert full.fetch("/version").text.startswith("version ")


def test_kv_and_the_queue_trigger_in_miniflare(full: Worker) -> None:
    assert full.fetch("/kv/mf-key", method="PUT", body="wert").text == "stored"
    assert full.fetch("/kv/mf-key").text == "wert 6"
    result = full.queue("jobs", [QueueMessage({"n": "ü"}, id="mf-1")])
    assert result.explicit_acks == ("mf-1",)
    assert full.fetch("/kv/queued/mf-1").text == '{"n":"ü"} 0'


@pytest.mark.usefixtures("node22")
def test_miniflare_storage_on_disk_outlives_the_server(
    bindings_loader: ModuleType, tmp_path: Path
) -> None:
    data = tmp_path / "dätä"
    with bindings_loader.serve(environment="full", storage=data) as worker:
        assert worker.fetch("/r2/kept", method="PUT", body="1").text == "put"
        worker.fetch("/d1", method="POST", body="kept row")
        assert worker.fetch("/kv/disk-key", method="PUT", body="v").text == "stored"
    with bindings_loader.serve(environment="full", storage=data) as worker:
        assert worker.fetch("/r2/kept").text == "1"
        assert [r["text"] for r in worker.fetch("/d1").json()] == ["kept row"]
        assert worker.fetch("/kv/disk-key").text == "v 8"
    assert (data / "miniflare").is_dir()  # apart from a workerd run's storage
    with bindings_loader.serve(storage=data) as worker:  # workerd, same directory
        assert worker.runtime == "workerd"
        assert worker.fetch("/kv/disk-key").status == 404  # its own KV store


@pytest.mark.usefixtures("node22")
def test_runtime_can_be_chosen_and_workerd_refuses_what_it_lacks(
    bindings_loader: ModuleType,
) -> None:
    with bindings_loader.serve(runtime="miniflare") as worker:  # the top level, in miniflare
        assert worker.runtime == "miniflare"
        assert worker.fetch("/welcome").text == "grüße aus 日本 😀"
        assert worker.fetch("/kv/k", method="PUT", body="v").text == "stored"
        assert worker.fetch("/kv/k").text == "v 1"
    with pytest.raises(UsageError, match=r"runtime='workerd' cannot serve BUCKET, DB, JOBS"):
        bindings_loader.serve(environment="full", runtime="workerd").__enter__()
    with bindings_loader.serve(bindings={"FILES": LocalR2("files")}) as worker:
        assert worker.runtime == "miniflare"  # an R2 override needs miniflare too


# A Python process serving [env.full] that prints miniflare's runner (node) and the workerd it
# started, then waits to be killed.
HOLD_MINIFLARE = """
import json, pathlib, sys, time
from worker_build.util.pyimport import import_file
loader = import_file(pathlib.Path(sys.argv[1]) / "loader.py", "loader", register=True)
with loader.serve(environment="full") as worker:
    children = pathlib.Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
    print(json.dumps([worker.pid, [int(c) for c in children.split()]]), flush=True)
    time.sleep(600)
"""


@pytest.mark.usefixtures("node22")
def test_a_killed_python_leaves_neither_node_nor_miniflares_workerd(
    bindings_build: Built,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_MINIFLARE, str(bindings_build.out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        node, workerds = json.loads(holder.stdout.readline())
        assert workerds and all(alive(pid) for pid in (node, *workerds))
    finally:
        holder.kill()  # SIGKILL: no cleanup runs in Python; the parent-death signal does
        holder.wait()
    deadline = time.monotonic() + 60  # the signal is sent; its handling takes a moment
    while any(alive(pid) for pid in (node, *workerds)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in (node, *workerds))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.usefixtures("node22")
@pytest.mark.parametrize("runtime", ["workerd", "miniflare"])
def test_a_fixed_port_and_a_busy_one(bindings_loader: ModuleType, runtime: str) -> None:
    for _ in range(5):  # a port found free may be taken before the server binds it: retry
        port = free_port()
        try:
            with bindings_loader.serve(port=port, runtime=runtime) as worker:
                assert (worker.port, worker.url) == (port, f"http://127.0.0.1:{port}")
                assert worker.fetch("/var").text == "hello from vars"
                break
        except PortInUseError:
            continue
    else:
        pytest.fail("no free port in 5 tries")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {busy} on 127.0.0.1 is already in use"):
            bindings_loader.serve(port=busy, runtime=runtime).__enter__()


def test_plain_wasm_bindgen_crates_keep_the_wasmtime_loader(pure_unwind: Built) -> None:
    text = (pure_unwind.out / "loader.py").read_text()
    assert "worker_build.serve" not in text and "worker_build.loader" in text
    loader = import_loader(pure_unwind.out)
    assert loader.add(2, 3) == 5
