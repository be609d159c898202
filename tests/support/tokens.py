"""Mint real RS256 session tokens (and hostile ones) with generated keys."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.test-instance.example"
ORIGIN = "https://app.example.com"


@dataclass
class SigningKey:
    """An RSA key pair with a kid, as Clerk's JWKS would publish it."""

    kid: str
    private: Any = field(repr=False)

    @classmethod
    def generate(cls, kid: str, bits: int = 2048) -> SigningKey:
        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    @property
    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()

        def b64(n: int) -> str:
            raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": b64(numbers.n), "e": b64(numbers.e)}


def claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a fresh, valid Clerk v1 session token; ``None`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user_2abc",
        "sid": "sess_2xyz",
        "iss": ISSUER,
        "azp": ORIGIN,
        "iat": now - 2,
        "nbf": now - 7,
        "exp": now + 60,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: SigningKey, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
    """A real RS256 token signed by ``key`` (kid in the header)."""
    header = {"kid": key.kid, "typ": "JWT"}
    header.update(headers or {})
    header = {k: v for k, v in header.items() if v is not None}
    return jwt.encode(claims(**overrides), key.private, algorithm="RS256", headers=header)


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A token assembled by hand (for attacks: any header, any signature)."""
    return f"{b64url(json.dumps(header))}.{b64url(json.dumps(payload))}.{b64url(signature)}"


def sign_raw(key: SigningKey, header: dict[str, Any], payload: dict[str, Any] | bytes) -> str:
    """A correctly RS256-signed token over an arbitrary header and payload."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(json.dumps(header))}.{b64url(body)}"
    signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


class Clock:
    """A wall clock the test moves by hand (``ClerkAuth(clock=...)``)."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fresh(key: SigningKey, clock: Clock, **claims: Any) -> str:
    """A token that is valid at the clock's (moved) time."""
    now = int(clock.now)
    return mint(key, **{"iat": now - 2, "nbf": now - 7, "exp": now + 60, **claims})


def auth_factory(jwks_url: str) -> Any:
    """``build(**kw) -> ClerkAuth`` on ``jwks_url`` with the suite's defaults
    (the test origin as authorized party, the test issuer); ``kw`` overrides."""
    from clerk_serverless import ClerkAuth

    def build(**kw: Any) -> ClerkAuth:
        kw.setdefault("jwks_url", jwks_url)
        kw.setdefault("authorized_parties", [ORIGIN])
        kw.setdefault("issuer", ISSUER)
        return ClerkAuth(**kw)

    return build
