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
from typing import Any, Final

from .sources import Request

#: Response headers a page may read on our answers.
EXPOSED_HEADERS: Final = "WWW-Authenticate, Retry-After, x-clerk-auth-status, x-clerk-auth-reason"
ALLOWED_METHODS: Final = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS: Final = "authorization, content-type"
MAX_AGE: Final = "600"
# RFC 9110's token characters: a header name, each of a preflight's requested names.
_TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TOKEN_CHARS = frozenset(_TCHARS)
_TOKEN = f"[{re.escape(_TCHARS)}]+"
# Compiled by the first preflight that needs it (re caches it), not at import:
# ~100 µs of every cold start, most of which never see a preflight.
_TOKEN_LIST = rf"^{_TOKEN}(?:\s*,\s*{_TOKEN})*$"
_MAX_REQUESTED_HEADERS = 1024
# Response headers every page reads without an Expose grant (Fetch standard's
# CORS-safelisted response-header names), and those no page ever reads.
_SAFELISTED = frozenset({"cache-control", "content-language", "content-length", "content-type", "expires",
                         "last-modified", "pragma"})
_NEVER_EXPOSED = frozenset({"set-cookie", "set-cookie2", "vary"})
# A handler's header names the expose grant leaves out: ours (named already), and the above.
_UNGRANTED = frozenset(n.strip().lower() for n in EXPOSED_HEADERS.split(",")) | _SAFELISTED | _NEVER_EXPOSED


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
        if requested and len(requested) <= _MAX_REQUESTED_HEADERS and re.match(_TOKEN_LIST, requested):
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


def add_cors_headers(
    response: Any, origin: str | None, allowed: frozenset[str] | None, multi_value: bool = False
) -> Any:
    """Add the CORS headers an authorized ``origin`` needs to read a handler's
    proxy answer, without replacing any the handler set (unless the handler
    set its own, ``Access-Control-Expose-Headers`` names ours and every other
    header of the answer a page could not read otherwise); ``Vary: Origin`` is
    merged in whenever a browser sent an ``Origin``. ``multi_value``: the
    answer must carry ``multiValueHeaders`` only (ALB multi-value mode).

    Returns the answer to send: a copy carrying them, the handler's own
    objects untouched (a handler may return the same dict, or the same
    ``headers``, on every call: one request's grant must not stay in them for
    the next, another origin's, or another route's); ``response`` itself when
    no ``Origin`` came or it is not a dict (a copy, unchanged, when its
    headers are of the wrong type)."""
    if origin is None or not isinstance(response, dict):
        return response
    response = dict(response)
    single, multi = response.get("headers"), response.get("multiValueHeaders")
    if isinstance(single, dict):
        single = response["headers"] = dict(single)
    if isinstance(multi, dict):
        multi = response["multiValueHeaders"] = dict(multi)
    if not isinstance(single, dict) and not isinstance(multi, dict):
        if multi_value:
            multi = response["multiValueHeaders"] = {}
        elif single is None:
            single = response["headers"] = {}
        else:
            return response  # headers of the wrong type: the handler's answer is left alone
    into_multi = isinstance(multi, dict) and (multi_value or not isinstance(single, dict))
    target: dict[str, Any] = multi if into_multi else single
    present = {k.lower(): k for m in (single, multi) if isinstance(m, dict) for k in m if isinstance(k, str)}
    for name, value in cors_headers(origin, allowed).items():
        if name != "Vary" and name.lower() not in present:
            if name == "Access-Control-Expose-Headers":
                value = _expose_with(value, present)
            target[name] = [value] if into_multi else value
    _vary_on_origin(target, into_multi)
    return response


def _expose_with(exposed: str, present: dict[str, str]) -> str:
    """``exposed`` (:data:`EXPOSED_HEADERS`) and the handler's own header
    names (``present``: by lowercase name) a page could not read otherwise
    (``ETag``, ``Location``, ``X-Total-Count``…): the handler sent them for
    the page, and only an authorized origin gets the grant."""
    extra = [
        name for low, name in present.items()
        if low not in _UNGRANTED and name and not low.startswith("access-control-") and _TOKEN_CHARS.issuperset(name)
    ]
    return ", ".join([exposed, *extra]) if extra else exposed


def _vary_on_origin(headers: dict[str, Any], multi: bool) -> None:
    """Add ``Origin`` to ``Vary`` unless it (or ``*``) is there already."""
    key = next((k for k in headers if isinstance(k, str) and k.lower() == "vary"), None)
    if key is None:
        headers["Vary"] = ["Origin"] if multi else "Origin"
        return
    value = headers[key]
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) for v in values) or not values:
        return
    tokens = {t.strip().lower() for v in values for t in v.split(",")}
    if "origin" in tokens or "*" in tokens:
        return
    if isinstance(value, list):
        headers[key] = [*value, "Origin"]  # a new list: the handler's stays as it was
    else:
        headers[key] = f"{value}, Origin"
