"""The Lambda Runtime API, served on 127.0.0.1 for one local function.

The function's runtime client (our bootstrap, or AWS's ``awslambdaric``)
long-polls ``GET /2018-06-01/runtime/invocation/next`` and posts each result
to ``…/invocation/{id}/response`` or ``…/error``; init failures go to
``…/init/error``. :meth:`RuntimeApi.invoke` queues an event and waits for
its outcome. A response over Lambda's synchronous payload limit fails the
invocation as Lambda does (``Function.ResponseSizeTooLarge``): what works
locally must not be a 500 once deployed.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .hosts import name_of

_PREFIX = "/2018-06-01/runtime"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_STOP = object()
#: Lambda's limit on a synchronous invocation's response, the serialized payload.
MAX_RESPONSE_BYTES = 6_291_556
_TOO_LARGE = {
    "errorType": "Function.ResponseSizeTooLarge",
    "errorMessage": f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
}


@dataclass
class Invocation:
    """One event on its way through the runtime, and what came back."""

    event: Any
    deadline: float  # wall clock, seconds
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    done: threading.Event = field(default_factory=threading.Event)
    response: Any = None
    error: dict[str, Any] | None = None


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server that does not print a traceback when a client
    goes away mid-answer (a runtime killed on timeout, a browser tab closed)."""

    daemon_threads = True
    request_queue_size = 128  # a browser opens many connections at once; socketserver's 5 resets some

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent for a client that went away; the usual traceback otherwise."""
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            super().handle_error(request, client_address)


class RuntimeApi:
    """A loopback Runtime API with an invocation queue."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._queue: queue.Queue[Any] = queue.Queue()
        self._open: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self.init_error: dict[str, Any] | None = None
        self.init_failed = threading.Event()
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._httpd.server_address[:2]
        return f"{host if isinstance(host, str) else host.decode()}:{port}"

    def submit(self, event: Any, timeout: float) -> Invocation:
        """Queue ``event``; the runtime client picks it up on its next poll."""
        invocation = Invocation(event, time.time() + timeout)
        with self._lock:
            self._open[invocation.request_id] = invocation
        self._queue.put(invocation)
        return invocation

    def forget(self, invocation: Invocation) -> None:
        """Stop tracking ``invocation``: its caller is done with it (answered, failed or timed out)."""
        with self._lock:
            self._open.pop(invocation.request_id, None)

    def reset(self) -> None:
        """Drop queued events and init state (before a fresh runtime starts)."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self.init_error = None
        self.init_failed.clear()

    def close(self) -> None:
        """Stop the runtime's long poll and the server."""
        self._queue.put(_STOP)
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    return json.loads(raw) if raw else None
                except ValueError:
                    return {"errorMessage": raw.decode(errors="replace"), "errorType": "Runtime.InvalidResponse"}

            def _from_a_browser(self) -> bool:
                """A request no runtime client sends: a browser's (it adds
                ``Origin`` or ``Sec-Fetch-*`` even to no-cors requests to
                127.0.0.1), or one under another ``Host`` (DNS rebinding). A page
                could otherwise take the next event (its token) or fail the runtime."""
                host = self.headers.get("Host")
                if self.headers.get("Origin") is not None or self.headers.get("Sec-Fetch-Site") is not None or (
                        host is not None and name_of(host) not in _LOOPBACK):
                    self.close_connection = True
                    self._reply(403, b'{"errorMessage":"not a runtime client"}')
                    return True
                return False

            def do_GET(self) -> None:  # noqa: N802
                if self._from_a_browser():
                    return
                if self.path != f"{_PREFIX}/invocation/next":
                    self._reply(404)
                    return
                invocation = api._queue.get()
                if invocation is _STOP:
                    api._queue.put(_STOP)
                    self._reply(410, b'{"errorMessage":"shutting down"}')
                    return
                body = json.dumps(invocation.event).encode()
                self._reply(
                    200,
                    body,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(int(invocation.deadline * 1000)),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                    },
                )

            def do_POST(self) -> None:  # noqa: N802
                if self._from_a_browser():
                    return
                path = self.path.removeprefix(_PREFIX)
                length = int(self.headers.get("Content-Length") or 0)
                too_large = path.endswith("/response") and length > MAX_RESPONSE_BYTES
                body = self._body()
                if path == "/init/error":
                    api.init_error = body if isinstance(body, dict) else {"errorMessage": str(body)}
                    api.init_failed.set()
                    self._reply(202, b'{"status":"OK"}')
                    return
                parts = path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    with api._lock:
                        invocation = api._open.pop(parts[1], None)
                    if invocation is None:
                        self._reply(400, b'{"errorMessage":"unknown request id"}')
                        return
                    if too_large:
                        invocation.error = dict(_TOO_LARGE)
                        invocation.done.set()
                        self._reply(413, json.dumps({"errorType": "RequestEntityTooLarge",
                                                     "errorMessage": _TOO_LARGE["errorMessage"]}).encode())
                        return
                    if parts[2] == "response":
                        invocation.response = body
                    else:
                        invocation.error = body if isinstance(body, dict) else {"errorMessage": str(body)}
                    invocation.done.set()
                    self._reply(202, b'{"status":"OK"}')
                    return
                self._reply(404)

        return Handler
