"""A loopback server speaking the Backend API's shape for GET /v1/users/{id}."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from clerk_serverless_local.runtime_api import QuietServer
from typing import Any

USER = {
    "object": "user",
    "id": "user_2abc",
    "username": None,
    "first_name": "Ada",
    "last_name": "Lovelace",
    "primary_email_address_id": "idn_1",
    "email_addresses": [{"object": "email_address", "id": "idn_1", "email_address": "ada@example.com",
                         "verification": {"status": "verified", "strategy": "email_code"}}],
    "public_metadata": {"plan": "pro"},
    "created_at": 1700000000000,
    "updated_at": 1700000000000,
}


class BackendApiServer:
    """``mode``: ``ok``, ``status`` (``status`` code), ``slow`` (``delay``), ``garbage``."""

    def __init__(self, secret_key: str) -> None:
        self.secret_key = secret_key
        self.mode = "ok"
        self.status = 500
        self.delay = 0.0
        self.users = {USER["id"]: USER}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {server.secret_key}":
                    self._send(401, {"errors": [{"code": "authentication_invalid"}]})
                    return
                if server.mode == "slow":
                    time.sleep(server.delay)
                if server.mode == "status":
                    self._send(server.status, {"errors": [{"code": "internal"}]})
                    return
                if server.mode == "garbage":
                    self._send(200, b"<html>")
                    return
                user_id = self.path.removeprefix("/v1/users/")
                if user_id in server.users:
                    self._send(200, server.users[user_id])
                else:
                    self._send(404, {"errors": [{"code": "resource_not_found"}]})

        self._httpd = QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
