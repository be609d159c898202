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
        request = read_proxy_v1(self, event)
        if "httpMethod" not in event and method_in_context_only(event):  # rare: no call for API Gateway's events
            request.method = event["requestContext"]["httpMethod"]
        return request

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


def method_in_context_only(event: dict[str, Any]) -> bool:
    """True for a REST event naming its method in ``requestContext.httpMethod``
    only, without the top-level ``httpMethod`` key: what ``chalice local``
    sends (API Gateway writes both; a WebSocket event, with its ``eventType``,
    has neither)."""
    ctx = event.get("requestContext")
    return (
        "httpMethod" not in event
        and type(ctx) is dict
        and type(ctx.get("httpMethod")) is str
        and "eventType" not in ctx
        and "http" not in ctx
    )


SOURCE = RestApiV1()
