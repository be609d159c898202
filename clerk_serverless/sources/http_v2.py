"""API Gateway HTTP API, payload format 2.0.

Header names arrive lowercased; duplicate headers are comma-joined; cookies
arrive in the separate ``cookies`` array, not in a ``cookie`` header.
"""

from __future__ import annotations

from typing import Any

from ..errors import MalformedEventError
from .base import Request, context_dict, method_of


class HttpApiV2:
    """Reads HTTP API v2 events and answers in the v2 response format."""

    name = "http_api_v2"
    adds_cors = False  # CORS comes from the gateway's (or app's) configuration

    def read(self, event: dict[str, Any]) -> Request:
        """The request view of ``event`` (raises ``MalformedEventError``)."""
        ctx = event.get("requestContext")
        http = ctx.get("http") if type(ctx) is dict else context_dict(event)
        if http is not None and type(http) is not dict:
            raise MalformedEventError("requestContext.http must be an object")
        return self.read_with(event, http)

    def read_with(self, event: dict[str, Any], http: dict[str, Any] | None) -> Request:
        """:meth:`read`, once ``requestContext.http`` is known to be an object (or absent)."""
        headers, cookies, query = event.get("headers"), event.get("cookies"), event.get("queryStringParameters")
        if cookies is not None and type(cookies) is not list:
            raise MalformedEventError("cookies must be a list of strings")
        if headers is not None and type(headers) is not dict:
            raise MalformedEventError("headers must be an object")
        if query is not None and type(query) is not dict:
            raise MalformedEventError("queryStringParameters must be an object")
        method = http.get("method") if http else None
        return Request(self, event, method if type(method) is str else method_of(method), headers, cookies, query)

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """False: answers may carry ``headers``."""
        return False

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """An answer in this source's own proxy format."""
        return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}

    def source_ip(self, request: Request) -> str | None:
        """The client address API Gateway saw (``requestContext.http.sourceIp``)."""
        http = context_dict(request.event).get("http") or {}
        ip = http.get("sourceIp") if isinstance(http, dict) else None
        return ip if isinstance(ip, str) else None

    def path(self, request: Request) -> str | None:
        """The request path (``rawPath``)."""
        path = request.event.get("rawPath")
        return path if isinstance(path, str) else None


SOURCE = HttpApiV2()
