"""An HTTP request, turned into the event API Gateway would send a function,
and a function's proxy response turned back into HTTP.

Used by the local gateway (from real requests) and by the sample-event
generator (from synthetic ones), so both place headers, cookies, the query
and the body exactly the way the service does:

* HTTP API payload 2.0 and Function URLs: lowercased header names, repeated
  headers joined by commas, cookies moved out of the headers into
  ``cookies[]``, repeated query values joined by commas;
* REST API (payload 1.0): header names as the client sent them, the last
  value in ``headers`` and every value in ``multiValueHeaders``, the same
  split for the query.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class HttpRequest:
    """One HTTP request as it came in."""

    method: str
    path: str
    query: str = ""  # raw, without "?"
    headers: list[tuple[str, str]] = field(default_factory=list)  # in order, original casing
    body: bytes = b""
    source_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any casing), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


def _body(request: HttpRequest, binary: bool | None = None) -> tuple[str | None, bool]:
    """The event's ``body`` and ``isBase64Encoded``: base64 when ``binary``,
    UTF-8 text (other bytes as U+FFFD) when not; None: base64 only for bytes
    that are not UTF-8."""
    if not request.body:
        return None, False
    if binary:
        return base64.b64encode(request.body).decode(), True
    if binary is not None:
        return request.body.decode("utf-8", "replace"), False
    try:
        return request.body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(request.body).decode(), True


def binary_media(media_type: str | None, patterns: Sequence[str]) -> bool:
    """Whether ``media_type`` (a Content-Type, or an Accept header's first
    entry; parameters ignored) is one of a REST API's ``BinaryMediaTypes``
    (``*`` a wildcard: ``*/*`` matches every type, ``image/*`` every image)."""
    if not media_type or not patterns:
        return False
    value = media_type.split(",")[0].split(";")[0].strip().lower()
    return any(fnmatchcase(value, pattern.lower()) for pattern in patterns)


#: Lambda's limit on a synchronous invocation's event, the serialized JSON.
MAX_EVENT_BYTES = 6 * 1024 * 1024


def too_large_for_lambda(event: dict[str, Any]) -> bool:
    """Whether ``event`` is over Lambda's 6 MiB request limit: a body under
    it may not be, base64 making binary a third longer."""
    body = event.get("body")
    # Only a large body takes an event there: serialized only then.
    return (isinstance(body, str) and len(body) > MAX_EVENT_BYTES // 8
            and len(json.dumps(event, ensure_ascii=False).encode()) > MAX_EVENT_BYTES)


def _times() -> tuple[str, int]:
    now = time.time()
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), int(now * 1000)


def http_api_v2(
    request: HttpRequest,
    *,
    domain: str,
    route_key: str = "$default",
    stage: str = "$default",
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event of an HTTP API route or a Function URL."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lower = name.lower()
        if lower == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        headers[lower] = f"{headers[lower]},{value}" if lower in headers else value
    headers.setdefault("host", domain)
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    body, is_base64 = _body(request)
    text_time, epoch = _times()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.source_ip, "userAgent": headers.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": stage,
            "time": text_time,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": is_base64,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body is not None:
        event["body"] = body
    return event


def rest_api_v1(
    request: HttpRequest,
    *,
    resource: str,
    stage: str,
    domain: str = "abc123def4.execute-api.us-east-1.amazonaws.com",
    path_parameters: dict[str, str] | None = None,
    binary: bool | None = None,
) -> dict[str, Any]:
    """The proxy event of a REST API route (payload 1.0). ``binary``: whether
    the body's type is one of the API's binary media types (base64, whatever
    the bytes), or not (passed as UTF-8 text: bytes that are not UTF-8 arrive
    as U+FFFD, as API Gateway mangles them); None guesses from the bytes."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query, keep_blank_values=True):
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    body, is_base64 = _body(request, binary)
    text_time, epoch = _times()
    return {
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".")[0],
            "domainName": domain,
            "resourceId": "abc123",
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": f"/{stage}{request.path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": text_time,
            "requestTimeEpoch": epoch,
            "stage": stage,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent"),
                         "accessKey": None, "caller": None, "user": None, "userArn": None},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


@dataclass
class HttpResponse:
    """What goes back on the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _error(status: int, message: str) -> HttpResponse:
    body = json.dumps({"message": message}).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def from_proxy_response(result: Any, *, payload_v2: bool, decode_base64: bool = True) -> HttpResponse:
    """A function's return value as the HTTP response API Gateway would send.

    Payload 2.0 infers a 200 JSON answer from anything but a dict with
    ``statusCode``; payload 1.0 requires ``statusCode`` (else 502, as API
    Gateway answers a malformed proxy response). ``decode_base64=False``: an
    ``isBase64Encoded`` body goes out as its base64 text (a REST API whose
    binary media types do not match the request's Accept).
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        if not payload_v2:
            return _error(502, "Internal server error")
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], text.encode())
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _error(502, "Internal server error")
    # API Gateway merges headers and multiValueHeaders into one list; a
    # name-value pair given in both appears once (multiValueHeaders' copy).
    multi = [(str(name), str(v)) for name, values in (result.get("multiValueHeaders") or {}).items()
             for v in values or ()]
    in_multi = {(name.lower(), value) for name, value in multi}
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()
                                      if (str(k).lower(), str(v)) not in in_multi]
    headers += multi
    for cookie in result.get("cookies") or ():
        headers.append(("Set-Cookie", str(cookie)))
    raw = result.get("body")
    body: bytes
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded") and decode_base64:
        body = base64.b64decode(raw)
    else:
        body = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
    if payload_v2 and not any(k.lower() == "content-type" for k, _ in headers) and body:
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, body)
