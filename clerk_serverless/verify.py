"""Pure verification of Clerk session tokens: no I/O, no clock of its own.

The order is deliberate and each step only runs if the previous one passed:

1. size cap and JWS compact shape (before any decoding);
2. protected header: ``alg`` on the allow-list (RS256 only, before any key is
   touched), ``typ`` JWT if present, ``cat`` the session category if present,
   a ``kid``; ``jku``/``x5u``/``jwk`` are ignored (keys come from config only);
3. the RS256 signature, with a key the caller chose by ``kid``;
4. only then the claims (:func:`check_claims`, :func:`check_times`).

Signature verification calls ``cryptography`` directly; a differential test
runs the same corpus through PyJWT's ``jwt.decode``.
"""

from __future__ import annotations

import binascii
import json
from binascii import a2b_base64
import math
from typing import Any

from .errors import (
    TokenExpiredError,
    TokenIatInTheFutureError,
    TokenInvalidAuthorizedPartiesError,
    TokenInvalidError,
    TokenNotActiveYetError,
)

MAX_TOKEN_LENGTH = 8192
ALLOWED_ALGORITHMS = frozenset({"RS256"})
# JOSE header `cat` values that mark a session token (see clerk/javascript
# packages/backend/src/tokens/jwtCategories.ts). Absent `cat` is accepted:
# tokens minted before the category rollout have none.
SESSION_TOKEN_CATEGORY = "cl_B7d4PD111AAA"
IGNORE_CATEGORY = "cl_I7d4PD111III"
_SESSION_CATEGORIES = frozenset({SESSION_TOKEN_CATEGORY, IGNORE_CATEGORY})
# base64url → standard alphabet; "+", "/" and "=" become "*", which the
# strict decoder rejects, so only canonical unpadded base64url passes.
_URLSAFE_TO_STD = bytes.maketrans(b"-_+/=", b"+/***")
_PADDING = (b"", b"*", b"==", b"=")  # by length mod 4; 1 is never valid
_HEADER_CACHE_SIZE = 64

# Parsed headers by their base64url text: Clerk tokens of one instance share a
# handful of headers, so this skips a base64 + JSON decode per request.
_header_cache: dict[bytes, str] = {}
_scan_once = json.JSONDecoder().scan_once

_pkcs1v15: Any = None
_sha256: Any = None
_invalid_signature: Any = None


