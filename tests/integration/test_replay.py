"""--replay-on-abort in the real runtime (workerd on loopback).

The fixture crate tests/data/replay-worker is built by the real `worker-build` CLI, with
the option (panic=abort and --panic-unwind), without it, and with rules of its own in
Cargo.toml. Nothing here depends on timing: a request that must be in flight when another
aborts waits at a gate (`/wait/NAME`, a Durable Object request that only `/gate/release/NAME`
ends), and the test sends the abort only once the gate logged `gate NAME parked`; a replay
is seen the same way (the gate logs the replayed request parking again). Lines that must be
absent are looked for once the log has caught up (`log_caught_up`, harness/workerd.py).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.paths import CACHE, REPO
from harness.workerd import Response, Workerd, WorkerdError
from tests.support.builds import tool_env, worker_build

pytestmark = pytest.mark.slow

CRATE = REPO / "tests" / "data" / "replay-worker"
# The shim's replay needs AsyncLocalStorage.
COMPATIBILITY_FLAGS = ("nodejs_als",)
REPLAYING = "[worker-build] replaying "
CANCELLED = "The Workers runtime canceled this request"
# What the runtime logs for a request the shim ended because its instance died.
ABORTED = "InstanceAbortedError: The Wasm instance aborted before this call finished"
CROSS_CONTEXT = "different request context"
WIDENED_RULES = '["POST /wait/"]'


# -- builds: the real CLI, once per module ------------------------------------------------------


def build(out: Path, variant: str, *flags: str, crate: Path = CRATE) -> Path:
    """The crate built into `out`; `variant` is abort (panic=abort) or unwind."""
    env = tool_env()
    env["CARGO_TARGET_DIR"] = str(CACHE / "test-target" / f"replay-worker-{variant}")
    extra = ("--panic-unwind",) if variant == "unwind" else ()
    proc = worker_build(crate, "--out-dir", out, "--no-loader", *extra, *flags, env=env)
    if proc.returncode != 0:
        pytest.fail(f"worker-build {crate.name} ({variant}) failed ({proc.returncode}):\n"
                    f"{proc.stderr[-6000:]}", pytrace=False)  # fmt: skip
    return out


BUILDS = CACHE / "test-builds"


@pytest.fixture(scope="module")
def replay_abort() -> Path:
    return build(BUILDS / "replay-worker-abort", "abort", "--replay-on-abort")


@pytest.fixture(scope="module")
def replay_unwind() -> Path:
    return build(BUILDS / "replay-worker-unwind", "unwind", "--replay-on-abort")


@pytest.fixture(scope="module")
def replay_message() -> Path:
    return build(
        BUILDS / "replay-worker-message", "abort", "--replay-on-abort", "--panic-body", "message"
    )


@pytest.fixture(scope="module")
def plain_abort() -> Path:
    return build(BUILDS / "replay-worker-plain", "abort")


@pytest.fixture(scope="module")
def widened_abort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the crate whose Cargo.toml replaces the default rules."""
    crate = tmp_path_factory.mktemp("widened") / "replay-worker"
    shutil.copytree(CRATE, crate, ignore=shutil.ignore_patterns("build", "target"))
    with (crate / "Cargo.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(f"\n[package.metadata.worker-build]\nreplay-on-abort = {WIDENED_RULES}\n")
    return build(BUILDS / "replay-worker-widened", "abort", crate=crate)


def serve(build_dir: Path, tmp_path: Path) -> Workerd:
    return Workerd(
        build_dir,
        durable_objects={"GATES": "Gates"},
        log_path=tmp_path / "workerd.log",
        compatibility_flags=COMPATIBILITY_FLAGS,
    )


# In front of the build: routes that deliver a scheduled event and a queue batch to the
# Worker itself (service binding SELF), answering the runtime's outcome, and that reach the
# gates without the shim's fetch (which holds new requests while replays run).
TRIGGER_ENTRY = """\
import Worker, { Gates } from "./index.js";
export { Gates };
// New requests are held while replays run for at most this long after an abort: long
// enough that the bound never ends a hold during a test.
globalThis.__workerBuildReplayHoldMs = 120000;
export default class extends Worker {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/direct/")) {  // to the gates, not through Rust's fetch
      const gates = this.env.GATES.get(this.env.GATES.idFromName("gates"));
      return gates.fetch("https://gate/" + path.slice("/direct/".length));
    }
    if (path === "/trigger/scheduled") {
      return Response.json(await this.env.SELF.scheduled({ cron: "5 4 * * *" }));
    }
    if (path === "/trigger/queue") {
      const message = { id: "m1", timestamp: new Date(), body: "job", attempts: 1 };
      return Response.json(await this.env.SELF.queue("jobs", [message]));
    }
    return super.fetch(request);
  }
}
"""


def serve_with_triggers(build_dir: Path, tmp_path: Path) -> Workerd:
    entry = tmp_path / "entry.js"
    entry.write_text(TRIGGER_ENTRY)
    return Workerd(
        build_dir,
        durable_objects={"GATES": "Gates"},
        log_path=tmp_path / "workerd.log",
        entry=entry,
        service_bindings={"SELF": "main"},
        compatibility_flags=(*COMPATIBILITY_FLAGS, "service_binding_extra_handlers"),
    )


@pytest.fixture
def worker(replay_abort: Path, tmp_path: Path) -> Iterator[Workerd]:
    with serve(replay_abort, tmp_path) as running:
        yield running


# -- helpers ------------------------------------------------------------------------------------


class InFlight:
    """A request sent from a thread of its own; `response()` waits for its answer."""

    def __init__(self, worker: Workerd, method: str, path: str, body: str | None) -> None:
        self._answer: list[Response] = []
        self._errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._send, args=(worker, method, path, body), daemon=True
        )
        self._thread.start()

    def _send(self, worker: Workerd, method: str, path: str, body: str | None) -> None:
        try:
            self._answer.append(worker.request(method, path, body, timeout=120))
        except BaseException as e:  # reported by the test's thread
            self._errors.append(e)

    def response(self) -> Response:
        self._thread.join(150)
        assert not self._thread.is_alive(), "the request never ended"
        assert not self._errors, self._errors
        return self._answer[0]


