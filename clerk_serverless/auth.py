"""``ClerkAuth``: settings, key store and verified-token cache in one object.

The request path, in order: :mod:`~clerk_serverless.lookup` finds the token,
:meth:`ClerkAuth.authenticate` verifies it (:mod:`~clerk_serverless.verify`
with keys from :mod:`~clerk_serverless.keys`, remembered by
:mod:`~clerk_serverless.tokencache`) and :mod:`~clerk_serverless.policy`
decides whether the route admits it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, overload

from .backend_api import BackendApi
from .config import Settings, resolve_settings
from .errors import (
    ClerkConfigError,
    ClientUatMismatchError,
    ClientUatMissingError,
    KidMismatchError,
    SessionIdMismatchError,
    SessionPendingError,
    TokenInvalidSignatureError,
    TokenMissingError,
)
from .handler import HandlerOptions, P, R, wrap
from .keys import key_store_for
from .lookup import CookieRules, find_token
from .observe import Observer
from .policy import DEFAULT_POLICY, INHERIT, Inherit, Policy, check_access, check_origin
from .session import Session, SessionClaims
from .sources import Request, read_request
from .tokencache import DEFAULT_SIZE, VerifiedTokenCache
from .verify import (
    UnverifiedToken,
    check_authorized_party,
    check_session_claims,
    check_session_header,
    check_times,
    signature_valid,
)

if TYPE_CHECKING:
    from typing import Unpack


class ClerkAuth:
    """Verify Clerk session tokens for Lambda handlers.

    Every argument falls back to its ``CLERK_*`` environment variable, and all
    of them are validated here, once: a mistake raises
    :class:`~clerk_serverless.errors.ClerkConfigError` naming the setting.
    An argument always beats the environment, key source included.

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
            comma-separated). Also the origins that may read our answers, send
            credentialed CORS requests and write with the session cookie.
        clock_skew: seconds of leeway for ``exp``/``nbf``/``iat`` (0 means none).
        jwks_cache_ttl: seconds keys stay fresh before a refresh is tried.
        issuer: expected ``iss`` (``CLERK_ISSUER``); derived from the publishable key.
        audience: expected ``aud`` (a string or a list), for instances that add
            ``aud`` through a JWT template; a token without ``aud`` still passes,
            as with @clerk/backend's ``verifyToken``.
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
        audience: str | Iterable[str] | None = None,
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
            audience=audience,
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
        self.observer: Observer | None = None
        if logger is not None or metrics is not None:
            self.observer = Observer(logger, metrics)
            if metrics is not None:
                self.key_store.subscribe(self.observer.key_event)
        settings = self.settings
        secret = settings.secret_key
        self.backend_api = BackendApi(settings.api_url, secret, settings.fetch_timeout) if secret else None
        self._cache = VerifiedTokenCache(token_cache_size)
        self._clock = clock
        self._skew = settings.clock_skew
        self._parties = settings.authorized_parties
        self._cookie_rules = CookieRules(
            settings.cookie_suffix,
            settings.frontend_api,
            bool(settings.publishable_key and settings.publishable_key.startswith("pk_live_")),
        )

    def __repr__(self) -> str:
        return f"ClerkAuth({self.settings!r})"

    # -- public API ------------------------------------------------------------

    @property
    def authorized_parties(self) -> frozenset[str] | None:
        """The configured authorized parties (None: any ``azp``, no CORS grants)."""
        return self._parties

    def parties_for(self, policy: Policy) -> frozenset[str] | None:
        """The authorized parties a route with ``policy`` enforces."""
        return policy.parties(self._parties)

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
        authorized_parties: Iterable[str] | str | None | Inherit = INHERIT,
        treat_pending_as_signed_out: bool = True,
    ) -> Session:
        """Verify a session token (no request context) and return its :class:`Session`.

        Raises an :class:`~clerk_serverless.errors.AuthError` subclass on failure.
        """
        policy = (
            DEFAULT_POLICY
            if isinstance(authorized_parties, Inherit) and treat_pending_as_signed_out
            else Policy.build(
                authorized_parties=authorized_parties,
                treat_pending_as_signed_out=treat_pending_as_signed_out,
            )
        )
        if not isinstance(token, str) or not token:
            raise TokenMissingError()
        now = self._clock()
        claims = self._claims_for(token, now)
        self._check_claims(claims, now, policy)
        return Session(claims, token, self.backend_api)

    def authenticate_request(self, event: Any, policy: Policy = DEFAULT_POLICY) -> Session:
        """Authenticate a Lambda HTTP event without a decorator.

        Returns the :class:`Session`; raises an
        :class:`~clerk_serverless.errors.AuthError` subclass, or an
        :class:`~clerk_serverless.errors.EventError` for non-HTTP events.
        """
        return self.authenticate(read_request(event), policy)

    @overload
    def require_session(self, handler: Callable[P, R], /) -> Callable[P, R]: ...
    @overload
    def require_session(
        self, handler: None = None, /, **options: Unpack[HandlerOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def require_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: 401/403/503 unless the request carries a valid session
        meeting the options; the handler finds it in ``event["session"]``.
        Options: see :class:`~clerk_serverless.handler.HandlerOptions`."""
        return wrap(self._self, handler, options, required=True)

    @overload
    def with_session(self, handler: Callable[P, R], /) -> Callable[P, R]: ...
    @overload
    def with_session(
        self, handler: None = None, /, **options: Unpack[HandlerOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def with_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: the handler always runs, with ``event["session"]`` set to
        the :class:`Session` or ``None`` when signed out (or keys unavailable)."""
        return wrap(self._self, handler, options, required=False)

    def _self(self) -> ClerkAuth:
        return self

    # -- the request path --------------------------------------------------------

    def token_from(self, request: Request) -> tuple[str | None, bool]:
        """``(token, from_cookie)``: the header's token, else the session cookie's."""
        found = find_token(request, self._cookie_rules, self._clock())
        return found.token, found.from_cookie

    def authenticate(self, request: Request, policy: Policy = DEFAULT_POLICY) -> Session:
        """Find, verify and check the request's session token against ``policy``."""
        if self.trust_authorizer:
            trusted = self._from_authorizer(request, policy)
            if trusted is not None:
                return trusted
        now = self._clock()
        found = find_token(request, self._cookie_rules, now)
        token = found.token
        if token is None:
            raise TokenMissingError()
        unverified = None
        if found.from_cookie:
            check_origin(request.method, request.origin, policy.parties(self._parties))
            entry = self._cache.get(token)
            if entry is not None:
                iat = entry[0].iat
            else:
                unverified = UnverifiedToken(token)
                raw_iat = unverified.claims().get("iat")
                iat = raw_iat if isinstance(raw_iat, (int, float)) and not isinstance(raw_iat, bool) else None
            _check_client_uat(found.client_uat, iat)
        claims = self._claims_for(token, now, unverified)
        self._check_claims(claims, now, policy)
        wanted = request.query("_clerk_session_id")
        if wanted and wanted != claims.session_id:
            raise SessionIdMismatchError()
        session = Session(claims, token, self.backend_api)
        if policy.checks_access:
            check_access(session, policy)
        return session

    def _from_authorizer(self, request: Request, policy: Policy) -> Session | None:
        """The session our authorizer verified for this request, or None when
        the event carries no context of ours (then the token is verified)."""
        event = request.event
        if request.source.name == "asgi":
            event = event.get("aws.event")  # Mangum keeps the Lambda event in the scope
        ctx = event.get("requestContext") if isinstance(event, dict) else None
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
        session = Session(claims, find_token(request, self._cookie_rules, self._clock()).token or "", self.backend_api)
        if policy.checks_access:
            check_access(session, policy)
        return session

    def _claims_for(self, token: str, now: float, unverified: UnverifiedToken | None = None) -> SessionClaims:
        """The verified claims of ``token``: from the cache when its key still
        stands, else by verifying it (and caching the result)."""
        cache = self._cache
        entry = cache.get(token)
        if entry is not None:
            claims, kid, key = entry
            if self.key_store.keys().get(kid) is key:
                if claims.exp <= now - self._skew:
                    cache.discard(token)  # dropped at exp; the time check refuses it
                return claims
            cache.discard(token)
        claims, kid, key = self._verify_signed(unverified or UnverifiedToken(token))
        if claims.exp > now - self._skew:
            cache.put(token, claims, kid, key, now)
        return claims

    def _verify_signed(self, unverified: UnverifiedToken) -> tuple[SessionClaims, str, Any]:
        check_session_header(unverified.header)
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
        raw = unverified.claims()
        check_session_claims(raw, self.settings.issuer, self.settings.audience)
        return SessionClaims(raw), kid, key

    def _check_claims(self, claims: SessionClaims, now: float, policy: Policy) -> None:
        """What is checked on every request, cached token or not, in
        @clerk/backend's order: ``azp``, then the times, then the status."""
        check_authorized_party(claims.azp, policy.parties(self._parties))
        check_times(claims.exp, claims.nbf, claims.iat, now, self._skew)
        if claims.status == "pending" and policy.treat_pending_as_signed_out:
            raise SessionPendingError()


def _check_client_uat(raw: str | None, iat: float | None) -> None:
    """``__client_uat`` against the cookie token's ``iat``, as @clerk/backend:
    ``0`` (or unreadable) means no active client; a time after ``iat`` means
    the user signed out or in again since. A missing cookie is tolerated
    (deliberately: APIs on another domain may never receive it)."""
    if raw is None:
        return
    digits = raw.strip()
    end = 0
    while end < len(digits) and digits[end] in "0123456789" and end < 16:
        end += 1
    uat = int(digits[:end]) if end else 0  # Number.parseInt semantics, as Clerk reads it
    if uat <= 0:
        raise ClientUatMissingError()
    if iat is not None and iat < uat:
        raise ClientUatMismatchError()
