"""Mint real RS256 session tokens (and hostile ones) with generated keys."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.test-instance.example"
ORIGIN = "https://app.example.com"
#: Clerk's M2M token category: the ``cat`` header of an M2M JWT.
M2M_CAT = "cl_B7d4PD333AAA"
#: The subjects of the machine JWTs below (Clerk IDs as its fixtures spell them).
MACHINE = "mch_2vYVtestTESTtestTESTtestTESTtest"
USER = "user_2vYVtestTESTtestTESTtestTESTtest"


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
        pem: bytes = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

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


def machine_jwt(
    key: SigningKey,
    kind: Literal["m2m_token", "oauth_token"],
    header: dict[str, Any] | None = None,
    *,
    lifetime: int = 300,
    **claims: Any,
) -> str:
    """A machine-token JWT as Clerk mints it, RS256-signed by ``key``.

    ``kind="m2m_token"``: an M2M token (header ``typ: JWT`` with Clerk's M2M
    ``cat``; subject :data:`MACHINE`, ``aud``/``scopes`` two machines, ``jti``
    ``mt_…``; clerk/javascript packages/backend/src/fixtures). ``"oauth_token"``:
    an OAuth access token from Clerk as identity provider (RFC 9068 ``typ:
    at+jwt``; subject :data:`USER`, ``client_id``, ``scope``, ``jti`` ``oat_…``,
    ``azp`` the test origin). Issued now, ``nbf`` 10 s earlier, ``exp``
    ``lifetime`` seconds later. ``header`` and ``claims`` are laid over these;
    a None value drops the field (``aud=None``, ``header={"cat": None}``).
    Opaque machine tokens (``ak_``/``mt_``/``oat_``) are registered with
    :class:`support.clerk_api.ClerkBackendApi` instead.
    """
    now = int(time.time())
    if kind == "m2m_token":
        head: dict[str, Any] = {"alg": "RS256", "kid": key.kid, "typ": "JWT", "cat": M2M_CAT}
        payload: dict[str, Any] = {
            "iss": ISSUER, "sub": MACHINE, "aud": ["mch_1xxxxx", "mch_2xxxxx"], "scopes": "mch_1xxxxx mch_2xxxxx",
            "jti": "mt_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE",
        }
    else:
        head = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}
        payload = {
            "iss": ISSUER, "sub": USER, "client_id": "client_2VTWUzvGC5UhdJCNx6xG1D98edc", "scope": "read:foo write:bar",
            "jti": "oat_2xKa9Bgv7NxMRDFyQw8LpZ3cTmU1vHjE", "azp": ORIGIN,
        }
    payload.update(exp=now + lifetime, iat=now, nbf=now - 10)
    head.update(header or {})
    payload.update(claims)
    return sign_raw(
        key, {k: v for k, v in head.items() if v is not None}, {k: v for k, v in payload.items() if v is not None}
    )


def m2m_jwt(key: SigningKey, header: dict[str, Any] | None = None, *, lifetime: int = 300, **claims: Any) -> str:
    """:func:`machine_jwt` of kind ``"m2m_token"``."""
    return machine_jwt(key, "m2m_token", header, lifetime=lifetime, **claims)


def oauth_jwt(
    key: SigningKey, typ: str | None = "at+jwt", header: dict[str, Any] | None = None, *, lifetime: int = 300, **claims: Any
) -> str:
    """:func:`machine_jwt` of kind ``"oauth_token"`` with header ``typ`` (None: none)."""
    return machine_jwt(key, "oauth_token", {"typ": typ, **(header or {})}, lifetime=lifetime, **claims)


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
