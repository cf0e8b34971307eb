"""The client `loader.serve()` returns: HTTP to the Worker, its triggers, RPC, its logs.

Every call opens a fresh loopback connection and is bounded by a timeout (the per-call
`timeout=`, else the client's default): a request workerd cancels (an aborted instance
never answers; workerd detects the hang and answers 500 itself) returns that response, and
one that gets no answer at all raises `RequestTimeout` instead of waiting forever. Calls are
thread-safe.

`fetch` goes straight to the Worker's socket, as production traffic would. `scheduled`,
`queue` and `call` go to the harness (templates/serve_harness.js) on a second socket, which
invokes the Worker through a service binding; values cross as JSON, with `bytes` tagged.
"""

from __future__ import annotations

import base64
import http.client
import json
import string
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from typing import Any

from worker_build.serve.server_process import ServerProcess
from worker_build.serve.workerd_config import LOOPBACK, WorkerdError

DEFAULT_TIMEOUT = 30.0  # seconds a call may take before RequestTimeout


class RequestTimeout(WorkerdError):
    """The Worker gave no answer within the timeout."""


class RpcError(Exception):
    """An RPC call (or a trigger) failed in the Worker; `name` is the JS error's name.
    An error of the user's Worker, not of worker-build (like the loader's JsError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.remote_message = message


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message  # case-insensitive: response.headers["content-type"]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class ScheduledResult:
    outcome: str  # "ok", or why it failed ("exception", ...)
    no_retry: bool


@dataclass(frozen=True)
class QueueMessage:
    """A message for `queue()`; plain values are wrapped in one with generated fields."""

    body: Any
    id: str | None = None
    timestamp: datetime | None = None
    attempts: int = 1


@dataclass(frozen=True)
class QueueResult:
    outcome: str
    ack_all: bool
    retry_batch: bool
    explicit_acks: tuple[str, ...]
    retry_messages: tuple[str, ...]


def encode(value: Any) -> Any:
    """Python -> JSON for the harness: bytes become {"$bytes": base64}."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


