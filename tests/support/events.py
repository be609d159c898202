"""Lambda events of every supported shape, built from ``sam local generate-event``
output (tests/fixtures/events) with the request parts a test needs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"
SHAPES = ("rest_v1", "http_v2", "function_url", "alb", "alb_multi", "vpc_lattice_v2", "vpc_lattice")
_cache: dict[str, dict[str, Any]] = {}


def base(shape: str) -> dict[str, Any]:
    """A fresh copy of the generated event for ``shape``."""
    if shape not in _cache:
        _cache[shape] = json.loads((FIXTURES / f"{shape}.json").read_text())
    return copy.deepcopy(_cache[shape])


def make_event(
    shape: str,
    *,
    method: str = "GET",
    headers: dict[str, str | list[str]] | None = None,
    cookies: list[str] | None = None,
    query: dict[str, str] | None = None,
    bearer: str | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """An event of ``shape`` carrying these request parts, the way its source would.

    Header names are given as a browser sends them; REST v1 keeps that casing
    (as API Gateway does), HTTP API v2, Function URLs and ALB lowercase them.
    ``cookies`` are ``name=value`` strings; each source places them its own way.
    """
    event = base(shape)
    hdrs: dict[str, list[str]] = {}
    for name, value in (headers or {}).items():
        hdrs[name] = value if isinstance(value, list) else [value]
    if bearer is not None:
        hdrs["Authorization"] = [f"Bearer {bearer}"]
    if origin is not None:
        hdrs["Origin"] = [origin]
    query = dict(query or {})

    if shape in ("http_v2", "function_url"):
        event["requestContext"]["http"]["method"] = method
        event["headers"] = {k.lower(): ",".join(v) for k, v in hdrs.items()}
        if cookies:
            event["cookies"] = list(cookies)
        else:
            event.pop("cookies", None)
        event["queryStringParameters"] = query or None
        if not query:
            event.pop("queryStringParameters")
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    elif shape == "rest_v1":
        event["httpMethod"] = method
        event["requestContext"]["httpMethod"] = method
        if cookies:
            hdrs["Cookie"] = ["; ".join(cookies)]
        for name, values in hdrs.items():
            event["headers"][name] = values[-1]
            event["multiValueHeaders"][name] = list(values)
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    elif shape == "alb":
        event["httpMethod"] = method
        if cookies:
            hdrs["Cookie"] = ["; ".join(cookies)]
        for name, values in hdrs.items():
            event["headers"][name.lower()] = values[-1]
        event["queryStringParameters"] = dict(query)
    elif shape == "alb_multi":
        event["httpMethod"] = method
        if cookies:
            hdrs["Cookie"] = list(cookies)  # one cookie per header line
        for name, values in hdrs.items():
            event["multiValueHeaders"][name.lower()] = list(values)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    elif shape == "vpc_lattice_v2":
        event["method"] = method
        if cookies:
            hdrs["Cookie"] = ["; ".join(cookies)]
        for name, values in hdrs.items():
            event["headers"][name.lower()] = list(values)
        event["queryStringParameters"] = {k: [v] for k, v in query.items()}
    elif shape == "vpc_lattice":
        event["method"] = method
        if cookies:
            hdrs["Cookie"] = ["; ".join(cookies)]
        for name, values in hdrs.items():
            event["headers"][name.lower()] = ",".join(values)
        event["query_string_parameters"] = dict(query)
    else:
        raise ValueError(shape)
    return event


def response_headers(shape: str, response: dict[str, Any]) -> dict[str, str]:
    """Response headers, lowercased, whatever format the response uses."""
    if shape == "alb_multi":
        assert "headers" not in response, "ALB multi-value answers must not carry headers"
        return {k.lower(): v[0] for k, v in response.get("multiValueHeaders", {}).items()}
    headers = {k.lower(): v[0] for k, v in (response.get("multiValueHeaders") or {}).items() if v}
    headers.update({k.lower(): v for k, v in (response.get("headers") or {}).items()})
    return headers


def routed(shape: str, path: str = "/me", **request: Any) -> dict[str, Any]:
    """An event of ``shape`` for ``path``, with the route fields a router
    (Mangum, a Powertools resolver) reads."""
    event = make_event(shape, **request)
    if shape in ("http_v2", "function_url"):
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["routeKey"] = "$default"
    else:
        event["path"] = path
        if shape == "rest_v1":
            event["resource"] = event["requestContext"]["resourcePath"] = path
    return event


AUTHORIZER_ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/me"


def behind_authorizer(context: dict[str, str], **request: Any) -> dict[str, Any]:
    """An HTTP API event carrying our authorizer's (simple response) context."""
    event = make_event("http_v2", **request)
    event["requestContext"]["authorizer"] = {"lambda": dict(context)}
    return event


def authorizer_event(**request: Any) -> dict[str, Any]:
    """An HTTP API (payload 2.0) REQUEST authorizer event for these request parts."""
    event = make_event("http_v2", **request)
    event.update({"type": "REQUEST", "routeArn": AUTHORIZER_ROUTE_ARN, "identitySource": []})
    return event