def park(
    worker: Workerd, gate: str, method: str = "GET", body: str | None = None, path: str = ""
) -> InFlight:
    """A request waiting at `gate` (`path`, default /wait/GATE): returned once the gate
    logged that it parked."""
    since = worker.log_mark()
    request = InFlight(worker, method, path or f"/wait/{gate}", body)
    worker.wait_for_log(f"gate {gate} parked", since=since)
    return request


def release(worker: Workerd, gate: str, direct: bool = False) -> None:
    """Open `gate`: through the Worker's fetch, or `direct`ly (serve_with_triggers only)."""
    answer = worker.get(f"/direct/release/{gate}" if direct else f"/gate/release/{gate}")
    assert (answer.status, answer.body) == (200, "released"), answer


def resets(worker: Workerd) -> int:
    answer = worker.get("/resets")
    assert answer.status == 200, answer
    return int(answer.body)


def lost(response: Response) -> None:
    assert response.status == 500, response


def caught_up(worker: Workerd) -> str:
    """The whole log, caught up; workerd's rule held throughout."""
    log = worker.log_caught_up()
    assert CROSS_CONTEXT not in log, log[-4000:]
    return log


def replay_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if REPLAYING in line]


# -- without the option: the request in flight is lost (what the option is for) -----------------


def test_without_the_option_a_request_in_flight_is_lost(plain_abort: Path, tmp_path: Path) -> None:
    with serve(plain_abort, tmp_path) as worker:
        victim = park(worker, "v")
        lost(worker.get("/abort"))
        lost(victim.response())  # the runtime cancelled it
        worker.wait_for_log(CANCELLED, count=2)
        log = caught_up(worker)
    assert replay_lines(log) == []
    assert "node:async_hooks" not in (plain_abort / "index.js").read_text()


def test_without_the_compatibility_flag_the_worker_does_not_start(
    replay_abort: Path, tmp_path: Path
) -> None:
    worker = Workerd(
        replay_abort, durable_objects={"GATES": "Gates"}, log_path=tmp_path / "workerd.log"
    )
    with pytest.raises(WorkerdError) as err:
        worker.start()
    worker.stop()
    assert 'No such module "node:async_hooks"' in str(err.value) + worker.log_text()


# -- a safe request in flight runs again on the fresh instance ----------------------------------


