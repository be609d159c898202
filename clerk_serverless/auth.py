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

from .config import Settings, resolve_settings
from .errors import (
    AuthError,
    ClerkConfigError,
    ClientUatMismatchError,
    ClientUatMissingError,
    ClientUatWithoutSessionError,
    KeysUnavailableError,
    KidMismatchError,
    MachineTokenMissingError,
    SessionIdMismatchError,
    SessionPendingError,
    SessionTokenIatInTheFutureError,
    SessionTokenNbfError,
    TokenIatInTheFutureError,
    TokenInvalidAlgorithmError,
    TokenInvalidError,
    TokenInvalidSignatureError,
    TokenMissingError,
    TokenNotActiveYetError,
    TokenTypeMismatchError,
    TokenVerificationFailedError,
)
from .handler import AuthOptions, HandlerOptions, P, R, wrap
from .keys import key_store_for
from .lookup import CookieRules, find_token, token_in_header
from .machine import MachineAuth
from .policy import DEFAULT_POLICY, INHERIT, Inherit, Policy, check_access, check_origin
from .session import Session, SessionClaims
from .sources import Request, read_request
from .token_types import M2M_TOKEN, MACHINE_TOKEN_TYPES, SESSION_TOKEN, classify, is_jwt_format
from .tokencache import DEFAULT_SIZE, VerifiedTokenCache
from .trusted import machine_auth, session_claims, trusted_context
from .verify import (
    UnverifiedToken,
    check_authorized_party,
    check_machine_claims,
    check_machine_header,
    check_session_claims,
    check_session_header,
    check_session_kind,
    check_session_typ,
    check_times,
    signature_valid,
)

if TYPE_CHECKING:
    from typing import Unpack

    from .backend_api import BackendApi
    from .observe import Observer
    from .opaque_tokens import OpaqueTokenVerifier

# Session-only routes (the common case) skip classifying the header token:
# a machine JWT there is refused by the session checks themselves.
_SESSION_ONLY = DEFAULT_POLICY.accepts


