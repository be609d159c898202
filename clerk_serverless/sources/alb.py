"""Application Load Balancer target events, single- and multi-value.

With multi-value headers enabled on the target group the event carries only
``multiValueHeaders`` and the answer must carry only ``multiValueHeaders``
too (ALB turns a ``headers`` answer into a 502). Query values arrive
percent-encoded: ALB does not decode them.
"""

from __future__ import annotations

from typing import Any

from .base import Request, appended_forwarded_for, read_proxy_v1, status_line


def _unquote(value: str) -> str:
    if "%" not in value and "+" not in value:
        return value
    from urllib.parse import unquote_plus

    return unquote_plus(value)


def _is_multi_value(event: dict[str, Any]) -> bool:
    return "multiValueHeaders" in event and "headers" not in event


class Alb:
    """Reads ALB events; answers in the mode (single/multi-value) they came in."""

    name = "alb"
    adds_cors = True  # its gateway adds no CORS headers to proxy answers

    def read(self, event: dict[str, Any]) -> Request:
        """The request view of ``event`` (raises ``MalformedEventError``)."""
        return read_proxy_v1(self, event, _unquote)

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """True in multi-value mode: answers must carry ``multiValueHeaders`` only."""
        return _is_multi_value(event)

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """An answer in this source's own proxy format."""
        response: dict[str, Any] = {
            "statusCode": status,
            "statusDescription": status_line(status),
            "body": body,
            "isBase64Encoded": False,
        }
        if _is_multi_value(event):
            response["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
        else:
            response["headers"] = headers
        return response

    def source_ip(self, request: Request) -> str | None:
        """The address the ALB appended to ``X-Forwarded-For`` (rightmost)."""
        return appended_forwarded_for(request)

    def path(self, request: Request) -> str | None:
        """The request path."""
        path = request.event.get("path")
        return path if isinstance(path, str) else None


SOURCE = Alb()
