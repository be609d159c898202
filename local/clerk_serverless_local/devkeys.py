"""A development key pair and dev session tokens, for local runs only.

The dev key stands in for your Clerk instance's signing key so sample events
and curl calls verify without a Clerk account. Its private half lives in the
repository on purpose (it signs nothing real); ``template.yaml`` never
references it, so ``sam deploy`` cannot ship it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEV_KID = "ins_dev_local"
DEV_ISSUER = "https://dev.clerk-serverless.local"
DEV_ORIGIN = "http://localhost:3000"
FAR_FUTURE = 4102444800  # 2100-01-01: sample events must verify whenever they are replayed


class DevKey:
    """The RSA key pair in ``dev/clerk-dev-key.pem`` (created on first use)."""

    def __init__(self, private_key: Any) -> None:
        self.private_key = private_key

    @classmethod
    def load(cls, path: Path) -> DevKey:
        """Read the PEM at ``path`` (never creates one)."""
        from cryptography.hazmat.primitives import serialization

        return cls(serialization.load_pem_private_key(path.read_bytes(), password=None))

    @classmethod
    def load_or_create(cls, path: Path) -> DevKey:
        """Read the PEM at ``path``, generating a fresh 2048-bit key if absent."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if path.exists():
            return cls.load(path)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cls(key)

    @property
    def public_pem(self) -> str:
        """The public half, as ``CLERK_JWT_KEY`` takes it."""
        from cryptography.hazmat.primitives import serialization

        pem: bytes = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem.decode()

    def token(
        self,
        sub: str = "user_dev_123",
        *,
        sid: str | None = None,
        org: str | None = None,
        org_role: str = "admin",
        org_permissions: list[str] | None = None,
        azp: str | None = DEV_ORIGIN,
        expired: bool = False,
        lifetime: float | None = 60.0,
        now: float | None = None,
    ) -> str:
        """A session token shaped like Clerk's v2 tokens, signed with the dev key.

        ``lifetime=None`` gives the far-future ``exp`` sample events use.
        ``org_permissions`` are ``org:<feature>:<permission>`` strings, encoded
        into the compact ``fea``/``o.per``/``o.fpm`` claims.
        """
        import jwt

        now = int(time.time() if now is None else now)
        claims: dict[str, Any] = {
            "sub": sub,
            "sid": sid or f"sess_{sub.removeprefix('user_')}",
            "iss": DEV_ISSUER,
            # As Clerk mints them: iat is the minting time, nbf 10 s before it.
            # (An iat backdated past a __client_uat written at sign-in reads as
            # "signed in again since": session-token-iat-before-client-uat.)
            "iat": now,
            "nbf": now - 10,
            "exp": now - 60 if expired else (FAR_FUTURE if lifetime is None else now + int(lifetime)),
            "v": 2,
            "sts": "active",
        }
        if azp:
            claims["azp"] = azp
        if org:
            claims.update(_v2_org_claims(org, org_role, org_permissions or []))
        if expired:
            claims["iat"], claims["nbf"] = now - 120, now - 125
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": DEV_KID, "typ": "JWT"})


    def machine_token(
        self,
        token_type: str = "m2m_token",
        *,
        sub: str | None = None,
        scopes: list[str] | None = None,
        expired: bool = False,
        lifetime: float | None = 3600.0,
        now: float | None = None,
    ) -> str:
        """A machine token in JWT form, signed with the dev key: an M2M token
        (``sub`` ``mch_…``, Clerk's M2M ``cat`` header) or an OAuth access token
        (``typ: at+jwt``, a user's ``sub``, ``client_id``, ``scope``)."""
        import jwt

        for scope in scopes or ():
            # Scopes travel space-separated: "read admin" would grant two, "" none.
            if not scope or any(c.isspace() or not c.isprintable() for c in scope):
                raise ValueError(f"a scope is one non-empty word without spaces or control characters, "
                                 f"not {scope!r} (repeat --scope for several)")
        now = int(time.time() if now is None else now)
        exp = now - 60 if expired else (FAR_FUTURE if lifetime is None else now + int(lifetime))
        claims: dict[str, Any] = {"iss": DEV_ISSUER, "iat": now - 5, "nbf": now - 10, "exp": exp}
        if token_type == "m2m_token":
            granted = scopes if scopes is not None else ["mch_dev_api"]
            claims.update(sub=sub or "mch_dev_worker", jti="mt_dev_0001", aud=granted, scopes=" ".join(granted))
            headers = {"kid": DEV_KID, "typ": "JWT", "cat": "cl_B7d4PD333AAA"}
        elif token_type == "oauth_token":
            granted = scopes if scopes is not None else ["read", "write"]
            claims.update(sub=sub or "user_dev_123", jti="oat_dev_0001", client_id="client_dev_app",
                          scope=" ".join(granted), azp=DEV_ORIGIN)
            headers = {"kid": DEV_KID, "typ": "at+jwt"}
        else:
            raise ValueError(f"machine tokens in JWT form are m2m_token or oauth_token, not {token_type!r}")
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


def _v2_org_claims(org_id: str, role: str, permissions: list[str]) -> dict[str, Any]:
    """Encode ``org:<feature>:<perm>`` strings the way Clerk's v2 tokens do."""
    features: list[str] = []
    names: list[str] = []
    grants: dict[str, set[str]] = {}
    for permission in permissions:
        parts = permission.split(":")
        if len(parts) != 3 or parts[0] != "org":
            raise ValueError(f"permissions look like org:<feature>:<permission>, not {permission!r}")
        _, feature, name = parts
        if feature not in grants:
            features.append(feature)
            grants[feature] = set()
        if name not in names:
            names.append(name)
        grants[feature].add(name)
    masks = [sum(1 << names.index(n) for n in grants[f]) for f in features]
    org: dict[str, Any] = {"id": org_id, "rol": role.removeprefix("org:"), "slg": org_id.removeprefix("org_")}
    claims: dict[str, Any] = {"o": org}
    if features:
        claims["fea"] = ",".join(f"o:{f}" for f in features)
        org["per"] = ",".join(names)
        org["fpm"] = ",".join(str(m) for m in masks)
    return claims
