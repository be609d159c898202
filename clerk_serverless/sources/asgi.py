"""ASGI ``http`` scopes (Starlette, FastAPI, under uvicorn or Mangum).

Headers arrive as a list of lowercase ``(name, value)`` byte pairs, possibly
repeated; cookies in ``cookie`` header lines; the query as raw bytes. The
answer is sent by the middleware through ASGI, not rendered into an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from ..errors import MalformedEventError
from .base import WEBSOCKET, MultiValueRequest, Request


class AsgiScope:
    """Reads an ASGI ``http`` scope into a :class:`Request`."""

    name = "asgi"
    adds_cors = False  # CORS comes from the gateway's (or app's) configuration

    def read(self, scope: Mapping[str, Any]) -> Request:
        """The request view of an ``http`` or ``websocket`` scope. A WebSocket
        handshake reads as method ``WEBSOCKET``: browsers send cookies with
        cross-site handshakes, so it is checked as a state-changing request."""
        kind = scope.get("type") if isinstance(scope, Mapping) else None
        if kind not in ("http", "websocket"):
            raise MalformedEventError("not an ASGI http or websocket scope")
        headers: dict[str, list[str]] = {}
        try:
            for name, value in scope.get("headers") or ():
                headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        except (TypeError, ValueError, AttributeError):
            raise MalformedEventError("ASGI headers must be (bytes, bytes) pairs") from None
        if "cookie" in headers:
            lines = _cookie_lines_mangum_joined(scope, headers["cookie"])
            if lines is not None:
                headers["cookie"] = lines
        raw_query = scope.get("query_string") or b""
        if not isinstance(raw_query, (bytes, bytearray)):
            raise MalformedEventError("ASGI query_string must be bytes")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query else {}
        method = scope.get("method") if kind == "http" else WEBSOCKET
        event = scope if isinstance(scope, dict) else dict(scope)
        return MultiValueRequest(self, event, method if isinstance(method, str) else "", None, headers, None, query)

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """False: answers may carry ``headers``."""
        return False

    def render(self, scope: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """The Source protocol's answer; the middleware sends its answers through ASGI instead."""
        return {"statusCode": status, "headers": headers, "body": body}

    def source_ip(self, request: Request) -> str | None:
        """The client address the ASGI server reports (``scope["client"]``)."""
        client = request.event.get("client")
        return client[0] if isinstance(client, (list, tuple)) and client else None

    def path(self, request: Request) -> str | None:
        """The request path."""
        path = request.event.get("path")
        return path if isinstance(path, str) else None


def _cookie_lines_mangum_joined(scope: Mapping[str, Any], cookie: list[str]) -> list[str] | None:
    """The ``Cookie`` lines of the REST API (or payload 1.0) event Mangum built
    ``scope`` from, when Mangum joined several into ``cookie``: it joins a
    repeated header's lines with ``", "``, which for ``Cookie`` (whose pairs
    RFC 6265 separates with ``"; "``) turns every pair after the first line's
    last into part of that cookie's value — a ``__session`` there was lost.
    None when the scope's cookie header is not exactly that join."""
    event = scope.get("aws.event")
    multi = event.get("multiValueHeaders") if type(event) is dict else None
    if type(multi) is not dict or len(cookie) != 1:
        return None
    lines: list[str] = []
    for name, values in multi.items():
        if isinstance(name, str) and name.lower() == "cookie" and type(values) is list:
            lines.extend(v for v in values if type(v) is str)
    return lines if len(lines) > 1 and cookie[0] == ", ".join(lines) else None


SOURCE = AsgiScope()
