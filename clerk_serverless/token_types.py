"""The kinds of token Clerk issues, and telling them apart before verifying.

============  ===================================================  ==========================
token type    looks like                                           verified
============  ===================================================  ==========================
session       a JWT (``typ`` JWT or none, ``sub`` ``user_…``)       locally, JWKS or PEM
m2m_token     ``mt_…``, or a JWT whose ``sub`` is ``mch_…``          Backend API / locally
oauth_token   ``oat_…``, or a JWT with ``typ`` ``at+jwt``            Backend API / locally
api_key       ``ak_…``                                             Backend API
============  ===================================================  ==========================

As in @clerk/backend (packages/backend/src/tokens/machine.ts), an M2M JWT is
recognised before an OAuth one, and the prefixes are case-sensitive. The
classification reads unverified parts only to choose a verifier; nothing is
trusted until that verifier says so.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from typing import Any, Final, Literal, TypeAlias

from .errors import JSON_ERRORS, ClerkConfigError, config_value

TokenType: TypeAlias = Literal["session_token", "api_key", "m2m_token", "oauth_token"]
"""The token types Clerk names: the values of ``accepts_token`` besides ``"any"``."""
AcceptsToken: TypeAlias = TokenType | Literal["any"] | Iterable[TokenType]
"""What ``accepts_token`` takes, as @clerk/backend's ``acceptsToken``: one
token type, a list of them, or ``"any"`` (checked again at runtime: another
value is a :class:`~clerk_serverless.ClerkConfigError` naming ``accepts_token``)."""
SESSION_TOKEN: Final = "session_token"
API_KEY: Final = "api_key"
M2M_TOKEN: Final = "m2m_token"
OAUTH_TOKEN: Final = "oauth_token"
TOKEN_TYPES: Final[frozenset[str]] = frozenset({SESSION_TOKEN, API_KEY, M2M_TOKEN, OAUTH_TOKEN})
MACHINE_TOKEN_TYPES: Final[frozenset[str]] = frozenset({API_KEY, M2M_TOKEN, OAUTH_TOKEN})
#: ``accepts_token="any"``.
ANY: Final = "any"

M2M_PREFIX: Final = "mt_"
OAUTH_PREFIX: Final = "oat_"
API_KEY_PREFIX: Final = "ak_"
M2M_SUBJECT_PREFIX: Final = "mch_"
#: RFC 9068 access-token ``typ`` values (OAuth access tokens as JWTs).
OAUTH_ACCESS_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
# The two JWT shapes below are compiled on first use (~45 µs each, every cold
# start when done at import): session-only routes, the common case, never
# classify a token.
_jws_format: re.Pattern[str] | None = None
_clerk_jwt_format: re.Pattern[str] | None = None


def parse_accepts(value: Any, setting: str = "accepts_token") -> frozenset[str]:
    """``accepts_token`` as a set of token types: one name, a list of them,
    or ``"any"``. Anything else raises :class:`ClerkConfigError`."""
    if value == ANY:
        return TOKEN_TYPES
    items: Iterable[Any] = [value] if isinstance(value, str) else value
    try:
        names = frozenset(items)
    except TypeError:
        raise ClerkConfigError(setting, "must be a token type, a list of them, or 'any'") from None
    unknown = sorted(config_value(n) for n in names if n not in TOKEN_TYPES)
    if unknown or not names:
        choices = ", ".join(sorted(TOKEN_TYPES))
        what = ", ".join(unknown) or "an empty list"
        raise ClerkConfigError(setting, f"{what} is not a token type; use {choices} or 'any'")
    return names


def is_jwt_format(token: str) -> bool:
    """Three base64url segments joined by dots (the signature may be empty)."""
    return _jws_shape().match(token) is not None


def classify(token: str) -> str:
    """The token type ``token`` claims to be (unverified), as @clerk/backend's
    ``getMachineTokenType`` tells it: a prefix first (``mt_…`` is an M2M
    token whatever follows), a JWT an M2M or OAuth one only in its strict
    shape (a non-empty signature) with header and payload decoding."""
    if token.startswith(M2M_PREFIX):
        return M2M_TOKEN
    header = payload = None
    if _clerk_jwt_shape().match(token):
        header, payload = _peek(token)
        if header is not None and payload is not None:
            sub = payload.get("sub")
            if isinstance(sub, str) and sub.startswith(M2M_SUBJECT_PREFIX):
                return M2M_TOKEN
    if token.startswith(OAUTH_PREFIX):
        return OAUTH_TOKEN
    if header is not None and payload is not None and header.get("typ") in OAUTH_ACCESS_TOKEN_TYPES:
        return OAUTH_TOKEN
    if token.startswith(API_KEY_PREFIX):
        return API_KEY
    return SESSION_TOKEN  # not a token we know: the session verifier refuses it


def is_undecodable_jwt(token: str) -> bool:
    """In JWT shape, but a header or payload that is no JSON object: what
    @clerk/backend's ``verifyMachineAuthToken`` calls token-invalid before
    telling machine JWTs apart (verify.ts:258-277)."""
    if not _clerk_jwt_shape().match(token):
        return False
    header, payload = _peek(token)
    return header is None or payload is None


def _jws_shape() -> re.Pattern[str]:
    """Three base64url segments joined by dots, the signature possibly empty."""
    global _jws_format
    if _jws_format is None:
        _jws_format = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
    return _jws_format


def _clerk_jwt_shape() -> re.Pattern[str]:
    """@clerk/backend's ``JwtFormatRegExp`` (machine.ts:13): the signature not empty."""
    global _clerk_jwt_format
    if _clerk_jwt_format is None:
        _clerk_jwt_format = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
    return _clerk_jwt_format


def _peek(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if len(token) > 16384:
        return None, None
    header_segment, payload_segment, _ = token.split(".")
    return json_segment(header_segment), json_segment(payload_segment)


def json_segment(segment: str) -> dict[str, Any] | None:
    """A JWT segment's JSON object, leniently decoded (padding optional), or
    None. Unverified: for telling token kinds apart and choosing a cookie."""
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except JSON_ERRORS:  # binascii.Error is a ValueError
        return None
    return value if isinstance(value, dict) else None
