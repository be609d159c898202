"""What a route requires, and the checks that decide it (pure, no I/O).

A :class:`Policy` is built once, when a decorator or middleware is applied
(so a mistake is a :class:`~clerk_serverless.errors.ClerkConfigError` at cold
start), and checked on every request by every entry point alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from .authorization import Reverification, ReverificationConfig, parse_reverification, reverification_error_body
from .config import parse_authorized_parties
from .errors import (
    AuthError,
    ClerkConfigError,
    ClientUatMissingError,
    FeatureDeniedError,
    MachineTokenMissingError,
    OriginInvalidError,
    PermissionDeniedError,
    PlanDeniedError,
    ReverificationRequiredError,
    RoleDeniedError,
    ScopeDeniedError,
    SessionIdMismatchError,
    SessionPendingError,
    SessionTokenIatInTheFutureError,
    SessionTokenNbfError,
    TokenExpiredError,
    TokenIatInTheFutureError,
    TokenInvalidAuthorizedPartiesError,
    TokenNotActiveYetError,
    TokenTypeMismatchError,
)
from .lookup import client_uat_time
from .machine import MachineAuth
from .token_types import SESSION_TOKEN, AcceptsToken, parse_accepts

if TYPE_CHECKING:
    from .session import Session, SessionClaims
    from .sources import Request

#: Methods that must not change state, so need no cross-site request check.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class Inherit:
    """Marker for "not set here: use the ``ClerkAuth`` setting"."""

    _instance: Inherit | None = None

    def __new__(cls) -> Inherit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<inherit>"


INHERIT: Final = Inherit()


_FIELDS: Final = (
    "accepts",
    "authorized_parties",
    "permissions",
    "roles",
    "features",
    "plans",
    "scopes",
    "reverification",
    "treat_pending_as_signed_out",
    "accepts_list",
)


class Policy:
    """A route's requirements. Build it with :meth:`build`, which validates.

    ``accepts_token``: the token types admitted (default session tokens only);
    given as a list (``accepts_list``), a header token's type is told apart
    and judged before it is verified, and a request without one is refused
    unless the list holds session tokens, as @clerk/backend's array check.
    ``authorized_parties`` overrides the ``ClerkAuth`` setting when given.
    Every entry of ``permissions``, ``features`` and ``scopes`` is required;
    any one of ``roles`` and of ``plans`` is enough; ``reverification`` asks
    for a recent enough factor verification. Each requirement applies to
    every token admitted, and fails closed on a token that cannot carry it:
    machine tokens hold no permissions, roles, features, plans or ``fva``;
    session tokens hold no scopes.

    Immutable, compared and hashed by value, as a frozen dataclass would be
    (written out because :mod:`dataclasses` imports :mod:`inspect` and
    :mod:`ast`: ~4 ms of a cold start).
    """

    __slots__ = (*_FIELDS, "checks_access", "classifies")
    __match_args__ = _FIELDS

    accepts: frozenset[str]
    authorized_parties: frozenset[str] | None | Inherit
    permissions: tuple[str, ...]
    roles: tuple[str, ...]
    features: tuple[str, ...]
    plans: tuple[str, ...]
    scopes: tuple[str, ...]
    reverification: Reverification | None
    treat_pending_as_signed_out: bool
    accepts_list: bool
    checks_access: bool
    """True when :func:`check_access` has anything to check (derived, not a field)."""
    classifies: bool
    """True when a header token's type is told apart before it is verified:
    anything but session tokens alone, given as a string (derived)."""

    def __init__(
        self,
        accepts: frozenset[str] = frozenset({SESSION_TOKEN}),
        authorized_parties: frozenset[str] | None | Inherit = INHERIT,
        permissions: tuple[str, ...] = (),
        roles: tuple[str, ...] = (),
        features: tuple[str, ...] = (),
        plans: tuple[str, ...] = (),
        scopes: tuple[str, ...] = (),
        reverification: Reverification | None = None,
        treat_pending_as_signed_out: bool = True,
        accepts_list: bool = False,
    ) -> None:
        values = (accepts, authorized_parties, permissions, roles, features, plans, scopes, reverification,
                  treat_pending_as_signed_out, accepts_list)
        for name, value in zip(_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)
        checks = bool(permissions or roles or features or plans or scopes or reverification)
        object.__setattr__(self, "checks_access", checks)
        object.__setattr__(self, "classifies", accepts_list or accepts != {SESSION_TOKEN})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Policy) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={getattr(self, name)!r}' for name in _FIELDS)})"

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle, despite __setattr__
        return type(self), self._values()

    @classmethod
    def build(
        cls,
        *,
        accepts_token: AcceptsToken = SESSION_TOKEN,
        authorized_parties: Iterable[str] | str | None | Inherit = INHERIT,
        permissions: Iterable[str] | str | None = None,
        roles: Iterable[str] | str | None = None,
        features: Iterable[str] | str | None = None,
        plans: Iterable[str] | str | None = None,
        scopes: Iterable[str] | str | None = None,
        reverification: ReverificationConfig | Reverification | None = None,
        treat_pending_as_signed_out: bool = True,
    ) -> Policy:
        """Validate route options (raises :class:`ClerkConfigError`).

        ``authorized_parties=None`` means "not given" here as on ``ClerkAuth``:
        the instance's parties apply. A route can narrow them, never switch
        the ``azp`` check and the cookie-write origin rule off by accident
        (``authorized_parties=os.environ.get(...)`` with the variable unset).
        """
        parties = (
            INHERIT
            if authorized_parties is None or isinstance(authorized_parties, Inherit)
            else parse_authorized_parties(authorized_parties, "authorized_parties")
        )
        if not isinstance(treat_pending_as_signed_out, bool):
            raise ClerkConfigError("treat_pending_as_signed_out", "must be True or False")
        return cls(
            parse_accepts(accepts_token),
            parties,
            names(permissions, "permissions"),
            names(roles, "roles"),
            names(features, "features"),
            names(plans, "plans"),
            names(scopes, "scopes"),
            parse_reverification(reverification) if reverification is not None else None,
            treat_pending_as_signed_out,
            not isinstance(accepts_token, str),
        )

    def parties(self, default: frozenset[str] | None) -> frozenset[str] | None:
        """The authorized parties in force: this policy's, else ``default``."""
        parties = self.authorized_parties
        return default if isinstance(parties, Inherit) else parties


