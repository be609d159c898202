"""API Gateway REST API (and HTTP API payload 1.0) proxy events.

Headers arrive twice: ``headers`` (last value of each, names as the client
sent them) and ``multiValueHeaders`` (every value). Multi-value wins so no
second ``Cookie`` line is lost.
"""

from __future__ import annotations

from typing import Any

from .base import Request, context_dict, read_proxy_v1


class RestApiV1:
    """Reads REST API proxy events and answers in their response format."""

    name = "rest_api_v1"
    adds_cors = True  # its gateway adds no CORS headers to proxy answers

    def read(self, event: dict[str, Any]) -> Request:
        """The request view of ``event`` (raises ``MalformedEventError``)."""
        return read_proxy_v1(self, event)

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """False: answers may carry ``headers``."""
        return False

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """An answer in this source's own proxy format."""
        return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}

    def source_ip(self, request: Request) -> str | None:
        """The client address API Gateway saw (``requestContext.identity.sourceIp``)."""
        identity = context_dict(request.event).get("identity")
        ip = identity.get("sourceIp") if isinstance(identity, dict) else None
        return ip if isinstance(ip, str) else None

    def path(self, request: Request) -> str | None:
        """The request path (``path``)."""
        path = request.event.get("path")
        return path if isinstance(path, str) else None


SOURCE = RestApiV1()
