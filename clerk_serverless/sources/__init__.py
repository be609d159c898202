"""Event sources: recognise a Lambda event and pick its adapter.

========================  ===========================================
source                    recognised by
========================  ===========================================
HTTP API v2               ``version == "2.0"`` (or ``requestContext.http``)
Function URL              the same, on a ``*.lambda-url.*`` domain
ALB (single/multi-value)  ``httpMethod`` and ``requestContext.elb``
REST API v1               ``httpMethod`` (also HTTP API payload 1.0)
========================  ===========================================

Anything else (SQS, S3, ``{}``, a list) raises
:class:`~clerk_serverless.errors.UnsupportedEventError`, answered as a 400.
"""

from __future__ import annotations

from typing import Any

from ..errors import UnsupportedEventError
from . import alb, function_url, http_v2, rest_v1
from .base import Request, parse_cookies

__all__ = ["Request", "read_request", "source_of", "render_unsupported", "parse_cookies"]


def source_of(event: Any) -> Any:
    """The adapter for ``event``; raises :class:`UnsupportedEventError`."""
    if type(event) is not dict:
        raise UnsupportedEventError(f"the event is a {type(event).__name__}, not an HTTP request object")
    if event.get("version") == "2.0":
        return function_url.SOURCE if function_url.FunctionUrl.matches(event) else http_v2.SOURCE
    ctx = event.get("requestContext")
    if "httpMethod" in event:
        if isinstance(ctx, dict) and "elb" in ctx:
            return alb.SOURCE
        return rest_v1.SOURCE
    if isinstance(ctx, dict) and isinstance(ctx.get("http"), dict):
        return http_v2.SOURCE
    keys = ", ".join(sorted(str(k) for k in event)[:5]) or "none"
    raise UnsupportedEventError(
        f"not an API Gateway, ALB or Function URL event (top-level keys: {keys})"
    )


def read_request(event: Any) -> Request:
    """The :class:`Request` view of ``event``."""
    if type(event) is dict and event.get("version") == "2.0" and not function_url.FunctionUrl.matches(event):
        return http_v2.SOURCE.read(event)  # the most common shape, without the full dispatch
    return source_of(event).read(event)


def render_unsupported(status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A proxy-style answer for an event whose source is unknown."""
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}
