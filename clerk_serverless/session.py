"""The signed-in session a handler receives as ``event["session"]``."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _with_org_prefix(name: str) -> str:
    return name if name.startswith("org:") else f"org:{name}"


def v2_org_permissions(claims: Mapping[str, Any]) -> list[str]:
    """Decode the compact v2 ``o.per`` / ``o.fpm`` / ``fea`` claims into
    ``org:<feature>:<permission>`` strings, the way clerk-backend-api's
    ``authenticate_request`` does.

    ``fea`` lists scoped features (``o:reports,u:billing``); ``o.per`` the
    permission names; ``o.fpm`` one bitmask per entry of ``fea``, whose bit
    ``i`` (least significant first) grants ``per[i]``. Entries whose scope
    does not include ``o`` are skipped.
    """
    features_str = claims.get("fea")
    org = claims.get("o")
    if not isinstance(features_str, str) or not isinstance(org, dict):
        return []
    permissions_str, mappings_str = org.get("per"), org.get("fpm")
    if not isinstance(permissions_str, str) or not isinstance(mappings_str, str):
        return []
    features = features_str.split(",")
    permissions = permissions_str.split(",")
    granted: list[str] = []
    for index, mapping in enumerate(mappings_str.split(",")):
        if index >= len(features):
            continue
        scoped = features[index].split(":")
        if len(scoped) != 2 or "o" not in scoped[0]:
            continue
        try:
            bits = bin(int(mapping))[2:].lstrip("0")
        except ValueError:
            continue
        for position, bit in enumerate(reversed(bits)):
            if bit == "1" and position < len(permissions):
                granted.append(f"org:{scoped[1]}:{permissions[position]}")
    return granted


class SessionClaims:
    """What a verified token says, decoded once and shared by every request
    that presents the same token (see :class:`~clerk_serverless.tokencache.VerifiedTokenCache`).

    Organization fields are decoded on first access: most requests never
    look at them, and the v2 permission bitmasks are the costliest part.
    """

    __slots__ = ("user_id", "session_id", "azp", "exp", "nbf", "iat", "status", "_raw", "_org")

    def __init__(self, claims: dict[str, Any]) -> None:
        self.user_id: str = claims["sub"]
        self.session_id: str = claims["sid"]
        self.azp: str | None = claims.get("azp")
        self.exp: float = claims["exp"]
        self.nbf: float | None = claims.get("nbf")
        self.iat: float | None = claims.get("iat")
        sts = claims.get("sts")
        self.status: str | None = sts if type(sts) is str else None
        self._raw = claims
        self._org: tuple[Any, ...] | None = None

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim, read-only."""
        return MappingProxyType(self._raw)

    @property
    def actor(self) -> Mapping[str, Any] | None:
        act = self._raw.get("act")
        return MappingProxyType(act) if isinstance(act, dict) else None

    @property
    def factor_verification_age(self) -> tuple[Any, ...] | None:
        fva = self._raw.get("fva")
        return tuple(fva) if isinstance(fva, list) else None

    def _organization(self) -> tuple[Any, ...]:
        org = self._org
        if org is None:
            org = self._org = _decode_org(self._raw)
        return org

    org_id = property(lambda self: self._organization()[0])
    org_role = property(lambda self: self._organization()[1])
    org_slug = property(lambda self: self._organization()[2])
    org_permissions = property(lambda self: self._organization()[3])


def _decode_org(claims: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, tuple[str, ...]]:
    """``(org_id, org_role, org_slug, org_permissions)`` from v1 or v2 claims;
    v2's ``rol`` becomes ``org:<rol>`` as in Clerk's JS and Go SDKs."""
    if claims.get("v") == 2:
        org = claims.get("o")
        if not isinstance(org, dict) or not org:
            return None, None, None, ()
        role = _str_or_none(org.get("rol"))
        return (
            _str_or_none(org.get("id")),
            _with_org_prefix(role) if role else None,
            _str_or_none(org.get("slg")),
            tuple(v2_org_permissions(claims)),
        )
    perms = claims.get("org_permissions")
    return (
        _str_or_none(claims.get("org_id")),
        _str_or_none(claims.get("org_role")),
        _str_or_none(claims.get("org_slug")),
        tuple(p for p in perms if isinstance(p, str)) if isinstance(perms, list) else (),
    )


