"""The shim's panic and abort recovery, proven in the real runtime (workerd on loopback).

hello-worker is built by the real `worker-build` CLI (session fixtures in conftest.py):
with `--panic-unwind` (default `--panic-body runtime`, and the shim's own `message` and
`generic` answers) and without it. Every test starts its own workerd so instance state never
leaks between tests. Nothing here waits for time to pass: where a request must be in flight
when something else happens, the test waits for the Worker to say so (`/do/held`). workerd's
log is never read the moment a response arrives: a line the test expects is waited for
(`wait_for_log`), and a line that must be absent is looked for only once the log has caught
up with everything workerd did before (`log_caught_up`, harness/workerd.py).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from harness.paths import SAMPLES
from harness.workerd import Response, Workerd
from tests.support.builds import Built, cargo_target_dir, require_tool, tool_env, worker_build
from worker_build.build.context import BuildContext
from worker_build.build.crate import load_crate
from worker_build.build.options import RawArgs, resolve
from worker_build.build.steps import bundle

pytestmark = pytest.mark.slow

PANIC_TEXT = "hello-worker: deliberate panic"
DO_PANIC_TEXT = "Counter: deliberate panic"
# /js-error: a JS exception reaching the handler's catch_unwind, which aborts on it.
ABORT_ROUTES = ["/abort", "/stack-overflow", "/oom", "/js-error"]
# What workerd logs when it cancels a request that can never answer (an aborted one).
CANCELLED = "The Workers runtime canceled this request"
# What workerd logs when a promise is settled from another request's context.
CROSS_CONTEXT = "different request context"
# Nothing of the failure may reach a client by default.
INTERNAL_DETAIL = (PANIC_TEXT, DO_PANIC_TEXT, "PanicError", "RuntimeError", "unreachable", "wasm")


# -- builds: the real CLI, once per session (conftest.py) ---------------------------------------


@pytest.fixture(scope="module")
def unwind_build(hello_unwind: Built) -> Path:
    return hello_unwind.out


@pytest.fixture(scope="module")
def unwind_generic_build(hello_unwind_generic: Built) -> Path:
    return hello_unwind_generic.out


@pytest.fixture(scope="module")
def unwind_message_build(hello_unwind_message: Built) -> Path:
    return hello_unwind_message.out


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


def failed_without_detail(response: Response) -> None:
    assert response.status == 500, response
    leaked = [text for text in INTERNAL_DETAIL if text in response.body]
    assert not leaked, f"{leaked} reached the client: {response.body!r}"


def counts(worker: Workerd, path: str, n: int) -> list[int]:
    return [int(ok(worker.get(path))) for _ in range(n)]


def no_cross_context_settlement(worker: Workerd) -> None:
    log = worker.log_caught_up()
    assert CROSS_CONTEXT not in log, log[-4000:]


def cancelled_by_the_runtime(worker: Workerd, times: int) -> None:
    """workerd logged CANCELLED exactly `times` times: waited for, then counted once the log
    has caught up (a later cancellation would be a wrong one)."""
    worker.wait_for_log(CANCELLED, count=times)
    log = worker.log_caught_up()
    assert log.count(CANCELLED) == times, log[-4000:]


# -- the shape of the bundle -------------------------------------------------------------------


def test_bundle_exports_wrapped_classes_and_loads_the_wasm_module(unwind_build: Path) -> None:
    text = (unwind_build / "index.js").read_text()
    assert "import source" not in text
    assert 'from"./index_bg.wasm"' in text or 'from "./index_bg.wasm"' in text
    assert "Counter" in text and "__workerBuildClass" not in text  # minified, but exported
    assert (unwind_build / "worker" / "shim.mjs").is_file()


# -- default (--panic-body runtime): the runtime answers, as with the Rust worker-build ---------


def test_root_answers(unwind_worker: Workerd) -> None:
    assert ok(unwind_worker.get("/")) == "hello from hello-worker"


def test_panic_reaches_the_runtime_and_keeps_the_instance(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/count", 2) == [1, 2]
    failed_without_detail(unwind_worker.get("/panic"))
    assert counts(unwind_worker, "/count", 2) == [3, 4]
    # A second panic changes nothing either.
    failed_without_detail(unwind_worker.get("/panic"))
    assert counts(unwind_worker, "/count", 1) == [5]
    # The runtime got the PanicError itself: the detail is in the log only.
    unwind_worker.wait_for_log(f"PanicError: {PANIC_TEXT}")


@pytest.mark.parametrize("route", ABORT_ROUTES)
def test_hard_abort_is_cancelled_by_the_runtime_and_resets(
    unwind_worker: Workerd, route: str
) -> None:
    assert counts(unwind_worker, "/count", 3) == [1, 2, 3]
    failed_without_detail(unwind_worker.get(route))
    assert ok(unwind_worker.get("/")) == "hello from hello-worker"
    assert counts(unwind_worker, "/count", 2) == [1, 2]
    # And it recovers again after a second abort.
    failed_without_detail(unwind_worker.get(route))
    assert counts(unwind_worker, "/count", 1) == [1]
    cancelled_by_the_runtime(unwind_worker, 2)  # the runtime ended both
    no_cross_context_settlement(unwind_worker)


def test_durable_object_panic_keeps_memory_abort_recreates_it(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]
    failed_without_detail(unwind_worker.get("/do/panic"))
    assert counts(unwind_worker, "/do/increment", 1) == [3]  # in-memory count survived
    assert ok(unwind_worker.get("/do/stored")) == "3"

    failed_without_detail(unwind_worker.get("/do/abort"))
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]  # re-created object
    assert ok(unwind_worker.get("/do/stored")) == "5"  # storage survived both
    # The stateless side was reset by the same abort (one isolate, one instance).
    assert counts(unwind_worker, "/count", 1) == [1]
    no_cross_context_settlement(unwind_worker)


def test_abort_in_the_worker_recreates_the_durable_object(unwind_worker: Workerd) -> None:
    assert counts(unwind_worker, "/do/increment", 2) == [1, 2]
    failed_without_detail(unwind_worker.get("/abort"))
    assert counts(unwind_worker, "/do/increment", 1) == [1]
    assert ok(unwind_worker.get("/do/stored")) == "3"


def test_no_settlement_across_requests_after_a_cancelled_request(unwind_worker: Workerd) -> None:
    # /hang can never answer: the runtime cancels it, and the instance is kept. An abort in
    # another request afterwards must not touch the cancelled request's promise.
    assert counts(unwind_worker, "/count", 1) == [1]
    failed_without_detail(unwind_worker.get("/hang"))
    assert counts(unwind_worker, "/count", 1) == [2]  # not an abort: same instance
    failed_without_detail(unwind_worker.get("/abort"))
    assert counts(unwind_worker, "/count", 1) == [1]
    cancelled_by_the_runtime(unwind_worker, 2)
    no_cross_context_settlement(unwind_worker)


def hold_then(worker: Workerd, trigger: str) -> tuple[Response, Response]:
    """A request parked in the Durable Object (`/do/hold`) while `trigger` runs: the response
    of the parked request and of the trigger. The trigger is sent only once the Worker counts
    the parked request, so the parked request is certainly in flight."""
    parked: list[Response] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            parked.append(worker.get("/do/hold", timeout=120))
        except BaseException as e:  # reported by the test thread
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while ok(worker.get("/do/held")) != "1":
        assert thread.is_alive(), errors
    triggered = worker.get(trigger)
    thread.join(150)
    assert not thread.is_alive(), "the parked request never ended"
    assert not errors, errors
    return parked[0], triggered


def test_a_request_in_flight_when_the_instance_aborts_ends(unwind_worker: Workerd) -> None:
    # Only /do/release could end the parked request on a live instance. After the abort its
    # Durable Object call is watched from the object's own context and fails; the Worker's
    # request waiting for it can then be cancelled by the runtime. Nothing hangs.
    parked, aborted = hold_then(unwind_worker, "/abort")
    failed_without_detail(aborted)
    failed_without_detail(parked)
    assert ok(unwind_worker.get("/do/held")) == "0"  # a fresh object
    assert counts(unwind_worker, "/do/increment", 1) == [1]
    no_cross_context_settlement(unwind_worker)


def test_a_parked_request_is_released_on_a_live_instance(unwind_worker: Workerd) -> None:
    # The counterpart of the test above: the same parked request, released, answers 200.
    parked, released = hold_then(unwind_worker, "/do/release")
    assert ok(released) == "ok"
    assert ok(parked) == "released"


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


@pytest.mark.parametrize("route", ["/abort", "/panic", "/js-error"])
def test_non_unwind_build_resets_before_the_next_call(abort_worker: Workerd, route: str) -> None:
    # In a panic=abort build a panic is an abort, and so is a JS exception through Rust frames.
    assert counts(abort_worker, "/count", 2) == [1, 2]
    failed_without_detail(abort_worker.get(route))
    assert ok(abort_worker.get("/")) == "hello from hello-worker"
    assert counts(abort_worker, "/count", 2) == [1, 2]  # the instance was reset
    failed_without_detail(abort_worker.get(route))
    assert counts(abort_worker, "/count", 1) == [1]
    cancelled_by_the_runtime(abort_worker, 2)
    no_cross_context_settlement(abort_worker)


def test_non_unwind_build_durable_object_recovers(abort_worker: Workerd) -> None:
    assert counts(abort_worker, "/do/increment", 2) == [1, 2]
    failed_without_detail(abort_worker.get("/do/panic"))  # a panic is an abort here
    assert counts(abort_worker, "/do/increment", 1) == [1]
    failed_without_detail(abort_worker.get("/do/abort"))
    assert counts(abort_worker, "/do/increment", 1) == [1]
    assert ok(abort_worker.get("/do/stored")) == "4"


def test_non_unwind_build_request_in_flight_when_the_instance_aborts_ends(
    abort_worker: Workerd,
) -> None:
    parked, aborted = hold_then(abort_worker, "/panic")
    failed_without_detail(aborted)
    failed_without_detail(parked)
    assert counts(abort_worker, "/do/increment", 1) == [1]
    no_cross_context_settlement(abort_worker)


# -- the shim's own answers: --panic-body message | generic ------------------------------------


def test_message_body_carries_the_panic_and_the_abort(
    unwind_message_build: Path, tmp_path: Path
) -> None:
    with serve(unwind_message_build, tmp_path) as worker:
        assert counts(worker, "/count", 1) == [1]
        panicked = worker.get("/panic")
        assert panicked.status == 500
        assert panicked.body == f"PanicError: {PANIC_TEXT}"
        assert counts(worker, "/count", 1) == [2]
        do_panicked = worker.get("/do/panic")
        assert do_panicked.status == 500 and f"PanicError: {DO_PANIC_TEXT}" in do_panicked.body
        # An abort during the request's own call is answered by the shim, from that request.
        aborted = worker.get("/abort")
        assert aborted.status == 500
        assert aborted.body.startswith("InstanceAbortedError: ")
        assert "RuntimeError: unreachable" in aborted.body
        assert counts(worker, "/count", 1) == [1]
        # A request that can never answer (not an abort) is still left to the runtime, and a
        # later abort does not settle it.
        failed_without_detail(worker.get("/hang"))
        assert counts(worker, "/count", 1) == [2]
        assert worker.get("/abort").status == 500
        assert counts(worker, "/count", 1) == [1]
        no_cross_context_settlement(worker)


def test_message_answers_a_request_in_flight_when_the_instance_aborts(
    unwind_message_build: Path, tmp_path: Path
) -> None:
    # The parked request is watched from its own context and answered by the shim there.
    with serve(unwind_message_build, tmp_path) as worker:
        parked, aborted = hold_then(worker, "/abort")
        for response in (parked, aborted):
            assert response.status == 500
            assert response.body.startswith("InstanceAbortedError: "), response
        assert counts(worker, "/do/increment", 1) == [1]
        log = worker.log_caught_up()
    assert CANCELLED not in log
    assert CROSS_CONTEXT not in log


def test_generic_body_keeps_the_detail_in_the_log(
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
        # The shim answered both (its log lines), and the runtime cancelled nothing.
        worker.wait_for_log(f"[worker-build] fetch failed: PanicError: {PANIC_TEXT}")
        worker.wait_for_log("[worker-build] fetch failed: InstanceAbortedError: ")
        worker.wait_for_log("RuntimeError: unreachable")
        log = worker.log_caught_up()
    assert CANCELLED not in log


# -- handlers of the 0.8.6/0.8.7 interface, on a small hand-written glue -----------------------

FAKE_GLUE = """\
const state = (globalThis.__worker_init_state = { criticalError: false, instanceId: 1 });
const seen = [];
export function __wbg_reset_state() {}
export function __worker_init_state() { return state; }
export function fetch(request, env, ctx) {
  if (new URL(request.url).pathname === "/seen") return Promise.resolve(Response.json(seen));
  const waitUntil = ctx.waitUntil.bind(ctx);
  const response = Promise.resolve(new Response("fetched"));
  ctx.waitUntil = (promise) => {
    seen.push({ waitUntil: promise === response });
    return waitUntil(promise);
  };
  return response;
}
export async function connect(socket, env, ctx) {
  seen.push({ connect: socket, env: env.NAME, ctx: typeof ctx.waitUntil });
  return "connected";
}
"""

FAKE_ENTRY = """\
import Worker from "./index.js";

