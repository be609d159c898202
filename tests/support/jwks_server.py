"""A real HTTP JWKS server on 127.0.0.1 with fault modes and a fetch counter."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from clerk_serverless_local.runtime_api import QuietServer
from typing import Any


class JwksServer:
    """Serves ``/jwks`` (and ``/v1/jwks``, ``/.well-known/jwks.json``).

    ``mode`` picks the behaviour of the next responses:

    ``ok``            the current ``keys`` as a JWKS document
    ``status``        ``status`` code with optional ``headers`` (e.g. Retry-After)
    ``garbage``       200 with a non-JSON body
    ``no-rsa``        200 with a JWKS holding only an EC key
    ``no-keys``       200 with ``{}``
    ``oversized``     200 with a body over 1 MiB
    ``oversized-chunked`` the same, without Content-Length
    ``slow``          waits ``delay`` seconds before answering
    ``trickle``       sends the body one byte every ``delay`` seconds
    ``truncated``     Content-Length larger than the body, then closes
    ``redirect``      302 to another URL
    ``refuse``        closes the connection without answering
    """

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.mode = "ok"
        self.status = 503
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "JwksServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def set(self, mode: str = "ok", **kw: Any) -> None:
        self.mode = mode
        for name, value in kw.items():
            setattr(self, name, value)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                with server._lock:
                    server.count += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    server.requests.append({k.lower(): v for k, v in self.headers.items()})
                try:
                    self._answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                mode = server.mode
                if mode == "refuse":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "slow":
                    time.sleep(server.delay)
                document = json.dumps({"keys": server.keys}).encode()
                json_type = {"Content-Type": "application/json"}
                if mode in ("ok", "slow"):
                    self._send(200, document, json_type, len(document))
                elif mode == "status":
                    self._send(server.status, b'{"error":"x"}', {**json_type, **server.headers}, 13)
                elif mode == "garbage":
                    self._send(200, b"<html>not json</html>", {"Content-Type": "text/html"}, 21)
                elif mode == "no-rsa":
                    body = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"}]}).encode()
                    self._send(200, body, json_type, len(body))
                elif mode == "no-keys":
                    self._send(200, b"{}", json_type, 2)
                elif mode == "oversized":
                    body = b'{"keys":[' + b" " * (1024 * 1024 + 10) + b"]}"
                    self._send(200, body, json_type, len(body))
                elif mode == "oversized-chunked":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for _ in range(20):
                            self.wfile.write(b" " * 65536)
                    except OSError:
                        pass
                elif mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(document)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for byte in document:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            time.sleep(server.delay)
                    except OSError:
                        pass
                elif mode == "truncated":
                    self._send(200, document[: len(document) // 2], json_type, len(document))
                elif mode == "redirect":
                    self._send(302, b"", {"Location": "https://evil.example/jwks"}, 0)
                else:
                    raise AssertionError(f"unknown mode {mode}")

        return Handler