class Session:
    """A verified Clerk session.

    Attributes: ``user_id`` (``sub``), ``session_id`` (``sid``), ``org_id``,
    ``org_role`` (``org:<role>``), ``org_slug``, ``org_permissions``,
    ``actor`` (impersonation ``act`` claim), ``status`` (``sts``),
    ``factor_verification_age`` (``fva``), ``claims`` (read-only mapping of
    every claim) and ``token`` (the raw session token, for calling Clerk on the
    user's behalf; never logged, never shown by ``repr``).
    """

    __slots__ = ("_c", "token", "_user", "_api")

    def __init__(self, claims: SessionClaims, token: str, api: Any = None) -> None:
        self._c = claims
        self.token = token
        self._user: Any = None
        self._api = api

    user_id = property(lambda self: self._c.user_id, doc="The user's ID (``sub``).")
    session_id = property(lambda self: self._c.session_id, doc="The session's ID (``sid``).")
    org_id = property(lambda self: self._c.org_id, doc="Active organization ID, or None.")
    org_role = property(lambda self: self._c.org_role, doc="Role in the active organization (``org:<role>``).")
    org_slug = property(lambda self: self._c.org_slug, doc="Active organization slug, or None.")
    org_permissions = property(
        lambda self: self._c.org_permissions, doc="Permissions in the active organization (tuple)."
    )
    actor = property(lambda self: self._c.actor, doc="The ``act`` claim when impersonated, else None.")
    status = property(lambda self: self._c.status, doc="Session status (``sts``): active, pending or None.")
    factor_verification_age = property(
        lambda self: self._c.factor_verification_age, doc="Minutes since first/second factor verification."
    )
    claims = property(lambda self: self._c.claims, doc="Every claim of the token (read-only).")
    expires_at = property(lambda self: self._c.exp, doc="Token expiry, seconds since the epoch.")

    def user(self) -> dict[str, Any]:
        """The Clerk user object, fetched from the Backend API
        (``GET /v1/users/{user_id}``) on first call and kept for this request,
        like the Rack middleware's lazy ``clerk.user``.

        Needs the secret key (``secret_key``, ``CLERK_SECRET_KEY`` or
        ``secret_key_parameter``). Raises
        :class:`~clerk_serverless.errors.ClerkUnavailableError` when Clerk
        cannot be reached, :class:`~clerk_serverless.errors.UserNotFoundError`
        when the user is gone.
        """
        if self._user is None:
            if self._api is None:
                from .errors import ClerkConfigError

                raise ClerkConfigError(
                    "secret_key",
                    "session.user() calls Clerk's Backend API and needs the secret key "
                    "(secret_key / CLERK_SECRET_KEY, or secret_key_parameter / secret_key_secret_id)",
                )
            self._user = self._api.get_user(self._c.user_id)
        return self._user

    def has(self, *, permission: str | None = None, role: str | None = None) -> bool:
        """True when the active organization grants ``permission`` and/or
        ``role`` (``org:`` prefix optional, as in Clerk's ``has()``)."""
        c = self._c
        if c.org_id is None or (permission is None and role is None):
            return False
        if permission is not None and _with_org_prefix(permission) not in c.org_permissions:
            return False
        if role is not None and c.org_role != _with_org_prefix(role):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready identity fields (no token, no raw claims)."""
        c = self._c
        return {
            "user_id": c.user_id,
            "session_id": c.session_id,
            "org_id": c.org_id,
            "org_role": c.org_role,
            "org_slug": c.org_slug,
            "org_permissions": list(c.org_permissions),
            "actor": dict(c.actor) if c.actor is not None else None,
            "status": c.status,
        }

    def __repr__(self) -> str:
        c = self._c
        return f"Session(user_id={c.user_id!r}, session_id={c.session_id!r}, org_id={c.org_id!r}, token=<redacted>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)