export default {
  async fetch(request, env, ctx) {
    const worker = new Worker(ctx, env);
    if (new URL(request.url).pathname === "/connect") {
      return new Response(await worker.connect("socket-1"));
    }
    return worker.fetch(request);
  },
};
"""


def bundle_fake_glue(tmp_path: Path, run_to_completion: bool) -> Path:
    """FAKE_GLUE bundled with our shim by the bundle step itself; the output directory."""
    require_tool(SAMPLES.parent / "node_modules" / ".bin" / "esbuild")
    crate = load_crate(SAMPLES / "hello-worker")
    options = resolve(RawArgs(path=crate.root), crate.root, {})
    if run_to_completion:
        options = dataclasses.replace(options, run_to_completion=True)
    ctx = BuildContext(options=options, staging=tmp_path / "staging", crate=crate)
    ctx.bindgen_dir.mkdir(parents=True)
    ctx.out_dir.mkdir(parents=True)
    (ctx.bindgen_dir / "index.js").write_text(FAKE_GLUE)
    (ctx.bindgen_dir / "index_bg.wasm").write_bytes(b"\0asm\1\0\0\0")  # an empty module
    bundle.run(ctx)
    return ctx.out_dir


def serve_fake(out: Path, tmp_path: Path) -> Workerd:
    entry = tmp_path / "entry.js"
    entry.write_text(FAKE_ENTRY)
    return Workerd(out, durable_objects={}, log_path=tmp_path / "workerd.log", entry=entry)


def test_connect_handler_gets_the_socket_env_and_ctx(tmp_path: Path) -> None:
    with serve_fake(bundle_fake_glue(tmp_path, run_to_completion=False), tmp_path) as worker:
        assert ok(worker.get("/connect")) == "connected"
        assert json.loads(ok(worker.get("/seen"))) == [
            {"connect": "socket-1", "ctx": "function"}  # env has no NAME binding
        ]


@pytest.mark.parametrize("run_to_completion", [False, True])
def test_run_to_completion_passes_the_fetch_promise_to_wait_until(
    tmp_path: Path, run_to_completion: bool
) -> None:
    with serve_fake(bundle_fake_glue(tmp_path, run_to_completion), tmp_path) as worker:
        assert ok(worker.get("/")) == "fetched"
        seen = json.loads(ok(worker.get("/seen")))
    assert seen == ([{"waitUntil": True}] if run_to_completion else [])


# -- the legacy layout: --no-panic-recovery and CUSTOM_SHIM (the Rust tool's bundler path) ------

# A CUSTOM_SHIM template as one would write it for the Rust tool: its placeholders are filled.
CUSTOM_TEMPLATE = """\
import * as glue from "./index_bg.js";
import wasmModule from "./index.wasm";
import { WorkerEntrypoint } from "cloudflare:workers";
$SNIPPET_JS_IMPORTS
export * from "./index_bg.js";

