"""Read a JWKS document into RS256 verification keys.

PyJWT's :class:`jwt.PyJWK` does the JWK → key conversion; this module only
decides which entries are usable signing keys for Clerk session tokens.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from ..errors import JwksInvalidError

MAX_KEYS = 100


def _usable(jwk: Any) -> bool:
    return (
        isinstance(jwk, dict)
        and jwk.get("kty") == "RSA"
        and jwk.get("use", "sig") == "sig"
        and jwk.get("alg", "RS256") == "RS256"
        and isinstance(jwk.get("kid"), str)
        and bool(jwk["kid"])
        and isinstance(jwk.get("n"), str)
        and isinstance(jwk.get("e"), str)
    )


def parse_jwks(body: bytes, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return ``{kid: RSAPublicKey}`` for the usable keys in ``body``.

    A key identical to one in ``previous`` (same kid, n and e) keeps its old
    object, so a refresh that changes nothing keeps cached verdicts valid.
    Raises :class:`JwksInvalidError` unless at least one usable key is found.
    """
    from jwt import PyJWK
    from jwt.exceptions import PyJWTError

    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise JwksInvalidError("JWKS response is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksInvalidError("JWKS response has no 'keys' list")

    previous_jwks = getattr(previous, "jwks", {}) if previous is not None else {}
    keys: dict[str, Any] = {}
    jwks: dict[str, tuple[str, str]] = {}
    for jwk in entries[:MAX_KEYS]:
        if not _usable(jwk):
            continue
        kid, fingerprint = jwk["kid"], (jwk["n"], jwk["e"])
        if previous is not None and previous_jwks.get(kid) == fingerprint:
            keys[kid] = previous[kid]
            jwks[kid] = fingerprint
            continue
        try:
            key = PyJWK({"kty": "RSA", "kid": kid, "n": jwk["n"], "e": jwk["e"]}, "RS256").key
        except (PyJWTError, ValueError, TypeError):
            continue
        if getattr(key, "key_size", 0) < 2048:
            continue
        keys[kid] = key
        jwks[kid] = fingerprint
    if not keys:
        raise JwksInvalidError("JWKS response holds no usable RS256 signing key")
    return KeyMap(keys, jwks)


class KeyMap(dict):
    """``{kid: key}`` that also remembers each key's JWK (n, e) fingerprint."""

    __slots__ = ("jwks",)

    def __init__(self, keys: dict[str, Any], jwks: dict[str, tuple[str, str]]) -> None:
        super().__init__(keys)
        self.jwks = jwks
