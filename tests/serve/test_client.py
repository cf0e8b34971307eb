"""worker_build.serve.client against loopback stand-ins for workerd's two sockets (error paths
and value encoding; the real runtime is in tests/integration/test_serve_real.py)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from worker_build.serve.client import RequestTimeout, RpcError, Worker, decode, encode
from worker_build.serve.workerd_config import WorkerdError


class StubProcess:
    """What Worker needs of a WorkerdProcess: ports, liveness, the log."""

    def __init__(self, http: int, control: int) -> None:
        self.ports = {"http": http, "control": control}
        self.running = True
        self.pid = 1

    def log_text(self) -> str:
        return "line one\nline two\n"

    def log_tail(self, lines: int = 40) -> str:
        return "line two"


class Control(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, Any]] = {}
    seen: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["content-length"])))
        Control.seen.append((self.path, payload))
        body = json.dumps(Control.answers[self.path]).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[Worker, socket.socket]]:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    server = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Control.seen.clear()
    process = StubProcess(silent.getsockname()[1], server.server_address[1])
    try:
        yield Worker(process, crons=("0 * * * *",), timeout=0.3), silent  # type: ignore[arg-type]
    finally:
        server.shutdown()
        server.server_close()
        silent.close()


def test_bytes_cross_as_tagged_base64_both_ways() -> None:
    value = {"a": b"\x00\xff", "b": [bytearray(b"x"), 1, "s"], "c": None}
    wire = encode(value)
    assert wire == {"a": {"$bytes": "AP8="}, "b": [{"$bytes": "eA=="}, 1, "s"], "c": None}
    assert decode(json.loads(json.dumps(wire))) == {
        "a": b"\x00\xff",
        "b": [b"x", 1, "s"],
        "c": None,
    }


def test_a_request_without_an_answer_times_out_with_the_log_tail(
    stub: tuple[Worker, socket.socket],
) -> None:
    worker, _ = stub
    with pytest.raises(RequestTimeout, match=r"GET /slow: no response within 0\.3 s") as info:
        worker.fetch("/slow")
    assert "line two" in info.value.message and "timeout=" in (info.value.fix or "")
    with pytest.raises(RequestTimeout, match=r"within 0\.1 s"):
        worker.fetch("/slow", timeout=0.1)


def test_fetch_arguments_are_checked(stub: tuple[Worker, socket.socket]) -> None:
    worker, _ = stub
    with pytest.raises(ValueError, match="must start with '/'"):
        worker.fetch("no-slash")
    with pytest.raises(ValueError, match="body= or json="):
        worker.fetch("/", body="x", json={})


def test_triggers_and_rpc_go_to_the_control_socket(stub: tuple[Worker, socket.socket]) -> None:
    worker, _ = stub
    Control.answers = {
        "/scheduled": {"ok": True, "value": {"outcome": "ok", "noRetry": False}},
        "/queue": {
            "ok": True,
            "value": {
                "outcome": "ok",
                "ackAll": False,
                "retryBatch": {"retry": False},
                "explicitAcks": ["message-1"],
                "retryMessages": [{"msgId": "x"}],
            },
        },
        "/rpc": {"ok": True, "value": {"$bytes": "AQI="}},
    }
    assert worker.scheduled(scheduled_time=1.5).outcome == "ok"
    result = worker.queue("jobs", [b"\x01", {"k": 1}])
    assert (result.explicit_acks, result.retry_messages) == (("message-1",), ("x",))
    assert worker.rpc.bytes_back(b"\x01\x02") == b"\x01\x02"
    (_, scheduled), (_, queued), (_, rpc) = Control.seen
    assert scheduled == {"cron": "0 * * * *", "scheduledTime": 1500.0}  # the first cron
    assert [m["id"] for m in queued["messages"]] == ["message-1", "message-2"]
    assert queued["messages"][0]["body"] == {"$bytes": "AQ=="}
    assert rpc == {"method": "bytes_back", "args": [{"$bytes": "AQI="}]}


def test_a_failure_in_the_worker_is_an_rpc_error(stub: tuple[Worker, socket.socket]) -> None:
    worker, _ = stub
    Control.answers = {"/rpc": {"ok": False, "error": {"name": "TypeError", "message": "no"}}}
    with pytest.raises(RpcError, match="TypeError: no") as info:
        worker.call("missing")
    assert info.value.name == "TypeError"


def test_calls_on_a_stopped_server_fail_at_once(stub: tuple[Worker, socket.socket]) -> None:
    worker, _ = stub
    worker._process.running = False  # type: ignore[misc]
    with pytest.raises(WorkerdError, match="workerd is not running"):
        worker.fetch("/")


def test_logs_since_a_mark(stub: tuple[Worker, socket.socket]) -> None:
    worker, _ = stub
    assert worker.logs.lines == ["line one", "line two"]
    assert worker.logs.since(len("line one\n")) == "line two\n"
    assert worker.logs.wait_for("two", timeout=0) == "line one\nline two\n"
    with pytest.raises(RequestTimeout, match="'three' did not appear"):
        worker.logs.wait_for("three", timeout=0)
