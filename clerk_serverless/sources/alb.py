"""Application Load Balancer target events, single- and multi-value.

With multi-value headers enabled on the target group the event carries only
``multiValueHeaders`` and the answer must carry only ``multiValueHeaders``
too (ALB turns a ``headers`` answer into a 502). Query values arrive
percent-encoded: ALB does not decode them.
"""

from __future__ import annotations

from typing import Any

from .base import Request, read_proxy_v1, status_line


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

    def read(self, event: dict[str, Any]) -> Request:
        return read_proxy_v1(self, event, _unquote)

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
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
        forwarded = request.header("x-forwarded-for")
        return forwarded.split(",")[0].strip() or None if forwarded else None

    def path(self, request: Request) -> str | None:
        path = request.event.get("path")
        return path if isinstance(path, str) else None


SOURCE = Alb()
