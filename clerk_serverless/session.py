"""The signed-in session a handler receives as ``event["session"]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .authorization import Authorization, Reverification, ReverificationConfig, authorization_from_claims
from .readonly import frozen_json, plain_json

if TYPE_CHECKING:
    from .backend_api import BackendApi


class SessionClaims:
    """What a verified token says, decoded once and shared by every request
    that presents the same token (see :class:`~clerk_serverless.tokencache.VerifiedTokenCache`).

    The organization, features, plans and ``fva`` are decoded on first access
    (:func:`~clerk_serverless.authorization.authorization_from_claims`): most
    requests never look at them, and the v2 permission masks are the costliest part.
    """

    __slots__ = ("user_id", "session_id", "azp", "exp", "nbf", "iat", "status", "_raw", "_authorization", "_frozen")

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
        self._authorization: Authorization | None = None
        self._frozen: Mapping[str, Any] | None = None

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim, read-only all the way down (objects and arrays as
        read-only ``dict`` and ``list`` subclasses, which ``json.dumps`` and
        ``==`` take as the decoded JSON they are): these
        claims are shared by every request presenting the same token, and
        decide their permissions."""
        frozen = self._frozen
        if frozen is None:
            frozen = self._frozen = frozen_json(self._raw)
        return frozen

    @property
    def actor(self) -> Mapping[str, Any] | None:
        """The ``act`` claim (impersonation), read-only."""
        act = self.claims.get("act")
        return act if isinstance(act, Mapping) else None

    @property
    def authorization(self) -> Authorization:
        """Organization, permissions, features, plans and ``fva``, decoded once."""
        decoded = self._authorization
        if decoded is None:
            decoded = self._authorization = authorization_from_claims(self._raw)
        return decoded


class Session:
    """A verified Clerk session: what a handler finds in ``event["session"]``
    (and ``event["auth"]``).

    Attributes: ``token_type`` (``"session_token"``), ``user_id`` (``sub``),
    ``session_id`` (``sid``), ``org_id``, ``org_role`` (``org:<role>``),
    ``org_slug``, ``org_permissions``, ``features`` (``fea``), ``plans``
    (``pla``), ``actor`` (impersonation ``act`` claim), ``status`` (``sts``),
    ``factor_verification_age`` (``fva``), ``claims`` (read-only mapping of
    every claim), ``expires_at`` and ``token`` (the raw session token, for
    calling Clerk on the user's behalf; never logged, never shown by
    ``repr``). Methods: :meth:`has`, :meth:`user`, :meth:`to_dict`.
    """

    __slots__ = ("_c", "token", "_user", "_api")

    token_type = "session_token"

    def __init__(self, claims: SessionClaims, token: str, api: BackendApi | None = None) -> None:
        self._c = claims
        self.token = token
        self._user: dict[str, Any] | None = None
        self._api = api

    @property
    def user_id(self) -> str:
        """The user's ID (``sub``)."""
        return self._c.user_id

    @property
    def session_id(self) -> str:
        """The session's ID (``sid``)."""
        return self._c.session_id

    @property
    def org_id(self) -> str | None:
        """Active organization ID, or None."""
        return self._c.authorization.org_id

    @property
    def org_role(self) -> str | None:
        """Role in the active organization (``org:<role>``; v1 tokens as issued)."""
        return self._c.authorization.org_role

    @property
    def org_slug(self) -> str | None:
        """Active organization slug, or None."""
        return self._c.authorization.org_slug

    @property
    def org_permissions(self) -> tuple[str, ...]:
        """Permissions in the active organization."""
        return self._c.authorization.org_permissions

    @property
    def features(self) -> tuple[str, ...]:
        """Features of the user's and the organization's plans (``fea``), scoped
        ``user:<name>`` / ``org:<name>``."""
        a = self._c.authorization
        return tuple(f"user:{f}" for f in a.user_features) + tuple(f"org:{f}" for f in a.org_features)

    @property
    def plans(self) -> tuple[str, ...]:
        """The user's and the organization's plans (``pla``), scoped ``user:``/``org:``."""
        a = self._c.authorization
        return tuple(f"user:{p}" for p in a.user_plans) + tuple(f"org:{p}" for p in a.org_plans)

    @property
    def actor(self) -> Mapping[str, Any] | None:
        """The ``act`` claim when impersonated, else None."""
        return self._c.actor

    @property
    def status(self) -> str | None:
        """Session status (``sts``): ``active``, ``pending`` or None."""
        return self._c.status

    @property
    def factor_verification_age(self) -> tuple[float, float] | None:
        """Minutes since first and second factor verification (``fva``; -1: never)."""
        return self._c.authorization.factor_verification_age

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim of the token (read-only)."""
        return self._c.claims

    @property
    def expires_at(self) -> float:
        """Token expiry, seconds since the epoch."""
        return self._c.exp

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

    def has(
        self,
        *,
        permission: str | None = None,
        role: str | None = None,
        feature: str | None = None,
        plan: str | None = None,
        reverification: ReverificationConfig | Reverification | None = None,
    ) -> bool:
        """Clerk's ``has()``, decided exactly as @clerk/shared does: true when
        every condition asked for holds (none asked: false).

        ``permission``/``role`` need an active organization (``org:`` prefix
        optional, legacy v1 roles included); ``feature``/``plan`` read ``fea``
        and ``pla`` (``org:``/``user:`` prefix picks the scope, bare names
        match either); ``reverification`` (``"strict"``, ``"strict_mfa"``,
        ``"moderate"``, ``"lax"`` or ``{"level": …, "after_minutes": …}``)
        reads ``fva``. See :mod:`clerk_serverless.authorization`.
        """
        return self._c.authorization.has(
            permission=permission, role=role, feature=feature, plan=plan, reverification=reverification
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready identity fields (no token, no raw claims)."""
        actor = self.actor
        return {
            "token_type": self.token_type,
            "user_id": self.user_id,
            "session_id": self.session_id,
            "org_id": self.org_id,
            "org_role": self.org_role,
            "org_slug": self.org_slug,
            "org_permissions": list(self.org_permissions),
            "actor": plain_json(actor) if actor is not None else None,
            "status": self.status,
        }

    def __repr__(self) -> str:
        return (
            f"Session(user_id={self.user_id!r}, session_id={self.session_id!r}, "
            f"org_id={self.org_id!r}, token=<redacted>)"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Session) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)
