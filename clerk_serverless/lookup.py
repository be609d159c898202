"""Where the token is: the ``Authorization`` header, else the session cookie.

Follows @clerk/backend's ``AuthenticateContext`` (clerk/javascript,
packages/backend/src/tokens/authenticateContext.ts):

* ``Authorization: Bearer <token>``, or a value without a scheme taken whole
  as the token. Another scheme (``Basic …``) is no token, and does not hide
  the cookie. ``Bearer null`` / ``Bearer undefined`` / ``Bearer`` (what
  ``Bearer ${await getToken()}`` sends when signed out) count as no token.
  Unlike @clerk/backend, the scheme is matched case-insensitively (RFC 9110 §11.1)
  and extra spaces after it are skipped; as there, only a space separates it.
* Otherwise the ``__session`` cookie. With a publishable key configured, the
  instance's suffixed cookies (``__session_<suffix>``, ``__client_uat_<suffix>``)
  are chosen over the plain ones exactly when @clerk/backend's
  ``usesSuffixedCookies()`` would (several apps on one domain, ClerkJS
  downgrades): see :func:`uses_suffixed_cookies`.

Nothing here trusts the token: cookie selection peeks at unverified claims
(``iss``, ``iat``, ``exp``) only to choose which cookie to verify.
"""

from __future__ import annotations

import re
from typing import Any

from .authorization import JS_WHITESPACE
from .sources import Request
from .token_types import json_segment

SESSION_COOKIE = "__session"
CLIENT_UAT_COOKIE = "__client_uat"
_NO_TOKEN = frozenset({"", "null", "undefined"})


# CookieRules and TokenLookup are plain slotted classes, not NamedTuples:
# nothing unpacks or compares them, and a NamedTuple costs a cold start ~100 µs
# to define.


class CookieRules:
    """What cookie selection needs from the settings: the instance's cookie
    suffix and Frontend API host (from the publishable key), and whether the
    instance is a production one (``pk_live_``)."""

    __slots__ = ("suffix", "frontend_api", "production")

    def __init__(self, suffix: str | None = None, frontend_api: str | None = None, production: bool = False) -> None:
        self.suffix = suffix
        self.frontend_api = frontend_api
        self.production = production


class TokenLookup:
    """The request's token, whether it came from a cookie, and the raw
    ``__client_uat`` cookie chosen with it (None when absent)."""

    __slots__ = ("token", "from_cookie", "client_uat")

    def __init__(self, token: str | None, from_cookie: bool = False, client_uat: str | None = None) -> None:
        self.token = token
        self.from_cookie = from_cookie
        self.client_uat = client_uat


NOTHING = TokenLookup(None)


def token_in_header(request: Request) -> str | None:
    """The token of the ``Authorization`` header, or None."""
    if not request.multi_valued:
        value = request.header("authorization")
        if value and value.startswith("Bearer "):  # the usual spelling, without _token_of's call
            token = value[7:].lstrip(" ").rstrip(" \t")
            return None if token in _NO_TOKEN or (len(token) == 6 and token.lower() == "bearer") else token
        return _token_of(value) if value else None
    # Repeated lines read as fetch's Headers (what @clerk/backend reads) and
    # HTTP API events give them: one value, joined with ", ", empty lines
    # included (", Bearer x" has no scheme Clerk knows: no header token).
    value = ", ".join(request.header_values("authorization"))
    return _token_of(value) if value else None


def _token_of(value: str) -> str | None:
    """The token of one ``Authorization`` value, or None. As @clerk/backend
    (authenticateContext.ts ``parseAuthorizationHeader``), only a space
    separates the scheme (RFC 9110 §11.4: ``1*SP``): ``Bearer<TAB>x`` has no
    scheme, and is taken whole."""
    value = value.strip(" \t")  # as fetch's Headers.get trims a value
    scheme, space, rest = value.partition(" ")
    if not space:
        token = value  # no scheme: the whole value is the token, as Clerk's SDKs take it
    elif len(scheme) == 6 and scheme.lower() == "bearer":
        token = rest.lstrip(" ")
    else:
        return None  # Basic, Digest…: not ours, and the cookie stays usable
    if token in _NO_TOKEN or (len(token) == 6 and token.lower() == "bearer"):
        return None
    return token


