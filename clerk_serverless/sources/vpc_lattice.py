"""Amazon VPC Lattice target events, event structure versions 1 and 2.

Version 2 (``"version": "2.0"``, camelCase) carries header and query values
as lists (older examples show plain strings; both are read); version 1
(snake_case: ``raw_path``, ``is_base64_encoded``) carries strings. Both are
answered with ``statusCode``, ``statusDescription``, ``headers``, ``body``.
Lattice adds no CORS headers, and appends the caller's address to
``X-Forwarded-For``.
"""

from __future__ import annotations

from typing import Any

from ..errors import MalformedEventError
from .base import MultiValueRequest, Request, appended_forwarded_for, method_of, status_line


def _as_lists(mapping: Any, field: str) -> dict[str, list[str]] | None:
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise MalformedEventError(f"{field} must be an object")
    lists: dict[str, list[str]] = {}
    for name, value in mapping.items():
        if value is None:
            continue
        if isinstance(value, str):
            lists[name] = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            lists[name] = value
        else:
            raise MalformedEventError(f"{field} values must be strings or lists of strings")
    return lists


class VpcLattice:
    """Reads VPC Lattice events (v1 and v2); answers in Lattice's format."""

    name = "vpc_lattice"
    adds_cors = True  # VPC Lattice adds no CORS headers to Lambda answers

    def read(self, event: dict[str, Any]) -> Request:
        """The request view of ``event`` (raises ``MalformedEventError``)."""
        v2 = event.get("version") == "2.0"
        headers = _as_lists(event.get("headers"), "headers")
        query_field = "queryStringParameters" if v2 else "query_string_parameters"
        query = _as_lists(event.get(query_field), query_field)
        return MultiValueRequest(self, event, method_of(event.get("method")), None, headers or {}, None, query)

    def answers_multi_value(self, event: dict[str, Any]) -> bool:
        """False: answers may carry ``headers``."""
        return False

    def render(self, event: dict[str, Any], status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
        """An answer in this source's own proxy format."""
        return {
            "statusCode": status,
            "statusDescription": status_line(status),
            "headers": headers,
            "body": body,
            "isBase64Encoded": False,
        }

    def source_ip(self, request: Request) -> str | None:
        """The address Lattice appended to ``X-Forwarded-For`` (rightmost)."""
        return appended_forwarded_for(request)

    def path(self, request: Request) -> str | None:
        """The request path."""
        path = request.event.get("path", request.event.get("raw_path"))
        return path if isinstance(path, str) else None

    @staticmethod
    def matches(event: dict[str, Any]) -> bool:
        """True for a Lattice event of either version, by its whole shape."""
        if "method" not in event:
            return False
        if event.get("version") == "2.0":
            ctx = event.get("requestContext")
            return isinstance(ctx, dict) and ("targetGroupArn" in ctx or "serviceArn" in ctx) and "path" in event
        return "raw_path" in event and "is_base64_encoded" in event


SOURCE = VpcLattice()