const instance = new WebAssembly.Instance(wasmModule, {
  "./index_bg.js": glue,
  $SNIPPET_WASM_IMPORTS
});
glue.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start?.();

export default class extends WorkerEntrypoint {
  async fetch(request) {
    if (new URL(request.url).pathname === "/custom") return new Response("from the custom shim");
    const response = glue.fetch(request, this.env, this.ctx);
    $WAIT_UNTIL_RESPONSE;
    return await response;
  }
}
"""
LEGACY_FILES = [".gitignore", "index.js", "package.json", "worker/index.wasm", "worker/shim.mjs"]


def legacy_build(out: Path, *flags: str, env: dict[str, str] | None = None) -> Path:
    """hello-worker (panic=abort, the fixtures' target dir) in the legacy layout."""
    full_env = tool_env()
    full_env["CARGO_TARGET_DIR"] = str(cargo_target_dir("hello-worker", "abort"))
    full_env.update(env or {})
    proc = worker_build(
        SAMPLES / "hello-worker", "--out-dir", out, "--no-loader", *flags, env=full_env
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    return out


def written(out: Path) -> list[str]:
    bookkeeping = {"worker-build.json", ".worker-build-state.json"}
    return sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and p.name not in bookkeeping
    )


def test_no_panic_recovery_writes_the_rust_tools_legacy_layout(tmp_path: Path) -> None:
    out = legacy_build(tmp_path / "build", "--no-panic-recovery")
    assert written(out) == LEGACY_FILES
    assert (out / "index.js").read_text() == bundle.LEGACY_INDEX
    shim = (out / "worker" / "shim.mjs").read_text()
    # wasm-bindgen ran without --experimental-reset-state-function/--force-enable-abort-handler
    assert "__wbg_reset_state" not in shim and "Module terminated" not in shim
    assert "__workerBuild" not in shim  # and no recovery shim
    with serve(out, tmp_path) as worker:
        assert ok(worker.get("/")) == "hello from hello-worker"
        assert counts(worker, "/count", 2) == [1, 2]
        assert counts(worker, "/do/increment", 2) == [1, 2]
        assert worker.get("/panic").status == 500


def test_custom_shim_template_is_filled_and_bundled(tmp_path: Path) -> None:
    template = tmp_path / "custom-shim.js"
    template.write_text(CUSTOM_TEMPLATE)
    env = {"CUSTOM_SHIM": str(template), "RUN_TO_COMPLETION": "1"}
    out = legacy_build(tmp_path / "build", env=env)
    assert written(out) == LEGACY_FILES
    shim = (out / "worker" / "shim.mjs").read_text()
    assert "$" + "WAIT_UNTIL_RESPONSE" not in shim and ".waitUntil(" in shim
    assert "__wbg_reset_state" not in shim
    with serve(out, tmp_path) as worker:
        assert ok(worker.get("/custom")) == "from the custom shim"
        assert ok(worker.get("/")) == "hello from hello-worker"
        assert counts(worker, "/count", 2) == [1, 2]


def test_unreadable_custom_shim_is_a_usage_error(tmp_path: Path) -> None:
    env = tool_env()
    env["CUSTOM_SHIM"] = str(tmp_path / "nope.js")
    proc = worker_build(SAMPLES / "hello-worker", "--out-dir", tmp_path / "build", env=env)
    assert proc.returncode == 2, proc.stderr
    assert "error: CUSTOM_SHIM: cannot read" in proc.stderr and "nope.js" in proc.stderr
    assert not (tmp_path / "build").exists()


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
