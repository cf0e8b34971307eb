"""The shim's panic and abort recovery, proven in the real runtime (workerd on loopback).

hello-worker is built by the real `worker-build` CLI (session fixtures in conftest.py):
with `--panic-unwind` and without it. Every test starts its own workerd so instance state
never leaks between tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Built
from workerd import Response, Workerd

pytestmark = pytest.mark.slow

PANIC_TEXT = "hello-worker: deliberate panic"
DO_PANIC_TEXT = "Counter: deliberate panic"
ABORT_ROUTES = ["/abort", "/stack-overflow", "/oom"]


# -- builds: the real CLI, once per session (conftest.py) ---------------------------------------


@pytest.fixture(scope="module")
def unwind_build(hello_unwind: Built) -> Path:
    return hello_unwind.out


@pytest.fixture(scope="module")
def unwind_generic_build(hello_unwind_generic: Built) -> Path:
    return hello_unwind_generic.out


@pytest.fixture(scope="module")
def abort_build(hello_abort: Built) -> Path:
    return hello_abort.out


def serve(build: Path, tmp_path: Path, entry: Path | None = None) -> Workerd:
    return Workerd(
        build,
        durable_objects={"COUNTER": "Counter"},
        storage_dir=tmp_path / "do-storage",
        log_path=tmp_path / "workerd.log",
        entry=entry,
    )


@pytest.fixture
def unwind_worker(unwind_build: Path, tmp_path: Path) -> Iterator[Workerd]:
    with serve(unwind_build, tmp_path) as worker:
        yield worker


@pytest.fixture
def abort_worker(abort_build: Path, tmp_path: Path) -> Iterator[Workerd]:
    with serve(abort_build, tmp_path) as worker:
        yield worker


def ok(response: Response) -> str:
    assert response.status == 200, response
    return response.body


def counts(worker: Workerd, path: str, n: int) -> list[int]:
    return [int(ok(worker.get(path))) for _ in range(n)]


# -- the shape of the bundle -------------------------------------------------------------------


def test_bundle_exports_wrapped_classes_and_loads_the_wasm_module(unwind_build: Path) -> None:
    text = (unwind_build / "index.js").read_text()
    assert "import source" not in text
    assert 'from"./index_bg.wasm"' in text or 'from "./index_bg.wasm"' in text
    assert "Counter" in text and "__workerBuildClass" not in text  # minified, but exported
    assert (unwind_build / "worker" / "shim.mjs").is_file()


# -- panic=unwind ------------------------------------------------------------------------------


def test_root_answers(unwind_worker: Workerd) -> None:
    assert ok(unwind_worker.get("/")) == "hello from hello-worker"


def test_panic_fails_only_its_request_and_keeps_the_instance(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/count", 2) == [1, 2]
    panicked = unwind_worker.get("/panic")
    assert panicked.status == 500
    assert f"PanicError: {PANIC_TEXT}" in panicked.body
    assert counts(unwind_worker, "/count", 2) == [3, 4]
    # A second panic changes nothing either.
    assert unwind_worker.get("/panic").status == 500
    assert counts(unwind_worker, "/count", 1) == [5]


@pytest.mark.parametrize("route", ABORT_ROUTES)
def test_hard_abort_resets_the_instance(unwind_worker: Workerd, route: str) -> None:
    assert counts(unwind_worker, "/count", 3) == [1, 2, 3]
    aborted = unwind_worker.get(route)
    assert aborted.status == 500
    assert "RuntimeError" in aborted.body  # the cause is shown in "message" mode
    assert ok(unwind_worker.get("/")) == "hello from hello-worker"
    assert counts(unwind_worker, "/count", 2) == [1, 2]
    # And it recovers again after a second abort.
    assert unwind_worker.get(route).status == 500
    assert counts(unwind_worker, "/count", 1) == [1]


def test_durable_object_panic_keeps_memory_abort_recreates_it(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]
    panicked = unwind_worker.get("/do/panic")
    assert panicked.status == 500
    assert f"PanicError: {DO_PANIC_TEXT}" in panicked.body
    assert counts(unwind_worker, "/do/increment", 1) == [3]  # in-memory count survived
    assert ok(unwind_worker.get("/do/stored")) == "3"

    assert unwind_worker.get("/do/abort").status == 500
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]  # re-created object
    assert ok(unwind_worker.get("/do/stored")) == "5"  # storage survived both
    # The stateless side was reset by the same abort (one isolate, one instance).
    assert counts(unwind_worker, "/count", 1) == [1]


def test_abort_in_the_worker_recreates_the_durable_object(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]
    assert unwind_worker.get("/abort").status == 500
    assert counts(unwind_worker, "/do/increment", 1) == [1]
    assert ok(unwind_worker.get("/do/stored")) == "3"


def test_generic_panic_body_keeps_the_detail_in_the_log(
    unwind_generic_build: Path, tmp_path: Path
) -> None:
    with serve(unwind_generic_build, tmp_path) as worker:
        assert counts(worker, "/count", 1) == [1]
        panicked = worker.get("/panic")
        assert panicked.status == 500
        assert panicked.body == "Internal Server Error"
        aborted = worker.get("/abort")
        assert aborted.status == 500
        assert aborted.body == "Internal Server Error"
        assert counts(worker, "/count", 1) == [1]
    log = worker.log_text()
    assert f"PanicError: {PANIC_TEXT}" in log
    assert "RuntimeError: unreachable" in log


ENTRY = """\
import Worker, { Counter, onAbort } from "./index.js";