@dataclass
class Logs:
    """workerd's output (the Worker's console lines among it), read from its log file."""

    _process: ServerProcess
    _start: int = field(default=0)

    @property
    def text(self) -> str:
        return self._process.log_text()[self._start :]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def mark(self) -> int:
        """A position to pass to `since()`: the length of the log so far."""
        return len(self._process.log_text())

    def since(self, mark: int) -> str:
        return self._process.log_text()[mark:]

    def wait_for(self, text: str, *, since: int = 0, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait until `text` appears in the log after `since`; returns the log from there.
        workerd writes console output as the Worker runs, but a test must not assume it is
        on disk the moment a response arrives."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.since(since)
            if text in found:
                return found
            if time.monotonic() >= deadline:
                raise RequestTimeout(
                    f"{text!r} did not appear in workerd's log within {timeout:g} s",
                    "look at worker.logs.text",
                )
            time.sleep(0.01)


class Worker:
    """A Worker served by workerd (or miniflare) on 127.0.0.1. Made by `serve()`; valid
    inside its `with`."""

    def __init__(
        self,
        process: ServerProcess,
        *,
        crons: tuple[str, ...] = (),
        timeout: float = DEFAULT_TIMEOUT,
        startup_seconds: float = 0.0,
        runtime: str = "workerd",
    ) -> None:
        self._process = process
        self.port = process.ports["http"]
        self.control_port = process.ports["control"]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.timeout = timeout
        self.startup_seconds = startup_seconds  # from spawning the server to its sockets
        self.runtime = runtime  # "workerd" or "miniflare": which one serves the build
        self.logs = Logs(process)
        self.rpc = _Rpc(self.call)
        self._crons = crons
        self._next_message = 0

    @property
    def running(self) -> bool:
        return self._process.running

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _request(
        self,
        port: int,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> Response:
        limit = self.timeout if timeout is None else timeout
        if not self.running:
            raise WorkerdError(
                f"{self.runtime} is not running\n{self._process.log_tail()}",
                "serve() the build again",
            )
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=limit)
        try:
            conn.request(method, path, body=body, headers=dict(headers))
            answer = conn.getresponse()
            return Response(answer.status, answer.msg, answer.read())
        except TimeoutError as exc:
            raise RequestTimeout(
                f"{method} {path}: no response within {limit:g} s\n{self._process.log_tail()}",
                "pass a larger timeout= if the Worker is slow",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise WorkerdError(
                f"{method} {path}: {type(exc).__name__}: {exc}\n{self._process.log_tail()}",
                "see workerd's log above",
            ) from exc
        finally:
            conn.close()

    def fetch(
        self,
        path: str = "/",
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> Response:
        """One HTTP request to the Worker's fetch handler. `path` may carry a query."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        # Non-ASCII letters and spaces percent-encoded (UTF-8), as a browser sends them;
        # what is already encoded and URL punctuation stay as they are.
        path = urllib.parse.quote(path, safe=string.punctuation)
        sent = dict(headers or {})
        data = body.encode() if isinstance(body, str) else body
        if json is not None:
            if data is not None:
                raise ValueError("pass body= or json=, not both")
            data = _json_dumps(json).encode()
            sent.setdefault("content-type", "application/json")
        return self._request(self.port, method.upper(), path, sent, data, timeout)

    def _control(self, route: str, payload: Mapping[str, Any], timeout: float | None) -> Any:
        response = self._request(
            self.control_port,
            "POST",
            f"/{route}",
            {"content-type": "application/json"},
            _json_dumps(payload).encode(),
            timeout,
        )
        try:
            answer = response.json()
        except ValueError as exc:
            raise WorkerdError(
                f"{route}: the harness answered {response.status}: {response.text[:500]}",
                "see worker.logs.text",
            ) from exc
        if not answer.get("ok"):
            error = answer.get("error", {})
            raise RpcError(str(error.get("name", "Error")), str(error.get("message", "")))
        return decode(answer.get("value"))

    def scheduled(
        self,
        cron: str | None = None,
        *,
        scheduled_time: datetime | float | None = None,
        timeout: float | None = None,
    ) -> ScheduledResult:
        """Run the Worker's scheduled handler once. `cron` defaults to the first of the
        configuration's `[triggers] crons` (else ""); `scheduled_time` to now."""
        if cron is None:
            cron = self._crons[0] if self._crons else ""
        when = _millis(scheduled_time)
        value = self._control("scheduled", {"cron": cron, "scheduledTime": when}, timeout)
        return ScheduledResult(str(value["outcome"]), bool(value.get("noRetry", False)))

    def queue(
        self,
        queue: str,
        messages: Iterable[QueueMessage | Any],
        *,
        timeout: float | None = None,
    ) -> QueueResult:
        """Deliver one batch to the Worker's queue handler. Bodies travel as JSON (bytes as
        a Uint8Array); the result says which messages were acked or retried."""
        batch = []
        for item in messages:
            message = item if isinstance(item, QueueMessage) else QueueMessage(item)
            self._next_message += 1
            batch.append(
                {
                    "id": message.id or f"message-{self._next_message}",
                    "timestamp": _millis(message.timestamp),
                    "body": encode(message.body),
                    "attempts": message.attempts,
                }
            )
        value = self._control("queue", {"queue": queue, "messages": batch}, timeout)
        retry_batch = value.get("retryBatch") or {}
        return QueueResult(
            outcome=str(value["outcome"]),
            ack_all=bool(value.get("ackAll", False)),
            retry_batch=bool(retry_batch.get("retry", False)),
            explicit_acks=tuple(str(a) for a in value.get("explicitAcks", [])),
            retry_messages=tuple(str(r["msgId"]) for r in value.get("retryMessages", [])),
        )

    def call(self, method: str, *args: Any, timeout: float | None = None) -> Any:
        """Call an RPC method of the Worker's default export (a plain exported Rust
        function). A failure in the Worker raises RpcError with the JS error's name."""
        return self._control("rpc", {"method": method, "args": encode(list(args))}, timeout)


class _Rpc:
    """`worker.rpc.NAME(*args)` is `worker.call("NAME", *args)`."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self._call = call

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self._call(name, *args, **kwargs)


def _millis(when: datetime | float | None) -> float:
    if when is None:
        return time.time() * 1000
    if isinstance(when, datetime):
        aware = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
        return aware.timestamp() * 1000
    return float(when) * 1000


def _json_dumps(value: Any) -> str:
    return json.dumps(encode(value))