DEFAULT_POLICY: Final = Policy()


def names(values: Iterable[str] | str | None, setting: str) -> tuple[str, ...]:
    """A tuple of non-empty strings from a string or an iterable of them."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    try:
        items: tuple[Any, ...] = tuple(values)
    except TypeError:
        raise ClerkConfigError(setting, "must be a list of strings") from None
    if not all(isinstance(v, str) and v for v in items):
        raise ClerkConfigError(setting, "must be a list of non-empty strings")
    return items


def check_access(auth: Session | MachineAuth, policy: Policy) -> None:
    """Every requirement of ``policy`` (403 otherwise), reverification last:
    re-verifying cannot grant a missing permission."""
    for permission in policy.permissions:
        if not auth.has(permission=permission):
            raise PermissionDeniedError()
    if policy.roles and not any(auth.has(role=role) for role in policy.roles):
        raise RoleDeniedError()
    for feature in policy.features:
        if not auth.has(feature=feature):
            raise FeatureDeniedError()
    if policy.plans and not any(auth.has(plan=plan) for plan in policy.plans):
        raise PlanDeniedError()
    if policy.scopes and not (isinstance(auth, MachineAuth) and auth.has_scopes(policy.scopes)):
        raise ScopeDeniedError()  # session tokens carry no scopes
    if policy.reverification is not None and not auth.has(reverification=policy.reverification):
        raise ReverificationRequiredError(reverification_error_body(policy.reverification))


_NULL_ONLY = frozenset({"null"})


def check_origin(
    method: str, origins: frozenset[str], parties: frozenset[str] | None, fetch_site: str | None = None,
    own_origins: frozenset[str] = frozenset(),
) -> None:
    """Refuse a cookie-authenticated write the browser made for another site:
    a method that is not GET/HEAD/OPTIONS with an ``Origin`` that is not an
    authorized party (any one of several, ``null`` included), or, with no
    ``Origin``, with ``Sec-Fetch-Site: cross-site`` (a repeated header's
    values comma-joined, as fetch's ``Headers.get`` reads them: refused when
    any of them is ``cross-site``; only a lone ``same-origin`` is one).

    Requests without either header (not from a browser page) pass. Without
    authorized parties every origin may call (``azp`` is not checked either),
    so only ``null`` — sandboxed frames, ``data:`` and ``file:`` pages, which no
    app is served from — is refused.

    One ``null`` passes: with ``Sec-Fetch-Site: same-origin``, the form post of
    a page served from the API's own origin under a ``no-referrer`` policy
    (browsers then send ``Origin: null``), when that origin (``own_origins``:
    the request's ``Host`` under its scheme) is an authorized party or none
    are configured — the page hid the origin it would be refused under
    otherwise. Only a page of that origin can make a browser send both;
    opaque origins (sandboxed frames, ``data:``) and redirects through
    another site are ``cross-site``.
    """
    if method in SAFE_METHODS:
        return
    site = fetch_site.strip().lower() if fetch_site is not None else None
    if site == "same-origin" and origins == _NULL_ONLY and (parties is None or own_origins & parties):
        return
    if parties is None:
        if "null" in origins:
            raise OriginInvalidError()
        return
    if origins:
        if not origins <= parties:
            raise OriginInvalidError()
    elif site is not None and "cross-site" in (s.strip() for s in site.split(",")):
        raise OriginInvalidError()  # a repeated header (joined) that says cross-site anywhere too


def check_cookie_write(request: Request, parties: frozenset[str] | None) -> None:
    """:func:`check_origin` for ``request``: a session read from the cookie
    (or, behind ``trust_authorizer``, one that may have been) passes it first."""
    if request.method in SAFE_METHODS:
        return
    origins = request.origins
    origin = request.header("origin")
    if origin is not None and "," in origin:  # sent twice: the list fetch's Headers.get reads is no origin
        origins = origins | {origin}
    own = _own_origins(request) if "null" in origins else frozenset()  # read only for the null rule
    check_origin(request.method, origins, parties, request.header("sec-fetch-site"), own)


def _own_origins(request: Request) -> frozenset[str]:
    """The origins the request was sent to, as a browser serializes them:
    ``Host`` under ``X-Forwarded-Proto`` (both schemes when it is absent,
    as behind an ASGI server); empty without a usable ``Host``."""
    host = (request.header("host") or "").strip().lower()
    if not host or any(c in host for c in "/\\@ ,"):
        return frozenset()
    proto = (request.header("x-forwarded-proto") or "").strip().lower()
    if "," in proto:
        return frozenset()  # repeated: no one scheme the request was sent under
    schemes = (proto,) if proto in ("http", "https") else ("https", "http")
    default = {"https": ":443", "http": ":80"}
    return frozenset(f"{s}://{host.removesuffix(default[s])}" for s in schemes)


def no_header_token(policy: Policy) -> AuthError:
    """The refusal of a request without a header token where ``policy``
    admits no session tokens (the cookie is then never read): as
    @clerk/backend's array check, a list reads the missing token as a session
    token (token-type-mismatch); one machine type, no token at all."""
    return TokenTypeMismatchError() if policy.accepts_list else MachineTokenMissingError()


def check_session(
    claims: SessionClaims,
    policy: Policy,
    default_parties: frozenset[str] | None,
    now: float,
    skew: float,
    request: Request | None = None,
) -> None:
    """What is checked of a session on every request, cached token or not, in
    @clerk/backend's order: ``azp`` (against the route's parties, else
    ``default_parties``), then the times (``skew`` seconds of leeway), then the
    status (a pending session is signed out unless the route says otherwise),
    then, for a ``request``, its ``_clerk_session_id`` (:func:`check_session_id`).
    One function for the verified path and ``trust_authorizer``'s, so the two
    cannot drift.

    A token not valid yet (``nbf``) or issued in the future (``iat``) is
    refused under ``authenticateRequest``'s names for a ``request``, under
    ``verifyToken``'s without one (``verify_token``), as @clerk/backend does."""
    # policy.parties(default_parties) and check_authorized_party, written out: two calls less per request.
    parties = policy.authorized_parties
    if isinstance(parties, Inherit):
        parties = default_parties
    if parties is not None and claims.azp not in parties:
        raise TokenInvalidAuthorizedPartiesError()
    # check_times(claims.exp, claims.nbf, claims.iat, now, skew), written out
    # (whole seconds, as there; int() only for a float): a call less on every request.
    exp = claims.exp
    if (exp if type(exp) is int else int(exp)) <= now - skew:
        raise TokenExpiredError()
    later = now + skew
    nbf = claims.nbf
    if nbf is not None and (nbf if type(nbf) is int else int(nbf)) > later:
        raise SessionTokenNbfError() if request is not None else TokenNotActiveYetError()
    iat = claims.iat
    if iat is not None and (iat if type(iat) is int else int(iat)) > later:
        raise SessionTokenIatInTheFutureError() if request is not None else TokenIatInTheFutureError()
    if claims.status == "pending" and policy.treat_pending_as_signed_out:
        raise SessionPendingError()
    if request is not None and request.has_query:  # without a query string (most requests), no _clerk_session_id
        check_session_id(request, claims.session_id)


def check_session_id(request: Request, session_id: str) -> None:
    """401 ``session-id-mismatch`` when ``_clerk_session_id`` names another
    session. Every value counts, the same on every API type: a repeated
    parameter is a list in REST and ALB events but one comma-joined value in
    HTTP API and Function URL events (session IDs hold no commas), so each
    non-empty part must be the token's ``sid`` — a page appending the parameter
    twice passes everywhere, and a second, other session is refused everywhere."""
    for value in request.query_values("_clerk_session_id"):
        for part in value.split(","):
            if part and part != session_id:
                raise SessionIdMismatchError()


def check_client_active(raw: str | None) -> float | None:
    """``__client_uat`` as @clerk/backend reads it: ``0`` (or unreadable) means
    no active client (refused); else its time, which the caller compares with
    the token's ``iat`` (a time after it: the user signed out or in again
    since). A missing cookie is tolerated (None; deliberately: APIs on
    another domain may never receive it)."""
    if raw is None:
        return None
    uat = client_uat_time(raw)
    if uat == 0:
        raise ClientUatMissingError()
    return uat