const seen = [];
onAbort((info) => {
  seen.push({
    error: String(info.error),
    previous: info.previousInstanceId,
    current: info.instanceId,
    resets: info.resets,
    alive: globalThis.__workerBuild.instanceId,
  });
});

export default class extends Worker {
  async fetch(request) {
    if (new URL(request.url).pathname === "/aborts") return Response.json(seen);
    return super.fetch(request);
  }
}
export { Counter };
"""


def test_on_abort_handlers_run_once_per_reset_with_the_new_generation(
    unwind_build: Path, tmp_path: Path
) -> None:
    entry = tmp_path / "entry.js"
    entry.write_text(ENTRY)
    with serve(unwind_build, tmp_path, entry=entry) as worker:
        assert counts(worker, "/count", 1) == [1]
        assert worker.get("/panic").status == 500
        assert worker.get("/aborts").body == "[]"  # a panic is no abort
        assert worker.get("/abort").status == 500
        assert worker.get("/oom").status == 500
        assert counts(worker, "/count", 1) == [1]
        seen = json.loads(ok(worker.get("/aborts")))
    assert [(s["previous"], s["current"], s["resets"]) for s in seen] == [(1, 2, 1), (2, 3, 2)]
    assert all("RuntimeError" in s["error"] for s in seen)
    assert [s["alive"] for s in seen] == [2, 3]  # the new instance is in place when they run


# -- panic=abort (a build without --panic-unwind) ----------------------------------------------


@pytest.mark.parametrize("route", ["/abort", "/panic"])
def test_non_unwind_build_resets_before_the_next_call(abort_worker: Workerd, route: str) -> None:
    assert counts(abort_worker, "/count", 2) == [1, 2]
    assert abort_worker.get(route).status == 500
    assert ok(abort_worker.get("/")) == "hello from hello-worker"
    assert counts(abort_worker, "/count", 2) == [1, 2]  # the instance was reset
    assert abort_worker.get(route).status == 500
    assert counts(abort_worker, "/count", 1) == [1]


def test_non_unwind_build_durable_object_recovers(abort_worker: Workerd) -> None:
    assert counts(abort_worker, "/do/increment", 2) == [1, 2]
    assert abort_worker.get("/do/panic").status == 500  # a panic is an abort here
    assert counts(abort_worker, "/do/increment", 1) == [1]
    assert abort_worker.get("/do/abort").status == 500
    assert counts(abort_worker, "/do/increment", 1) == [1]
    assert ok(abort_worker.get("/do/stored")) == "4"


# -- RPC methods (pure-exports: plain #[wasm_bindgen] functions, no worker crate) --------------

RPC_CALLER = """\
import { WorkerEntrypoint } from "cloudflare:workers";
export { default } from "./index.js";

// Serves HTTP and calls the worker's default export over RPC (service binding SELF).
export class Caller extends WorkerEntrypoint {
  async fetch(request) {
    const url = new URL(request.url);
    const args = JSON.parse(url.searchParams.get("args") ?? "[]");
    try {
      const value = await this.env.SELF[url.pathname.slice(1)](...args);
      return Response.json({ ok: true, value });
    } catch (e) {
      return Response.json({ ok: false, error: String(e) });
    }
  }
}
"""


@pytest.fixture(scope="module")
def pure_build(pure_unwind: Built) -> Path:
    return pure_unwind.out


def test_plain_exports_are_rpc_methods_with_panic_and_abort_recovery(
    pure_build: Path, tmp_path: Path
) -> None:
    entry = tmp_path / "entry.js"
    entry.write_text(RPC_CALLER)
    worker = Workerd(
        pure_build,
        durable_objects={},
        log_path=tmp_path / "workerd.log",
        entry=entry,
        service_bindings={"SELF": "main"},
        socket_entrypoint="Caller",
    )

    def call(method: str, *args: object) -> dict[str, object]:
        query = "?args=" + quote(json.dumps(args)) if args else ""
        result: dict[str, object] = json.loads(ok(worker.get(f"/{method}{query}")))
        return result

    with worker:
        assert call("add", 2, 3) == {"ok": True, "value": 5}
        assert call("greet", "workerd")["value"] == "Hello, workerd!"
        assert [call("counter")["value"] for _ in range(2)] == [1, 2]

        panicked = call("checked_div", 1, 0)
        assert panicked["ok"] is False and "division by zero" in str(panicked["error"])
        assert call("counter")["value"] == 3  # a panic keeps the instance

        rust_error = call("parse_u32", "x")  # an Err is an ordinary exception
        assert rust_error["ok"] is False and "cannot parse" in str(rust_error["error"])
        assert call("counter")["value"] == 4

        aborted = call("abort_now")
        assert aborted["ok"] is False and "unreachable" in str(aborted["error"])
        assert call("counter")["value"] == 1  # reset without the worker crate's help
        assert call("add", 1, 1) == {"ok": True, "value": 2}

        # The glue's own machinery is not reachable over RPC.
        assert call("__wbg_reset_state")["ok"] is False
        assert call("counter")["value"] == 2
