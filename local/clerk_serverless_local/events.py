"""Real-shaped Lambda HTTP events for local runs (``sam local invoke -e``).

Each builder starts from the shape ``sam local generate-event`` prints for its
source and places headers, cookies and query parameters the way that source
does: REST v1 keeps the client's header casing in ``headers`` *and*
``multiValueHeaders``; HTTP API v2 and Function URLs lowercase names and move
cookies into ``cookies[]``; ALB lowercases names and, in multi-value mode,
sends only ``multiValueHeaders`` (one cookie per line here).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from .payloads import HttpRequest, http_api_v2, rest_api_v1

SHAPES = ("rest_v1", "http_v2", "function_url", "alb", "alb_multi")

_BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


def _request(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
             body: str | None, source_ip: str, defaults: dict[str, str]) -> HttpRequest:
    """A synthetic browser request: ``defaults`` (Accept, Host, User-Agent …)
    then the given headers, the cookies in one ``Cookie`` header."""
    merged = {**defaults, **headers}
    pairs = list(merged.items())
    if cookies:
        pairs.append(("Cookie", "; ".join(cookies)))
    return HttpRequest(method, path, urlencode(query, quote_via=quote), pairs, (body or "").encode(), source_ip)


def _body_fields(body: str | None) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    return base64.b64encode(body.encode()).decode(), True


_API_DOMAIN = "abc123def4.execute-api.us-east-1.amazonaws.com"
_URL_DOMAIN = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws"


def rest_v1(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
            body: str | None = None, source_ip: str = "203.0.113.10") -> dict[str, Any]:
    """An API Gateway REST API proxy event (``aws-proxy``) for the route ``path``."""
    defaults = {"Accept": "application/json", "Host": _API_DOMAIN, "User-Agent": _BROWSER_UA,
                "X-Forwarded-For": source_ip, "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https"}
    request = _request(method, path, headers, cookies, query, body, source_ip, defaults)
    return rest_api_v1(request, resource=path, stage="Prod", domain=_API_DOMAIN)


def _v2(domain: str, method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
        body: str | None, source_ip: str, route_key: str) -> dict[str, Any]:
    defaults = {"accept": "application/json", "host": domain, "user-agent": _BROWSER_UA, "x-forwarded-for": source_ip,
                "x-forwarded-port": "443", "x-forwarded-proto": "https"}
    request = _request(method, path, headers, cookies, query, body, source_ip, defaults)
    return http_api_v2(request, domain=domain, route_key=route_key)


def http_v2(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
            body: str | None = None, source_ip: str = "203.0.113.10", route_key: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0."""
    return _v2(_API_DOMAIN, method, path, headers, cookies, query, body, source_ip, route_key or f"{method} {path}")


def function_url(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
                 body: str | None = None, source_ip: str = "203.0.113.10") -> dict[str, Any]:
    """A Lambda Function URL event (payload 2.0 on a ``lambda-url`` domain)."""
    return _v2(_URL_DOMAIN, method, path, headers, cookies, query, body, source_ip, "$default")


def _alb_base(method: str, path: str, body: str | None) -> dict[str, Any]:
    encoded, is_b64 = _body_fields(body)
    return {
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
                                                     "targetgroup/clerk-demo/0123456789abcdef"}},
        "httpMethod": method,
        "path": path,
        "body": encoded or "",
        "isBase64Encoded": is_b64,
    }


def _alb_headers(headers: dict[str, str], source_ip: str) -> dict[str, str]:
    hdrs = {"accept": "application/json", "host": "clerk-demo-123456789.us-east-1.elb.amazonaws.com",
            "user-agent": _BROWSER_UA, "x-amzn-trace-id": "Root=1-5c536348-3d683b8b04734faae651f476",
            "x-forwarded-for": source_ip, "x-forwarded-port": "443", "x-forwarded-proto": "https"}
    hdrs.update({k.lower(): v for k, v in headers.items()})
    return hdrs


def alb(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
        body: str | None = None, source_ip: str = "203.0.113.10") -> dict[str, Any]:
    """An ALB event, single-value headers (query values stay percent-encoded)."""
    event = _alb_base(method, path, body)
    hdrs = _alb_headers(headers, source_ip)
    if cookies:
        hdrs["cookie"] = "; ".join(cookies)
    event["headers"] = hdrs
    event["queryStringParameters"] = {k: quote(v) for k, v in query.items()}
    return event


def alb_multi(method: str, path: str, headers: dict[str, str], cookies: list[str], query: dict[str, str],
              body: str | None = None, source_ip: str = "203.0.113.10") -> dict[str, Any]:
    """An ALB event with multi-value headers enabled on the target group."""
    event = _alb_base(method, path, body)
    hdrs: dict[str, list[str]] = {k: [v] for k, v in _alb_headers(headers, source_ip).items()}
    if cookies:
        hdrs["cookie"] = list(cookies)  # browsers may send one cookie per line through ALB
    event["multiValueHeaders"] = hdrs
    event["multiValueQueryStringParameters"] = {k: [quote(v)] for k, v in query.items()}
    return event


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "rest_v1": rest_v1,
    "http_v2": http_v2,
    "function_url": function_url,
    "alb": alb,
    "alb_multi": alb_multi,
}


def build_event(
    shape: str,
    method: str = "GET",
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    cookies: list[str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """An event of ``shape`` (one of :data:`SHAPES`) for this request."""
    try:
        builder = BUILDERS[shape]
    except KeyError:
        raise ValueError(f"unknown event shape {shape!r}; choose from {', '.join(SHAPES)}") from None
    return builder(method, path, dict(headers or {}), list(cookies or []), dict(query or {}), body)