def b64url_decode(segment: str | bytes) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): no padding, no stray bytes."""
    if type(segment) is str:
        try:
            segment = segment.encode("ascii")
        except UnicodeEncodeError:
            raise TokenInvalidError("non-ASCII characters in token") from None
    try:
        return a2b_base64(segment.translate(_URLSAFE_TO_STD) + _PADDING[len(segment) % 4], strict_mode=True)
    except binascii.Error:
        raise TokenInvalidError("token segment is not base64url") from None


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse UTF-8 JSON text that must hold an object.

    Calls the C scanner directly (``json.loads`` wraps it in Python code that
    costs as much again); anything unusual falls back to ``json.loads``.
    """
    try:
        text = data.decode("utf-8")
        try:
            value, end = _scan_once(text, 0)
            if end != len(text):
                value = json.loads(text)
        except StopIteration:
            value = json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        raise TokenInvalidError(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalidError(f"{what} is not a JSON object")
    return value


def parse_header(segment: bytes) -> str:
    """Check the protected header; return its ``kid``."""
    kid = _header_cache.get(segment)
    if kid is not None:
        return kid
    header = _json_object(b64url_decode(segment), "header")
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise TokenInvalidError("algorithm not allowed (RS256 only)")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise TokenInvalidError("typ is not JWT")
    cat = header.get("cat")
    if cat is not None and cat not in _SESSION_CATEGORIES:
        raise TokenInvalidError("not a session token (header cat)")
    if "crit" in header:
        raise TokenInvalidError("unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalidError("header has no kid")
    if len(_header_cache) >= _HEADER_CACHE_SIZE:
        _header_cache.clear()
    _header_cache[segment] = kid
    return kid


class UnverifiedToken:
    """A token split into its parts; nothing in it is trusted yet."""

    __slots__ = ("kid", "signing_input", "signature", "payload_segment")

    def __init__(self, token: str) -> None:
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalidError(f"token longer than {MAX_TOKEN_LENGTH} characters")
        if not token.isascii():
            raise TokenInvalidError("non-ASCII characters in token")
        raw = token.encode("ascii")
        parts = raw.split(b".")
        if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2]:
            raise TokenInvalidError("not a JWS compact token")
        header, payload, signature = parts
        self.kid = _header_cache.get(header) or parse_header(header)
        self.payload_segment = payload
        try:  # b64url_decode, inlined: this runs for every new token
            self.signature = a2b_base64(signature.translate(_URLSAFE_TO_STD) + _PADDING[len(signature) % 4], strict_mode=True)
        except binascii.Error:
            raise TokenInvalidError("token segment is not base64url") from None
        self.signing_input = raw[: len(header) + len(payload) + 1]


def _load_crypto() -> None:
    global _pkcs1v15, _sha256, _invalid_signature
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.hashes import SHA256

    _pkcs1v15, _sha256, _invalid_signature = PKCS1v15(), SHA256(), InvalidSignature


def signature_valid(token: UnverifiedToken, key: Any) -> bool:
    """RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over ``header.payload``."""
    if _pkcs1v15 is None:
        _load_crypto()
    try:
        key.verify(token.signature, token.signing_input, _pkcs1v15, _sha256)
    except _invalid_signature:
        return False
    except (TypeError, ValueError):
        return False
    return True


def decode_claims(token: UnverifiedToken) -> dict[str, Any]:
    """The payload as a dict. Call only after :func:`signature_valid`."""
    segment = token.payload_segment
    try:
        data = a2b_base64(segment.translate(_URLSAFE_TO_STD) + _PADDING[len(segment) % 4], strict_mode=True)
    except binascii.Error:
        raise TokenInvalidError("token segment is not base64url") from None
    return _json_object(data, "payload")


def _not_number(value: Any) -> bool:
    kind = type(value)
    return kind is not int and (kind is not float or not math.isfinite(value))


_ABSENT: Any = object()


def check_claims(claims: dict[str, Any], issuer: str | None) -> None:
    """Claims every Clerk session token must carry, independent of time."""
    exp = claims.get("exp")
    if type(exp) is not int and _not_number(exp):
        raise TokenInvalidError("exp missing or not a number")
    nbf = claims.get("nbf", _ABSENT)
    if nbf is not _ABSENT and type(nbf) is not int and _not_number(nbf):
        raise TokenInvalidError("nbf is not a number")
    iat = claims.get("iat", _ABSENT)
    if iat is not _ABSENT and type(iat) is not int and _not_number(iat):
        raise TokenInvalidError("iat is not a number")
    sub = claims.get("sub")
    if type(sub) is not str or not sub:
        raise TokenInvalidError("sub missing")
    if sub.startswith("mch_"):
        raise TokenInvalidError("machine token, not a session token")
    sid = claims.get("sid")
    if type(sid) is not str or not sid:
        raise TokenInvalidError("sid missing: not a session token")
    iss = claims.get("iss")
    if type(iss) is not str or not iss.startswith("https://"):
        raise TokenInvalidError("iss missing or not https")
    if issuer is not None and iss != issuer and iss.rstrip("/") != issuer:
        raise TokenInvalidError("iss does not match the configured issuer")
    azp = claims.get("azp")
    if azp is not None and type(azp) is not str:
        raise TokenInvalidError("azp is not a string")


def check_times(exp: float, nbf: float | None, iat: float | None, now: float, skew: float) -> None:
    """``exp``, ``nbf`` and ``iat`` against ``now`` with ``skew`` seconds of leeway."""
    if exp <= now - skew:
        raise TokenExpiredError()
    if nbf is not None and nbf > now + skew:
        raise TokenNotActiveYetError()
    if iat is not None and iat > now + skew:
        raise TokenIatInTheFutureError()


def check_authorized_party(azp: str | None, parties: frozenset[str] | None) -> None:
    """``azp`` must be one of ``parties`` when any are configured; a token
    without ``azp`` passes only when none are."""
    if parties is not None and azp not in parties:
        raise TokenInvalidAuthorizedPartiesError()