class ClerkAuth:
    """Verify Clerk session tokens for Lambda handlers.

    The keys, URLs, origins and issuer fall back to their ``CLERK_*``
    environment variables (the tuning arguments have none), and every
    setting is validated here, once: a mistake raises
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
        fetch_timeout: total seconds for one JWKS fetch or Backend API call,
            every read included (≤ 3).
        token_cache_size: verified tokens remembered (0 disables the cache).
        secret_key_parameter: SSM parameter holding the secret key
            (``CLERK_SECRET_KEY_PARAMETER``), read once at construction.
        secret_key_secret_id: Secrets Manager secret holding it (``CLERK_SECRET_KEY_SECRET_ID``).
        machine_secret_key: ``ak_…`` (``CLERK_MACHINE_SECRET_KEY``): verifies opaque
            M2M tokens in place of the secret key, as Clerk's SDKs do.
        machine_token_cache_ttl: seconds a verified opaque machine token is
            remembered (default 60, at most 300, never past its expiration;
            0: ask Clerk every time).
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
        machine_secret_key: str | None = None,
        machine_token_cache_ttl: float = 60.0,
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
            machine_secret_key=machine_secret_key,
        )
        if isinstance(token_cache_size, bool) or not isinstance(token_cache_size, int) or token_cache_size < 0:
            raise ClerkConfigError("token_cache_size", "must be a non-negative integer")
        self.key_store = key_store_for(self.settings, clock)
        if not isinstance(trust_authorizer, bool):  # "false" would be truthy: trust switched on by a string
            raise ClerkConfigError("trust_authorizer", "must be True or False")
        self.trust_authorizer = trust_authorizer
        self.observer: Observer | None = None
        if logger is not None or metrics is not None:
            from .observe import Observer  # loads logging: only for those who asked

            self.observer = Observer(logger, metrics)
            if metrics is not None:
                self.key_store.subscribe(self.observer.key_event)
        settings = self.settings
        secret = settings.secret_key
        machine_secret = settings.machine_secret_key
        self.backend_api: BackendApi | None = None
        if secret or machine_secret:
            # Only instances holding a secret key call Clerk.
            from .backend_api import BackendApi

            self.backend_api = BackendApi(settings.api_url, secret, settings.fetch_timeout, machine_secret)
        if (
            isinstance(machine_token_cache_ttl, bool)
            or not isinstance(machine_token_cache_ttl, (int, float))
            or not 0 <= machine_token_cache_ttl <= 300
        ):
            raise ClerkConfigError("machine_token_cache_ttl", "must be a number of seconds from 0 to 300")
        self._opaque: OpaqueTokenVerifier | None = None
        if self.backend_api is not None:
            from .opaque_tokens import OpaqueTokenVerifier

            self._opaque = OpaqueTokenVerifier(
                self.backend_api.verify_machine_token,
                timeout=settings.fetch_timeout,
                ttl=float(machine_token_cache_ttl),
                size=token_cache_size,
                clock=clock,
            )
        self._cache = VerifiedTokenCache(token_cache_size)
        self._cached = self._cache.get_entry
        self._issuer = settings.issuer
        self._audience = settings.audience
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
        accepts_token: str | Iterable[str] = SESSION_TOKEN,
        authorized_parties: Iterable[str] | str | None | Inherit = INHERIT,
        treat_pending_as_signed_out: bool = True,
    ) -> Session | MachineAuth:
        """Verify a token without a request, as @clerk/backend's ``verifyToken``
        (and, for machine tokens, ``verifyMachineAuthToken``) does.

        Returns the :class:`Session` (session tokens, the default
        ``accepts_token``) or :class:`~clerk_serverless.machine.MachineAuth`;
        raises an :class:`~clerk_serverless.errors.AuthError` subclass.
        """
        policy = (
            DEFAULT_POLICY
            if isinstance(authorized_parties, Inherit)
            and treat_pending_as_signed_out
            and accepts_token == SESSION_TOKEN
            else Policy.build(
                accepts_token=accepts_token,
                authorized_parties=authorized_parties,
                treat_pending_as_signed_out=treat_pending_as_signed_out,
            )
        )
        if not isinstance(token, str) or not token:
            raise TokenInvalidError("no token")  # as verifyToken: not a JWT
        # Session tokens only (the default): verifyToken's verdicts, which know
        # no other kind (an ``ak_…`` string does not decode: token-invalid); a
        # machine JWT is refused by the session checks themselves.
        accepts = policy.accepts
        kind = SESSION_TOKEN if accepts is _SESSION_ONLY or accepts == _SESSION_ONLY else classify(token)
        if kind not in accepts:
            raise TokenTypeMismatchError()
        now = self._clock()
        if kind != SESSION_TOKEN:
            self._check_keys_for(policy.accepts)
            return self._machine_auth(kind, token, now, policy)
        claims = self._claims_for(token, now)
        self._check_claims(claims, now, policy, request=False)
        return Session(claims, token, self.backend_api)

    def authenticate_request(self, event: Any, policy: Policy = DEFAULT_POLICY) -> Session | MachineAuth:
        """Authenticate a Lambda HTTP event without a decorator.

        Returns the :class:`Session` (or, when ``policy`` accepts them, the
        :class:`~clerk_serverless.machine.MachineAuth`); raises an
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
        return wrap(self._self, handler, options, required=True, check_now=True)

    @overload
    def with_session(self, handler: Callable[P, R], /) -> Callable[P, R]: ...
    @overload
    def with_session(
        self, handler: None = None, /, **options: Unpack[HandlerOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def with_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: the handler always runs, with ``event["session"]`` set to
        the :class:`Session` or ``None`` when signed out (or keys unavailable)."""
        return wrap(self._self, handler, options, required=False, check_now=True)

    @overload
    def require_auth(self, handler: Callable[P, R], /) -> Callable[P, R]: ...
    @overload
    def require_auth(
        self, handler: None = None, /, **options: Unpack[AuthOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def require_auth(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: like :meth:`require_session`, for the token types in
        ``accepts_token`` (``"session_token"`` by default, ``"api_key"``,
        ``"m2m_token"``, ``"oauth_token"``, a list of them or ``"any"``); the
        handler finds a :class:`Session` or :class:`~clerk_serverless.machine.MachineAuth`
        in ``event["auth"]`` (and the session, if any, in ``event["session"]``).
        ``scopes=[…]`` are required of machine tokens."""
        return wrap(self._self, handler, options, required=True, any_token=True, check_now=True)

    @overload
    def with_auth(self, handler: Callable[P, R], /) -> Callable[P, R]: ...
    @overload
    def with_auth(
        self, handler: None = None, /, **options: Unpack[AuthOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def with_auth(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: like :meth:`with_session`, for the token types in
        ``accepts_token``; ``event["auth"]`` is None when no accepted token verifies."""
        return wrap(self._self, handler, options, required=False, any_token=True, check_now=True)

    def check_policy(self, policy: Policy) -> None:
        """Raise :class:`ClerkConfigError` when ``policy`` accepts machine tokens
        this instance has no key to verify (called when a decorator is applied)."""
        self._check_keys_for(policy.accepts)

    def _check_keys_for(self, accepts: frozenset[str]) -> None:
        machine = accepts & MACHINE_TOKEN_TYPES
        if not machine:
            return
        api = self.backend_api
        if api is None or not all(api.can_verify(kind) for kind in machine):
            raise ClerkConfigError(
                "CLERK_SECRET_KEY",
                f"accepting {', '.join(sorted(machine))} needs the secret key (secret_key / CLERK_SECRET_KEY"
                + (", or CLERK_MACHINE_SECRET_KEY for M2M tokens" if M2M_TOKEN in machine else "")
                + "): Clerk's Backend API verifies opaque machine tokens",
            )

    def _self(self) -> ClerkAuth:
        return self

    # -- the request path --------------------------------------------------------

    def token_from(self, request: Request) -> tuple[str | None, bool]:
        """``(token, from_cookie)``: the header's token, else the session cookie's."""
        found = find_token(request, self._cookie_rules, self._clock())
        return found.token, found.from_cookie

    def may_block(self, request: Request) -> bool:
        """True when authenticating ``request`` may wait on the network, so
        that ASGI servers run it in a worker thread, off the event loop: the
        keys are due for a fetch, or the request carries a token this process
        holds no verdict on yet (a new ``kid`` or a bad signature forces a key
        refetch; an opaque machine token asks Clerk's Backend API)."""
        if self.key_store.needs_fetch():
            return True
        try:
            token = self.token_from(request)[0]
            if token is None:
                return False
            entry = self._cached(token)
            if entry is not None:
                # A hit whose key left the set (or was replaced) is verified
                # again, and its kid may force a refetch.
                return self.key_store.keys().get(entry[1]) is not entry[2]
            if is_jwt_format(token):
                return True
            return self._opaque is not None and not self._opaque.knows(classify(token), token)
        except Exception:  # an unreadable request is answered without the network
            return False

    def authenticate(self, request: Request, policy: Policy = DEFAULT_POLICY) -> Session | MachineAuth:
        """Find, verify and check the request's token against ``policy``.

        As @clerk/backend: a token in the ``Authorization`` header is the only
        one considered (the cookie is not consulted); its type must be one
        ``policy`` accepts. Without one, the session cookie, when session
        tokens are accepted. Machine tokens are never read from cookies.
        """
        if self.trust_authorizer:
            trusted = self._from_authorizer(request, policy)
            if trusted is not None:
                return trusted
        now = self._clock()
        accepts = policy.accepts
        token = token_in_header(request)
        if token is not None:
            kind = SESSION_TOKEN if accepts is _SESSION_ONLY or accepts == _SESSION_ONLY else classify(token)
            if kind not in accepts:
                raise TokenTypeMismatchError()
            if kind != SESSION_TOKEN:
                auth = self._machine_auth(kind, token, now, policy)
                if policy.checks_access:
                    check_access(auth, policy)
                return auth
            return self._session(request, token, None, now, policy)
        if SESSION_TOKEN not in accepts:
            raise MachineTokenMissingError()
        found = find_token(request, self._cookie_rules, now)
        if found.token is None:
            if found.client_uat is not None and _client_uat(found.client_uat) != 0:
                raise ClientUatWithoutSessionError()
            raise TokenMissingError()
        return self._session(request, found.token, found.client_uat, now, policy, from_cookie=True)

    def _session(
        self,
        request: Request,
        token: str,
        client_uat: str | None,
        now: float,
        policy: Policy,
        *,
        from_cookie: bool = False,
    ) -> Session:
        unverified = None
        if from_cookie:
            check_origin(
                request.method, request.origins, policy.parties(self._parties), request.header("sec-fetch-site")
            )
            # @clerk/backend's cookie path, in its order (request.ts:621-654): a
            # signed-out __client_uat before the token is even decoded, then the
            # token decoded, its kind, and only then its iat against __client_uat.
            uat = _check_client_active(client_uat)
            entry = self._cache.get(token)
            if entry is not None:
                iat = entry[0].iat
            else:
                unverified = UnverifiedToken(token)
                check_session_kind(unverified)
                raw_iat = unverified.claims().get("iat")
                iat = raw_iat if isinstance(raw_iat, (int, float)) and not isinstance(raw_iat, bool) else None
            if uat is not None and iat is not None and iat < uat:
                raise ClientUatMismatchError()
            claims = self._claims_for(token, now, unverified, kind_first=True)
        else:
            claims = self._claims_for(token, now, kind_first=True)
        self._check_claims(claims, now, policy)
        _check_session_id(request, claims.session_id)
        session = Session(claims, token, self.backend_api)
        if policy.checks_access:
            check_access(session, policy)
        return session

    def _machine_auth(self, kind: str, token: str, now: float, policy: Policy) -> MachineAuth:
        """A machine token of type ``kind``: a JWT verified here, an opaque one by Clerk."""
        if is_jwt_format(token):
            return self._machine_jwt(kind, token, now, policy)
        if self._opaque is None:
            raise TokenInvalidError("no secret key to verify machine tokens with")
        return self._opaque.verify(kind, token)

    def _machine_jwt(self, kind: str, token: str, now: float, policy: Policy) -> MachineAuth:
        """An M2M or OAuth access token JWT, verified with the instance's keys,
        as @clerk/backend's ``verifyMachineJwt``: the header type of its kind,
        the signature, then ``sub``, ``aud``, ``azp`` (when it has one) and the times."""
        try:
            unverified = UnverifiedToken(token)
        except TokenInvalidAlgorithmError as exc:
            raise TokenVerificationFailedError(exc.detail) from None
        # Decoded before anything else, as verifyMachineAuthToken's decodeJwt:
        # a payload that does not decode is token-invalid (verify.ts:258-277).
        claims = unverified.claims()
        check_machine_header(unverified.header, kind == M2M_TOKEN)
        try:
            self._key_for(unverified)  # the signature verifies
            check_machine_claims(
                claims, self.settings.audience, policy.parties(self._parties), now, self._skew, m2m=kind == M2M_TOKEN
            )
        except (KeysUnavailableError, TokenVerificationFailedError):
            raise  # an outage stays a 503
        except AuthError as exc:
            # @clerk/backend reports every failure of a machine JWT after its
            # routing as token-verification-failed, the key lookup's included:
            # verifyMachineJwt.ts:72-78 catches loadClerkJWKFromRemote's
            # jwk-kid-mismatch (the detail stays in the message).
            raise TokenVerificationFailedError(exc.detail or exc.message) from None
        return MachineAuth.from_jwt(kind, claims, token)

    def _from_authorizer(self, request: Request, policy: Policy) -> Session | MachineAuth | None:
        """The identity our authorizer verified for this request, or None when
        the event carries no context of ours (then the token is verified).
        The route's own policy is applied to it all the same."""
        event = request.event.get("aws.event") if request.source.name == "asgi" else request.event
        ctx = trusted_context(event)  # Mangum keeps the Lambda event in the scope
        if ctx is None:
            return None
        kind = str(ctx.get("token_type") or SESSION_TOKEN)
        if kind not in policy.accepts:
            raise TokenTypeMismatchError()
        now = self._clock()
        identity: Session | MachineAuth
        if kind == SESSION_TOKEN:
            # A cached context may come from another request than this one
            # (API Gateway keys it on its identity sources only): a request
            # without a header token can only be a cookie request.
            if ctx.get("token_carrier") == "cookie" or token_in_header(request) is None:
                check_origin(
                    request.method, request.origins, policy.parties(self._parties), request.header("sec-fetch-site")
                )
            claims = session_claims(ctx)
            # A cached authorizer result can outlive the token it was for, and
            # the route may be narrower than the authorizer.
            self._check_claims(claims, now, policy)
            _check_session_id(request, claims.session_id)
            token = find_token(request, self._cookie_rules, now).token or ""
            identity = Session(claims, token, self.backend_api)
        else:
            identity = machine_auth(kind, ctx, token_in_header(request) or "")
            azp = ctx.get("azp")
            if azp:  # a machine JWT with azp: the route's parties judge it, as verifying it here would
                check_authorized_party(str(azp), policy.parties(self._parties))
            if identity.expiration is not None:
                check_times(identity.expiration, None, None, now, self._skew)
        if policy.checks_access:
            check_access(identity, policy)
        return identity

    def _claims_for(
        self, token: str, now: float, unverified: UnverifiedToken | None = None, *, kind_first: bool = False
    ) -> SessionClaims:
        """The verified claims of ``token``: from the cache when its key still
        stands, else by verifying it (and caching the result). ``kind_first``
        (a request's token): a token of another kind is refused before its key
        is looked up, as @clerk/backend's authenticateRequest does; a given
        ``unverified`` token is one whose kind the caller checked so."""
        entry = self._cached(token)
        if entry is not None:
            claims, kid, key = entry
            if self.key_store.keys().get(kid) is key:
                if claims.exp <= now - self._skew:
                    self._cache.discard(token)  # dropped at exp; the time check refuses it
                return claims
            self._cache.discard(token)
        if unverified is None:
            unverified = UnverifiedToken(token)
            if kind_first:
                check_session_kind(unverified)
        header = unverified.header
        if kind_first:
            check_session_typ(header)  # the rest of the header was the kind check's
        else:
            check_session_header(header)
        key = self._key_for(unverified)
        raw = unverified.claims()
        check_session_claims(raw, self._issuer, self._audience)
        claims = SessionClaims(raw)
        if claims.exp > now - self._skew:
            self._cache.put(token, claims, header.kid, key, now)
        return claims

    def _key_for(self, unverified: UnverifiedToken) -> Any:
        """The key whose signature ``unverified`` carries; refetches at most
        once per cooldown window when its kid is unknown or its key changed."""
        kid = unverified.header.kid
        store = self.key_store
        key = store.keys().get(kid)
        if key is None:
            key = store.refresh_for(kid).get(kid)
            if key is None:
                outage = store.outage()
                if outage is not None:
                    raise outage  # we could not ask for the key set: our outage (503), not a verdict (401)
                raise KidMismatchError()
        if not signature_valid(unverified, key):
            # The key under this kid may have been replaced: one refetch, rate
            # limited for the whole process by the store's cooldown.
            fresh = store.refresh_for(kid).get(kid)
            if fresh is None or fresh is key or not signature_valid(unverified, fresh):
                raise TokenInvalidSignatureError()
            key = fresh
        return key

    def _check_claims(self, claims: SessionClaims, now: float, policy: Policy, *, request: bool = True) -> None:
        """What is checked on every request, cached token or not, in
        @clerk/backend's order: ``azp``, then the times, then the status.

        A token not valid yet (``nbf``) or issued in the future (``iat``) is
        refused under ``authenticateRequest``'s names on a ``request``, under
        ``verifyToken``'s for :meth:`verify_token`, as @clerk/backend does."""
        parties = policy.authorized_parties
        check_authorized_party(claims.azp, self._parties if isinstance(parties, Inherit) else parties)
        try:
            check_times(claims.exp, claims.nbf, claims.iat, now, self._skew)
        except TokenNotActiveYetError:
            if request:
                raise SessionTokenNbfError() from None
            raise
        except TokenIatInTheFutureError:
            if request:
                raise SessionTokenIatInTheFutureError() from None
            raise
        if claims.status == "pending" and policy.treat_pending_as_signed_out:
            raise SessionPendingError()


def _check_session_id(request: Request, session_id: str) -> None:
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


def _check_client_active(raw: str | None) -> float | None:
    """``__client_uat`` as @clerk/backend reads it: ``0`` (or unreadable) means
    no active client (refused); else its time, which the caller compares with
    the token's ``iat`` (a time after it: the user signed out or in again
    since). A missing cookie is tolerated (None; deliberately: APIs on
    another domain may never receive it)."""
    if raw is None:
        return None
    uat = _client_uat(raw)
    if uat == 0:
        raise ClientUatMissingError()
    return uat


_DECIMAL = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
# JavaScript's StrWhiteSpaceChar: WhiteSpace and LineTerminator.
_JS_SPACE = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _client_uat(raw: str) -> float:
    """``__client_uat`` as @clerk/backend reads it, ``Number.parseInt(value) || 0``
    (authenticateContext.ts:314): leading whitespace skipped, an optional sign,
    ``0x`` for hexadecimal, then the longest run of digits; none at all is 0.
    Any number but 0 (negative ones too) says a client is active."""
    text = raw.lstrip(_JS_SPACE)
    sign = -1.0 if text[:1] == "-" else 1.0
    if text[:1] in ("+", "-"):
        text = text[1:]
    base, digits = 10, _DECIMAL
    if text[:2] in ("0x", "0X"):
        base, digits, text = 16, _HEX, text[2:]
    end = 0
    while end < len(text) and text[end] in digits:
        end += 1
    if not end:
        return 0.0
    if end > 400:  # past any double (10**309, 16**256): Infinity, as parseInt gives
        return sign * float("inf")
    try:
        return sign * float(int(text[:end], base))
    except OverflowError:  # 309-400 decimal or 257-400 hex digits: past a double too
        return sign * float("inf")
