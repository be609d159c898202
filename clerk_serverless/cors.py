"""CORS: preflights answered here, and headers on answers browsers must read.

Credentialed CORS, for authorized origins only: ``Access-Control-Allow-Origin``
is the request's own origin when it is an authorized party, never ``*``, and
nothing is said to any other origin (the browser then refuses the page).

A *real* preflight is an ``OPTIONS`` request carrying both ``Origin`` and
``Access-Control-Request-Method`` (Fetch standard §3.2.2); browsers send it
without credentials. Any other ``OPTIONS`` is an ordinary request and is
authenticated like one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .sources import Request

#: Response headers a page may read on our answers.
EXPOSED_HEADERS: Final = "WWW-Authenticate, Retry-After, x-clerk-auth-status, x-clerk-auth-reason"
ALLOWED_METHODS: Final = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS: Final = "authorization, content-type"
MAX_AGE: Final = "600"
_TOKEN_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(?:\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")
_MAX_REQUESTED_HEADERS = 1024


def is_preflight(request: Request) -> bool:
    """``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``."""
    return (
        request.method == "OPTIONS"
        and bool(request.header("origin"))
        and bool(request.header("access-control-request-method"))
    )


def cors_headers(origin: str | None, allowed: frozenset[str] | None) -> dict[str, str]:
    """Credentialed CORS headers for ``origin`` when it is allowed; else none."""
    if origin is None or not allowed or origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def preflight_parts(request: Request, allowed: frozenset[str] | None) -> tuple[int, dict[str, str], str]:
    """``(204, headers, "")`` answering a real preflight: the CORS grant for an
    authorized origin, nothing for any other (which the browser treats as a refusal)."""
    headers = {"Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
    origin = request.origin
    if origin is not None and allowed and origin in allowed:
        requested = (request.header("access-control-request-headers") or "").strip()
        allow_headers = ALLOWED_HEADERS
        if requested and len(requested) <= _MAX_REQUESTED_HEADERS and _TOKEN_LIST.match(requested):
            allow_headers = _merge(ALLOWED_HEADERS, requested.lower())
        headers.update({
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": allow_headers,
            "Access-Control-Max-Age": MAX_AGE,
        })
    return 204, headers, ""


def _merge(base: str, extra: str) -> str:
    seen: dict[str, None] = {}
    for name in (*base.split(","), *extra.split(",")):
        name = name.strip()
        if name:
            seen.setdefault(name, None)
    return ", ".join(seen)


def add_cors_headers(response: Any, origin: str | None, allowed: frozenset[str] | None, multi_value: bool = False) -> Any:
    """Add the CORS headers an authorized ``origin`` needs to read a handler's
    proxy answer, without replacing any the handler set; ``Vary: Origin`` is
    merged in whenever a browser sent an ``Origin``. ``multi_value``: the
    answer must carry ``multiValueHeaders`` only (ALB multi-value mode).
    Returns ``response``."""
    if origin is None or not isinstance(response, dict):
        return response
    grant = cors_headers(origin, allowed)
    multi = response.get("multiValueHeaders")
    single = response.get("headers")
    if multi is None and single is None and multi_value:
        multi = response["multiValueHeaders"] = {}
    if isinstance(multi, dict) and not isinstance(single, dict):
        present = {str(k).lower() for k in multi}
        for name, value in grant.items():
            if name.lower() not in present:
                multi[name] = [value]
        _merge_vary_multi(multi)
        return response
    if single is None:
        single = response["headers"] = {}
    if not isinstance(single, dict):
        return response
    present = {str(k).lower() for k in single}
    if isinstance(multi, dict):
        present |= {str(k).lower() for k in multi}
    for name, value in grant.items():
        if name.lower() not in present:
            single[name] = value
    _merge_vary(single, multi if isinstance(multi, dict) else None)
    return response


def _vary_key(headers: Mapping[str, Any]) -> str | None:
    for key in headers:
        if isinstance(key, str) and key.lower() == "vary":
            return key
    return None


def _with_origin(value: str) -> str:
    tokens = [t.strip() for t in value.split(",") if t.strip()]
    if "*" in tokens or any(t.lower() == "origin" for t in tokens):
        return value
    return ", ".join([*tokens, "Origin"])


def _merge_vary(single: dict[str, Any], multi: dict[str, Any] | None) -> None:
    if multi is not None and _vary_key(multi) is not None:
        key = _vary_key(multi)
        assert key is not None
        values = multi[key]
        if isinstance(values, list) and values and isinstance(values[-1], str):
            values[-1] = _with_origin(values[-1])
        return
    key = _vary_key(single)
    if key is None:
        single["Vary"] = "Origin"
    elif isinstance(single[key], str):
        single[key] = _with_origin(single[key])


def _merge_vary_multi(multi: dict[str, Any]) -> None:
    key = _vary_key(multi)
    if key is None:
        multi["Vary"] = ["Origin"]
        return
    values = multi[key]
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        if not any(t.strip().lower() in ("origin", "*") for v in values for t in v.split(",")):
            values.append("Origin")