def find_token(request: Request, rules: CookieRules, now: float) -> TokenLookup:
    """The request's token: the header's, else the session cookie's."""
    token = token_in_header(request)
    if token is not None:
        return TokenLookup(token)
    cookies = request.cookies()
    if not cookies:
        return NOTHING
    session_name, uat_name = SESSION_COOKIE, CLIENT_UAT_COOKIE
    if rules.suffix and uses_suffixed_cookies(cookies, rules, now):
        session_name, uat_name = f"{SESSION_COOKIE}_{rules.suffix}", f"{CLIENT_UAT_COOKIE}_{rules.suffix}"
    token = cookies.get(session_name) or None
    # An empty __client_uat is there, and reads as 0 (signed out), as Clerk
    # reads it; only a missing one is tolerated (another domain's API).
    uat = cookies.get(uat_name)
    if token is None:
        return TokenLookup(None, False, uat)
    return TokenLookup(token, True, uat)


def uses_suffixed_cookies(cookies: dict[str, str], rules: CookieRules, now: float) -> bool:
    """@clerk/backend's ``usesSuffixedCookies()``: read the suffixed
    ``__session_<suffix>`` / ``__client_uat_<suffix>`` pair, or the plain one."""
    suffix = rules.suffix
    suffixed_uat = cookies.get(f"{CLIENT_UAT_COOKIE}_{suffix}") or None
    uat = cookies.get(CLIENT_UAT_COOKIE) or None
    suffixed_session = cookies.get(f"{SESSION_COOKIE}_{suffix}") or ""
    session = cookies.get(SESSION_COOKIE) or ""
    session_payload = peek_payload(session) if session else None
    if session and not (session_payload is not None and session_payload.get("iss")):
        return False  # a malformed plain cookie: signed out, not a suffixed lookup
    if session and not _belongs_to_instance(session_payload, rules.frontend_api):
        return True  # the plain cookie is another app's on this domain
    if not suffixed_uat and not suffixed_session:
        return False
    suffixed_payload = peek_payload(suffixed_session) if suffixed_session else None
    session_iat = _number(session_payload, "iat")
    suffixed_iat = _number(suffixed_payload, "iat")
    if suffixed_uat != "0" and uat != "0" and session_iat > suffixed_iat:
        return False  # both signed in, the plain one newer
    if suffixed_uat == "0" and uat != "0":
        return False  # old ClerkJS still writes the plain cookies
    if (
        not rules.production
        and suffixed_uat != "0"
        and uat == "0"
        and _expired(suffixed_payload, now)
    ):
        return False  # a development instance after a ClerkJS downgrade
    return not (not suffixed_uat and suffixed_session)


def _belongs_to_instance(payload: dict[str, Any] | None, frontend_api: str | None) -> bool:
    iss = payload.get("iss") if payload is not None else None
    if not isinstance(iss, str) or frontend_api is None:
        return False
    return _without_schemes(iss) == frontend_api


_schemes: re.Pattern[str] | None = None


def _without_schemes(text: str) -> str:
    """``text`` without any ``http://``/``https://`` (compiled on first use:
    only instances with suffixed cookies get here)."""
    global _schemes
    if _schemes is None:
        _schemes = re.compile(r"https?://", re.IGNORECASE)
    return _schemes.sub("", text)


def _expired(payload: dict[str, Any] | None, now: float) -> bool:
    exp = payload.get("exp") if payload is not None else None
    return isinstance(exp, (int, float)) and not isinstance(exp, bool) and exp <= int(now)


def _number(payload: dict[str, Any] | None, claim: str) -> float:
    value = payload.get(claim) if payload is not None else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def peek_payload(token: str) -> dict[str, Any] | None:
    """The unverified payload of a JWT, leniently decoded, or None when it is
    not one. Never trusted: for choosing a cookie only."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 16384:
        return None
    return json_segment(parts[1])


_DECIMAL = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def client_uat_time(raw: str) -> float:
    """``__client_uat`` as @clerk/backend reads it, ``Number.parseInt(value) || 0``
    (authenticateContext.ts:314): leading whitespace skipped, an optional sign,
    ``0x`` for hexadecimal, then the longest run of digits; none at all is 0.
    Any number but 0 (negative ones too) says a client is active."""
    text = raw.lstrip(JS_WHITESPACE)
    sign = -1.0 if text[:1] == "-" else 1.0
    if text[:1] in ("+", "-"):
        text = text[1:]
    base, digits = 10, _DECIMAL
    if text[:2] in ("0x", "0X"):
        base, digits, text = 16, _HEX, text[2:]
    end = 0
    while end < len(text) and text[end] in digits:
        end += 1
    if not end:
        return 0.0
    number = text[:end].lstrip("0")  # leading zeros are no magnitude: parseInt("000…01") is 1
    if len(number) > 400:  # past any double (10**309, 16**256): Infinity, as parseInt gives
        return sign * float("inf")
    try:
        return sign * float(int(number or "0", base))
    except OverflowError:  # 309-400 decimal or 257-400 hex digits: past a double too
        return sign * float("inf")
