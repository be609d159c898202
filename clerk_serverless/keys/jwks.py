"""Read a JWKS document into RS256 verification keys.

A JWK's ``n`` and ``e`` become a key through :mod:`cryptography`'s
``RSAPublicNumbers`` directly (PyJWT is not imported at run time: ~55 ms of a
cold start). What is accepted, and why:

* ``n`` and ``e`` are base64url without padding over the alphabet
  ``A-Z a-z 0-9 - _``, in canonical form (unused trailing bits zero), as RFC
  7515 §2 and RFC 7518 §6.3.1 define them. Padding, whitespace, the ``+``/``/``
  alphabet and any other character are refused: lenient decoders (PyJWT's,
  Node's) silently skip them, which lets two different strings name one key.
* One leading zero octet is tolerated: RFC 7518 §6.3.1.1 tells producers to
  omit it, but notes that libraries emit it, and @clerk/backend (WebCrypto in
  Node) and PyJWT accept it; the integer is the same.
* ``n`` from 2048 to 8192 bits and odd; ``e`` odd, at least 3, at most 33 bits
  (BoringSSL's bound; Clerk uses 65537). Larger values only serve to make
  each verification expensive.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import JSON_ERRORS, JwksInvalidError

if TYPE_CHECKING:  # cryptography loads with the first key, not with the package
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

MAX_KEYS = 100
MIN_MODULUS_BITS = 2048
MAX_MODULUS_BITS = 8192
MAX_EXPONENT_BITS = 33
# The base64url alphabet, checked with bytes.translate: a regular expression
# would be compiled by the first JWKS of a cold start (~40 µs).
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


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


def _uint(value: Any, name: str, max_bits: int) -> int:
    """A JWK Base64urlUInt (RFC 7518 §2), strictly decoded and size-capped."""
    import base64

    max_octets = (max_bits + 7) // 8 + 1  # one leading zero octet tolerated
    if not isinstance(value, str) or len(value) > (max_octets * 4 + 2) // 3 or len(value) % 4 == 1:
        raise JwksInvalidError(f"JWK '{name}' is not a base64url integer of a usable size")
    if not value or not value.isascii() or value.encode("ascii").translate(None, _B64URL_ALPHABET):
        raise JwksInvalidError(f"JWK '{name}' is not base64url without padding")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != value:
        raise JwksInvalidError(f"JWK '{name}' is not canonical base64url")
    if len(raw) > 1 and raw[0] == 0 and raw[1] == 0:
        raise JwksInvalidError(f"JWK '{name}' has more than one leading zero octet")
    return int.from_bytes(raw, "big")


def rsa_public_key(jwk: Mapping[str, Any]) -> RSAPublicKey:
    """The RSA public key (:mod:`cryptography`) of a JWK's ``n`` and ``e``.

    Raises :class:`JwksInvalidError` unless both are strict base64url
    integers, ``n`` is odd and 2048–8192 bits, and ``e`` is odd, ≥ 3 and at
    most 33 bits. Other members (kty, use, alg, kid) are the caller's to check.
    """
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    n = _uint(jwk.get("n"), "n", MAX_MODULUS_BITS)
    e = _uint(jwk.get("e"), "e", MAX_EXPONENT_BITS)
    if not MIN_MODULUS_BITS <= n.bit_length() <= MAX_MODULUS_BITS or n % 2 == 0:
        raise JwksInvalidError(f"JWK modulus must be odd and {MIN_MODULUS_BITS}-{MAX_MODULUS_BITS} bits")
    if e < 3 or e % 2 == 0 or e.bit_length() > MAX_EXPONENT_BITS:
        raise JwksInvalidError("JWK exponent must be odd, at least 3 and at most 33 bits")
    try:
        return RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise JwksInvalidError("JWK is not a valid RSA public key") from None


def parse_jwks(body: bytes, previous: Mapping[str, RSAPublicKey] | None = None) -> dict[str, RSAPublicKey]:
    """Return ``{kid: RSAPublicKey}`` for the usable keys in ``body``.

    A key identical to one in ``previous`` (same kid, n and e) keeps its old
    object, so a refresh that changes nothing keeps cached verdicts valid.
    Raises :class:`JwksInvalidError` unless at least one usable key is found.
    """
    try:
        document = json.loads(body)
    except JSON_ERRORS:  # UnicodeDecodeError is a ValueError
        raise JwksInvalidError("JWKS response is not JSON") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise JwksInvalidError("JWKS response has no 'keys' list")

    previous_jwks = getattr(previous, "jwks", {}) if previous is not None else {}
    keys: dict[str, RSAPublicKey] = {}
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
            key = rsa_public_key(jwk)
        except JwksInvalidError:
            continue
        keys[kid] = key
        jwks[kid] = fingerprint
    if not keys:
        raise JwksInvalidError("JWKS response holds no usable RS256 signing key")
    return KeyMap(keys, jwks)


class KeyMap(dict[str, "RSAPublicKey"]):
    """``{kid: key}`` that also remembers each key's JWK (n, e) fingerprint."""

    __slots__ = ("jwks",)

    def __init__(self, keys: dict[str, RSAPublicKey], jwks: dict[str, tuple[str, str]]) -> None:
        super().__init__(keys)
        self.jwks = jwks
