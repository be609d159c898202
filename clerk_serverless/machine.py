"""``MachineAuth``: a verified Clerk API key, M2M token or OAuth access token.

What a handler finds in ``event["auth"]`` for a machine token, with the
fields @clerk/backend's machine auth objects have (snake_case here):

===============  =============================================================
token_type       ``"api_key"``, ``"m2m_token"`` or ``"oauth_token"``
id               the token's ID (``ak_…``/``mt_…``/``oat_…``; a JWT's ``jti``)
subject          who it acts for: ``user_…``, ``org_…`` or ``mch_…``
scopes           granted scopes (a read-only list)
claims           custom claims (read-only all the way down), or None
user_id          API keys of a user, OAuth tokens: the subject; else None
org_id           API keys of an organization: the subject; else None
machine_id       M2M tokens: the subject; else None
client_id        OAuth tokens: the OAuth application ("" if a JWT names none); else None
name             API keys: the key's name; else None
expiration       expiry, seconds since the epoch, or None (never expires)
===============  =============================================================

``has()`` is always False, as for Clerk's machine auth objects: machines
hold no organization permissions or roles (use ``scopes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .readonly import ReadOnlyList, frozen_json, plain_json
from .token_types import API_KEY, M2M_TOKEN, OAUTH_TOKEN

_REGISTERED = frozenset({"iss", "sub", "exp", "nbf", "iat", "jti"})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s for s in value.split(" ") if s]
    if isinstance(value, list):
        return [s for s in value if isinstance(s, str) and s]
    return []


def _seconds_from_ms(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1000.0
    return None


class MachineAuth:
    """A verified API key, M2M token or OAuth access token: what a handler
    finds in ``event["auth"]`` for a machine token (read-only; ``repr`` never
    shows the token).

    Attributes:
        token_type: ``"api_key"``, ``"m2m_token"`` or ``"oauth_token"``.
        id: the token's ID (``ak_…``/``mt_…``/``oat_…``; a JWT's ``jti``).
        subject: who it acts for: ``user_…``, ``org_…`` or ``mch_…``.
        scopes: granted scopes (a read-only list); ``scopes=[…]`` on a route requires them.
        claims: custom claims (read-only all the way down), or None.
        user_id: API keys of a user, OAuth tokens: the subject; else None.
        org_id: API keys of an organization: the subject; else None.
        machine_id: M2M tokens: the subject; else None.
        client_id: OAuth tokens: the OAuth application (``""`` if a JWT names none); else None.
        name: API keys: the key's name; else None.
        expiration: expiry in seconds since the epoch, or None (never expires).

    ``has()`` is always False, as for Clerk's machine auth objects.
    """

    __slots__ = (
        "token_type", "id", "subject", "scopes", "claims", "user_id", "org_id",
        "machine_id", "client_id", "name", "expiration", "token",
    )

    def __init__(
        self,
        token_type: str,
        *,
        id: str,
        subject: str,
        scopes: list[str],
        claims: Mapping[str, Any] | None,
        expiration: float | None,
        token: str,
        client_id: str | None = None,
        name: str | None = None,
    ) -> None:
        self.token_type = token_type
        self.id = id
        self.subject = subject
        # A list, as Clerk's SDKs give it, that refuses changes (the identity is shared, see claims).
        self.scopes: list[str] = ReadOnlyList(scopes)
        # Read-only all the way down: an opaque token's identity is cached and
        # handed to every request presenting it (as Session.claims).
        self.claims: Mapping[str, Any] | None = frozen_json(claims) if claims is not None else None
        self.expiration = expiration
        self.client_id = client_id if token_type == OAUTH_TOKEN else None
        self.name = name if token_type == API_KEY else None
        acts_for_user = token_type == OAUTH_TOKEN or (token_type == API_KEY and subject.startswith("user_"))
        self.user_id = subject if acts_for_user else None
        self.org_id = subject if token_type == API_KEY and subject.startswith("org_") else None
        self.machine_id = subject if token_type == M2M_TOKEN else None
        self.token = token  # last: the object is read-only from here on

    @classmethod
    def from_backend_api(cls, token_type: str, data: Mapping[str, Any], token: str) -> MachineAuth:
        """From a Backend API verify answer (``POST /…/verify``; times in ms)."""
        claims = data.get("claims")
        return cls(
            token_type,
            id=_str(data.get("id")) or "",
            subject=_str(data.get("subject")) or "",
            scopes=_str_list(data.get("scopes")),
            claims=claims if isinstance(claims, dict) else None,
            expiration=_seconds_from_ms(data.get("expiration")),
            token=token,
            client_id=_str(data.get("client_id")),
            name=_str(data.get("name")),
        )

    @classmethod
    def from_jwt(cls, token_type: str, payload: Mapping[str, Any], token: str) -> MachineAuth:
        """From the verified payload of an M2M or OAuth access token JWT."""
        # A claim other than null is final, even empty (as @clerk/backend's
        # ``scopes?.split(" ") ?? aud`` and ``scp ?? scope``).
        first, then = ("scopes", "aud") if token_type == M2M_TOKEN else ("scp", "scope")
        value = payload.get(first)
        scopes = _str_list(value if value is not None else payload.get(then))
        custom = {k: v for k, v in payload.items() if k not in _REGISTERED}
        exp = payload.get("exp")
        return cls(
            token_type,
            id=_str(payload.get("jti")) or "",
            subject=_str(payload.get("sub")) or "",
            scopes=scopes,
            claims=custom or None,
            expiration=float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
            token=token,
            # "" without one, as the jti and @clerk/backend's ``client_id ?? ''``
            client_id=_str(payload.get("client_id")) or "",
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "token"):  # set last in __init__: from then on, read-only
            raise AttributeError(f"MachineAuth is read-only ({name})")
        object.__setattr__(self, name, value)

    def has(self, **_: Any) -> bool:
        """Always False: machine tokens carry no organization permissions,
        roles, features or plans (check ``scopes``)."""
        return False

    def has_scopes(self, scopes: tuple[str, ...]) -> bool:
        """True when every one of ``scopes`` was granted."""
        granted = self.scopes
        return all(scope in granted for scope in scopes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready identity fields (no token)."""
        return {
            "token_type": self.token_type,
            "id": self.id,
            "subject": self.subject,
            "scopes": list(self.scopes),
            "claims": plain_json(self.claims) if self.claims is not None else None,
            "user_id": self.user_id,
            "org_id": self.org_id,
            "machine_id": self.machine_id,
            "client_id": self.client_id,
            "name": self.name,
            "expiration": self.expiration,
        }

    def __repr__(self) -> str:
        return (
            f"MachineAuth(token_type={self.token_type!r}, id={self.id!r}, subject={self.subject!r}, token=<redacted>)"
        )
