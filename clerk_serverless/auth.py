"""``ClerkAuth``: settings, key store and verified-token cache in one object."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterable, NamedTuple

from .config import Settings, parse_authorized_parties, resolve_settings
from .errors import (
    ClerkConfigError,
    ClientUatMismatchError,
    KidMismatchError,
    PermissionDeniedError,
    RoleDeniedError,
    SessionIdMismatchError,
    SessionPendingError,
    TokenInvalidSignatureError,
    TokenMissingError,
)
from .backend_api import BackendApi
from .keys import key_store_for
from .observe import Observer
from .session import Session, SessionClaims
from .sources import Request, read_request
from .tokencache import DEFAULT_SIZE, VerifiedTokenCache
from .verify import (
    UnverifiedToken,
    check_authorized_party,
    check_claims,
    check_times,
    decode_claims,
    signature_valid,
)

log = logging.getLogger("clerk_serverless")

class _Unset:
    def __repr__(self) -> str:
        return "<inherit>"


_UNSET: Any = _Unset()


class Policy(NamedTuple):
    """Per-decorator requirements, validated when the decorator is applied.

    ``authorized_parties`` overrides the ``ClerkAuth`` setting when given;
    every entry of ``permissions`` is required; any one of ``roles`` is enough.
    """

    authorized_parties: Any = _UNSET
    permissions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    treat_pending_as_signed_out: bool = True

    @classmethod
    def build(
        cls,
        *,
        authorized_parties: Iterable[str] | str | None = _UNSET,
        permissions: Iterable[str] | None = None,
        roles: Iterable[str] | None = None,
        treat_pending_as_signed_out: bool = True,
    ) -> "Policy":
        """Validate decorator options (raises :class:`ClerkConfigError`)."""
        parties = (
            _UNSET
            if authorized_parties is _UNSET
            else parse_authorized_parties(authorized_parties, "authorized_parties")
        )
        return cls(
            parties,
            _names(permissions, "permissions"),
            _names(roles, "roles"),
            bool(treat_pending_as_signed_out),
        )


def _names(values: Iterable[str] | None, setting: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    try:
        names = tuple(values)
    except TypeError:
        raise ClerkConfigError(setting, "must be a list of strings") from None
    if not all(isinstance(v, str) and v for v in names):
        raise ClerkConfigError(setting, "must be a list of non-empty strings")
    return names


DEFAULT_POLICY = Policy()


class ClerkAuth:
    """Verify Clerk session tokens for Lambda handlers.

    Every argument falls back to its ``CLERK_*`` environment variable, and all
    of them are validated here, once: a mistake raises
    :class:`~clerk_serverless.errors.ClerkConfigError` naming the setting.

    Key sources, first configured wins: ``jwt_key`` (PEM, networkless),
    ``jwks_url``, ``publishable_key`` (the Frontend API's JWKS; also pins
    ``iss``), ``secret_key`` (the Backend API's ``/v1/jwks``).

    Args:
        jwt_key: PEM public key (``CLERK_JWT_KEY``).
        secret_key: ``sk_test_…``/``sk_live_…`` (``CLERK_SECRET_KEY``).
        jwks_url: any JWKS URL (``CLERK_JWKS_URL``); https, or http on loopback.
        publishable_key: ``pk_test_…``/``pk_live_…`` (``CLERK_PUBLISHABLE_KEY``).
        api_url: Backend API base, default ``https://api.clerk.com`` (``CLERK_API_URL``).
        authorized_parties: origins allowed in ``azp`` (``CLERK_AUTHORIZED_PARTIES``,
            comma-separated). Also the origins that may read our 401/403/503s.
        clock_skew: seconds of leeway for ``exp``/``nbf``/``iat`` (0 means none).
        jwks_cache_ttl: seconds keys stay fresh before a refresh is tried.
        issuer: expected ``iss`` (``CLERK_ISSUER``); derived from the publishable key.
        jwks_stale_ttl: how long the last good keys serve while refreshes fail (≥ 24 h).
        unknown_kid_cooldown: minimum seconds between refetches forced by unknown kids.
        fetch_timeout: total seconds for one JWKS fetch, connect and read (≤ 3).
        token_cache_size: verified tokens remembered (0 disables the cache).
        secret_key_parameter: SSM parameter holding the secret key
            (``CLERK_SECRET_KEY_PARAMETER``), read once at construction.
        secret_key_secret_id: Secrets Manager secret holding it (``CLERK_SECRET_KEY_SECRET_ID``).
        trust_authorizer: take the session from the context our Lambda
            authorizer (:mod:`clerk_serverless.authorizer`) left on the event,
            without verifying again. Safe **only** for functions reachable
            solely through API Gateway routes guarded by that authorizer: a
            direct invocation can put anything in ``requestContext``.
        logger: a Powertools ``Logger`` for the audit trail (see :mod:`clerk_serverless.observe`).
        metrics: a Powertools ``Metrics`` for outcome counters.
        clock: wall-clock function, for tests.
    """

    def __init__(
        self,
        jwt_key: str | None = None,
        secret_key: str | None = None,
        jwks_url: str | None = None,
        publishable_key: str | None = None,
        api_url: str | None = None,
        authorized_parties: Iterable[str] | str | None = None,
        clock_skew: float = 5.0,
        jwks_cache_ttl: float = 300.0,
        *,
        issuer: str | None = None,
        jwks_stale_ttl: float = 24 * 3600.0,
        unknown_kid_cooldown: float = 30.0,
        fetch_timeout: float = 3.0,
        token_cache_size: int = DEFAULT_SIZE,
        secret_key_parameter: str | None = None,
        secret_key_secret_id: str | None = None,
        trust_authorizer: bool = False,
        logger: Any = None,
        metrics: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings: Settings = resolve_settings(
            jwt_key=jwt_key,
            secret_key=secret_key,
            jwks_url=jwks_url,
            publishable_key=publishable_key,
            api_url=api_url,
            authorized_parties=authorized_parties,
            issuer=issuer,
            clock_skew=clock_skew,
            jwks_cache_ttl=jwks_cache_ttl,
            jwks_stale_ttl=jwks_stale_ttl,
            unknown_kid_cooldown=unknown_kid_cooldown,
            fetch_timeout=fetch_timeout,
            secret_key_parameter=secret_key_parameter,
            secret_key_secret_id=secret_key_secret_id,
        )
        if isinstance(token_cache_size, bool) or not isinstance(token_cache_size, int) or token_cache_size < 0:
            raise ClerkConfigError("token_cache_size", "must be a non-negative integer")
        self.key_store = key_store_for(self.settings, clock)
        self.trust_authorizer = bool(trust_authorizer)
        self.observer = Observer(logger, metrics) if logger is not None or metrics is not None else None
        if metrics is not None:
            self.key_store.subscribe(self.observer.key_event)  # type: ignore[union-attr]
        secret = self.settings.secret_key
        self.backend_api = BackendApi(self.settings.api_url, secret, self.settings.fetch_timeout) if secret else None
        self._cache = VerifiedTokenCache(token_cache_size)
        self._cache_get = self._cache.get_entry
        self._clock = clock
        self._skew = self.settings.clock_skew
        self._issuer = self.settings.issuer
        self._parties = self.settings.authorized_parties
        suffix = self.settings.cookie_suffix
        self._session_cookies = (f"__session_{suffix}", "__session") if suffix else ("__session",)
        self._uat_cookies = (f"__client_uat_{suffix}", "__client_uat") if suffix else ("__client_uat",)

    def __repr__(self) -> str:
        return f"ClerkAuth({self.settings!r})"

    # -- public API ------------------------------------------------------------

    def prefetch(self) -> None:
        """Load signing keys now, e.g. at module level so the Lambda init phase
        (or a SnapStart snapshot) pays for the fetch instead of the first request.

        Raises :class:`~clerk_serverless.errors.KeysUnavailableError` on failure.
        """
        self.key_store.prefetch()

    def verify_token(
        self,
        token: str,
        *,
        authorized_parties: Iterable[str] | str | None = _UNSET,
        treat_pending_as_signed_out: bool = True,
    ) -> Session:
        """Verify a session token (no request context) and return its :class:`Session`.

        Raises an :class:`~clerk_serverless.errors.AuthError` subclass on failure.
        """
        policy = (
            DEFAULT_POLICY
            if authorized_parties is _UNSET and treat_pending_as_signed_out
            else Policy.build(
                authorized_parties=authorized_parties,
                treat_pending_as_signed_out=treat_pending_as_signed_out,
            )
        )
        if not isinstance(token, str) or not token:
            raise TokenMissingError()
        now = self._clock()
        claims = self._claims_for(token, now)
        self._check_request_claims(claims, now, policy)
        return Session(claims, token, self.backend_api)

    def authenticate_request(self, event: Any, policy: Policy = DEFAULT_POLICY) -> Session:
        """Authenticate a Lambda HTTP event without a decorator.

        Returns the :class:`Session`; raises an
        :class:`~clerk_serverless.errors.AuthError` subclass, or an
        :class:`~clerk_serverless.errors.EventError` for non-HTTP events.
        """
        return self.authenticate(read_request(event), policy)

    def require_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: 401/403/503 unless the request carries a valid session;
        the handler finds it in ``event["session"]``. Options: see :class:`Policy`."""
        from .decorators import decorate

        return decorate(lambda: self, handler, options, required=True)

    def with_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: the handler always runs, with ``event["session"]`` set to
        the :class:`Session` or ``None`` when signed out (or keys unavailable)."""
        from .decorators import decorate

        return decorate(lambda: self, handler, options, required=False)

    # -- the request path --------------------------------------------------------

    def _parties_for(self, policy: Policy) -> frozenset[str] | None:
        parties = policy.authorized_parties
        return self._parties if parties is _UNSET else parties

    def token_from(self, request: Request) -> tuple[str | None, bool]:
        """``(token, from_cookie)``: the Bearer token, else the session cookie."""
        values = request.header_values("authorization") if request.multi_valued else (request.header("authorization"),)
        for value in values:
            if value is None:
                continue
            scheme, _, rest = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                token = rest.strip()
                if token:
                    return token, False
        cookies = request.cookies()
        if cookies:
            for name in self._session_cookies:
                token = cookies.get(name)
                if token:
                    return token, True
        return None, False

    def authenticate(self, request: Request, policy: Policy = DEFAULT_POLICY) -> Session:
        """Find, verify and check the request's session token against ``policy``."""
        if self.trust_authorizer:
            trusted = self._from_authorizer(request, policy)
            if trusted is not None:
                return trusted
        token, from_cookie = self.token_from(request)
        if token is None:
            raise TokenMissingError()
        now = self._clock()
        claims = self._claims_for(token, now)
        self._check_request_claims(claims, now, policy)
        if from_cookie:
            self._check_client_uat(request, claims)
        wanted = request.query("_clerk_session_id")
        if wanted and wanted != claims.session_id:
            raise SessionIdMismatchError()
        session = Session(claims, token, self.backend_api)
        if policy.permissions or policy.roles:
            _check_access(session, policy)
        return session

    def _from_authorizer(self, request: Request, policy: Policy) -> Session | None:
        """The session our authorizer verified for this request, or None when
        the event carries no context of ours (then the token is verified)."""
        ctx = request.event.get("requestContext") if isinstance(request.event, dict) else None
        ctx = ctx.get("authorizer") if isinstance(ctx, dict) else None
        if isinstance(ctx, dict) and isinstance(ctx.get("lambda"), dict):
            ctx = ctx["lambda"]  # HTTP API simple responses nest the context
        if not isinstance(ctx, dict) or ctx.get("clerk_auth") != "verified" or not ctx.get("user_id"):
            return None
        try:
            exp = float(ctx["exp"])
        except (KeyError, TypeError, ValueError):
            return None
        permissions = str(ctx.get("org_permissions") or "")
        claims = SessionClaims({
            "sub": str(ctx["user_id"]),
            "sid": str(ctx.get("session_id") or ""),
            "exp": exp,
            "org_id": ctx.get("org_id") or None,
            "org_role": ctx.get("org_role") or None,
            "org_slug": ctx.get("org_slug") or None,
            "org_permissions": [p for p in permissions.split(",") if p],
        })
        # A cached authorizer result can outlive the token it was for.
        check_times(claims.exp, None, None, self._clock(), self._skew)
        wanted = request.query("_clerk_session_id")
        if wanted and wanted != claims.session_id:
            raise SessionIdMismatchError()
        session = Session(claims, self.token_from(request)[0] or "", self.backend_api)
        if policy.permissions or policy.roles:
            _check_access(session, policy)
        return session

    def _check_client_uat(self, request: Request, claims: SessionClaims) -> None:
        cookies = request.cookies()
        for name in self._uat_cookies:
            raw = cookies.get(name)
            if raw is not None:
                break
        else:
            return  # cross-origin APIs often never see __client_uat: tolerated
        try:
            uat = int(raw)
        except ValueError:
            return  # unreadable: ignore rather than sign the user out
        if uat <= 0 or (claims.iat is not None and uat > claims.iat):
            raise ClientUatMismatchError()

    def _claims_for(self, token: str, now: float) -> SessionClaims:
        """The verified claims of ``token``: from the cache when its key still
        stands, else by verifying it (and caching the result)."""
        entry = self._cache_get(token)
        if entry is not None:
            claims, kid, key = entry
            if self.key_store.keys().get(kid) is key:
                if claims.exp <= now - self._skew:
                    self._cache.discard(token)  # dropped at exp; the check below refuses it
                return claims
            self._cache.discard(token)
        claims, kid, key = self._verify_signed(token)
        if claims.exp > now - self._skew:
            self._cache.put(token, claims, kid, key, now)
        return claims

    def _verify_signed(self, token: str) -> tuple[SessionClaims, str, Any]:
        unverified = UnverifiedToken(token)
        kid = unverified.kid
        store = self.key_store
        key = store.keys().get(kid)
        if key is None:
            key = store.refresh_for(kid).get(kid)
            if key is None:
                raise KidMismatchError()
        if not signature_valid(unverified, key):
            # The key under this kid may have been replaced: one refetch, rate
            # limited for the whole process by the store's cooldown.
            fresh = store.refresh_for(kid).get(kid)
            if fresh is None or fresh is key or not signature_valid(unverified, fresh):
                raise TokenInvalidSignatureError()
            key = fresh
        raw = decode_claims(unverified)
        check_claims(raw, self._issuer)
        return SessionClaims(raw), kid, key

    def _check_request_claims(self, claims: SessionClaims, now: float, policy: Policy) -> None:
        """What is checked on every request, cached token or not."""
        parties = policy.authorized_parties
        check_times(claims.exp, claims.nbf, claims.iat, now, self._skew)
        check_authorized_party(claims.azp, self._parties if parties is _UNSET else parties)
        if claims.status == "pending" and policy.treat_pending_as_signed_out:
            raise SessionPendingError()


def _check_access(session: Session, policy: Policy) -> None:
    for permission in policy.permissions:
        if not session.has(permission=permission):
            raise PermissionDeniedError()
    if policy.roles and not any(session.has(role=role) for role in policy.roles):
        raise RoleDeniedError()