@pytest.mark.parametrize("variant", ["abort", "unwind"])
def test_a_safe_request_in_flight_is_replayed_on_the_fresh_instance(
    variant: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    build_dir = request.getfixturevalue(f"replay_{variant}")
    with serve(build_dir, tmp_path) as worker:
        since = worker.log_mark()
        victim = park(worker, "v")
        lost(worker.get("/abort"))
        worker.wait_for_log("gate v parked", count=2, since=since)  # the replay waits again
        assert resets(worker) == 1
        release(worker, "v")
        answer = victim.response()
        assert (answer.status, answer.body) == (200, "GET v "), answer
        # The request that aborted ends with the shim's error, reaching the runtime.
        worker.wait_for_log(ABORTED)
        log = caught_up(worker)
    assert [line.split(REPLAYING)[1] for line in replay_lines(log)] == [
        f"GET http://127.0.0.1:{worker.port}/wait/v on the fresh instance"
    ]
    assert log.count(ABORTED) == 1 and CANCELLED not in log
    # The object's own request on the dead instance was not replayed in the object: only the
    # replayed fetch parked there again.
    assert log.count("gate v parked") == 2


def test_with_the_shims_own_answers_what_is_not_replayed_gets_the_shims_500(
    replay_message: Path, tmp_path: Path
) -> None:
    with serve(replay_message, tmp_path) as worker:
        since = worker.log_mark()
        posted = park(worker, "p", method="POST", body="x")
        victim = park(worker, "v")
        aborted = worker.get("/abort")
        worker.wait_for_log("gate v parked", count=2, since=since)
        release(worker, "v")
        answer = victim.response()
        log = caught_up(worker)
        not_replayed = posted.response()
    assert (answer.status, answer.body) == (200, "GET v "), answer
    for response in (aborted, not_replayed):
        assert response.status == 500, response
        assert response.body.startswith("InstanceAbortedError: "), response
    assert CANCELLED not in log
    assert len(replay_lines(log)) == 1


# -- never the request that caused the abort ----------------------------------------------------

# Where the abort happens: in the export call itself, in the callback that resumes the handler
# after an await, after a timer, inside the Durable Object the request called, and a panic
# (an abort in a panic=abort build).
CULPRITS = ["/abort", "/abort-after/c", "/abort-after-timer", "/gate/abort", "/panic"]


@pytest.mark.parametrize("culprit", CULPRITS)
def test_the_request_that_aborted_is_not_replayed(worker: Workerd, culprit: str) -> None:
    since = worker.log_mark()
    victim = park(worker, "v")
    if culprit.startswith("/abort-after/"):
        aborting = park(worker, "c", path=culprit)
        release(worker, "c")  # it resumes, then traps
        lost(aborting.response())
    else:
        lost(worker.get(culprit))
    worker.wait_for_log("gate v parked", count=2, since=since)
    assert resets(worker) == 1  # a replayed culprit would have aborted the fresh instance too
    release(worker, "v")
    assert victim.response().status == 200
    log = caught_up(worker)
    assert len(replay_lines(log)) == 1 and "/wait/v " in replay_lines(log)[0], log[-4000:]


def test_the_request_that_aborted_after_an_await_is_not_replayed_unwind(
    replay_unwind: Path, tmp_path: Path
) -> None:
    with serve(replay_unwind, tmp_path) as worker:
        victim = park(worker, "v")
        aborting = park(worker, "c", path="/abort-after/c")
        release(worker, "c")
        lost(aborting.response())
        worker.wait_for_log("gate v parked", count=2)
        assert resets(worker) == 1
        release(worker, "v")
        assert victim.response().status == 200
        assert len(replay_lines(caught_up(worker))) == 1


# -- at most once, and a bound when aborts come faster than replays finish ----------------------


def test_a_request_is_replayed_at_most_once(worker: Workerd) -> None:
    since = worker.log_mark()
    victim = park(worker, "v")
    lost(worker.get("/abort"))
    worker.wait_for_log("gate v parked", count=2, since=since)
    lost(worker.get("/abort"))  # kills the replay too
    lost(victim.response())
    assert resets(worker) == 2
    assert len(replay_lines(caught_up(worker))) == 1


def test_replay_pauses_when_aborts_come_faster_than_replays_finish(worker: Workerd) -> None:
    # Four replays lost in a row pause replay. No other request may finish while it is paused
    # (one that does ends the pause), so the test waits on the log alone.
    gates = ["q1", "q2", "q3", "q4"]
    since = worker.log_mark()
    victims = [park(worker, gate) for gate in gates]
    lost(worker.get("/abort"))
    for gate in gates:
        worker.wait_for_log(f"gate {gate} parked", count=2, since=since)
    lost(worker.get("/abort"))
    worker.wait_for_log("[worker-build] replay paused", since=since)
    for victim in victims:
        lost(victim.response())
    late = park(worker, "q5")
    lost(worker.get("/abort"))
    worker.wait_for_log("/wait/q5: replay is paused", since=since)
    lost(late.response())
    # A request that started after the pause finishes: replay resumes.
    assert worker.get("/").status == 200
    worker.wait_for_log("[worker-build] replay resumed", since=since)
    mark = worker.log_mark()
    resumed = park(worker, "q6")
    lost(worker.get("/abort"))
    worker.wait_for_log("gate q6 parked", since=mark, count=2)
    release(worker, "q6")
    assert resumed.response().status == 200
    assert len(replay_lines(caught_up(worker))) == 5  # q1-q4 once each, q6


# -- what is replayed: safe methods by default, Cargo.toml's rules otherwise --------------------


def test_unsafe_methods_are_left_to_the_runtime_by_default(worker: Workerd) -> None:
    posted = park(worker, "p", method="POST", body="order #1")
    lost(worker.get("/abort"))
    lost(posted.response())
    worker.wait_for_log(CANCELLED)  # not watched: left to the runtime, as without the option
    worker.wait_for_log(ABORTED)  # the request that aborted
    log = caught_up(worker)
    assert replay_lines(log) == [] and log.count(CANCELLED) == 1


def test_cargo_toml_rules_replace_the_defaults_and_a_body_is_sent_again(
    widened_abort: Path, tmp_path: Path
) -> None:
    body = "héllo ✓ ünïcode"
    with serve(widened_abort, tmp_path) as worker:
        since = worker.log_mark()
        posted = park(worker, "p", method="POST", body=body)
        fetched = park(worker, "g")  # GET: not in this crate's rules
        lost(worker.get("/abort"))
        worker.wait_for_log("gate p parked", count=2, since=since)
        lost(fetched.response())
        release(worker, "p")
        answer = posted.response()
        log = caught_up(worker)
    assert (answer.status, answer.body) == (200, f"POST p {body}"), answer
    assert len(replay_lines(log)) == 1 and "POST " in replay_lines(log)[0]


# -- scheduled events and queue batches are not replayed -----------------------------------------


def test_scheduled_events_and_queue_batches_are_not_replayed(
    replay_abort: Path, tmp_path: Path
) -> None:
    with serve_with_triggers(replay_abort, tmp_path) as worker:
        since = worker.log_mark()
        scheduled = park(worker, "scheduled", path="/trigger/scheduled")
        batch = park(worker, "queue", path="/trigger/queue")
        victim = park(worker, "v")
        lost(worker.get("/abort"))
        worker.wait_for_log("gate v parked", count=2, since=since)  # the fetch is replayed
        release(worker, "v", direct=True)
        assert victim.response().status == 200
        # The runtime ends both: the batch is not acknowledged, so the queue retries it.
        scheduled_outcome, batch_outcome = scheduled.response(), batch.response()
        log = caught_up(worker)
    assert scheduled_outcome.status == 200 and '"outcome":"ok"' not in scheduled_outcome.body
    assert batch_outcome.status == 200 and '"outcome":"ok"' not in batch_outcome.body
    assert log.count("scheduled 5 4 * * * started") == 1
    assert log.count("queue jobs started") == 1
    assert "scheduled finished" not in log and "queue finished" not in log
    assert len(replay_lines(log)) == 1


# -- new requests wait while replays run --------------------------------------------------------


def test_a_new_request_waits_until_the_replays_finish(replay_abort: Path, tmp_path: Path) -> None:
    # Without the hold, the second /abort would kill the replay, which is not replayed again.
    with serve_with_triggers(replay_abort, tmp_path) as worker:
        since = worker.log_mark()
        victim = park(worker, "v")
        lost(worker.get("/abort"))
        worker.wait_for_log("gate v parked", count=2, since=since)
        poison = InFlight(worker, "GET", "/abort", None)
        worker.wait_for_log(
            f"holding GET http://127.0.0.1:{worker.port}/abort until 1 repl", since=since
        )
        release(worker, "v", direct=True)
        assert victim.response() == Response(200, "GET v ")
        lost(poison.response())  # admitted once the replay finished, then aborted
        assert resets(worker) == 2
        assert len(replay_lines(caught_up(worker))) == 1
