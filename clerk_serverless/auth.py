"""``ClerkAuth``: the settings, validated once, and the request path.

:meth:`ClerkAuth.authenticate` runs the request path in order: where is the
token (:mod:`~clerk_serverless.lookup`), is it valid
(:class:`~clerk_serverless.verifier.TokenVerifier`: keys, signature, claims,
the verified-token cache), is it allowed (:mod:`~clerk_serverless.policy`:
the per-request session checks and the route's requirements).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from .config import Settings, resolve_settings
from .errors import (
    ClerkConfigError,
    ClientUatMismatchError,
    ClientUatWithoutSessionError,
    TokenInvalidError,
    TokenMissingError,
    TokenTypeMismatchError,
)
from .handler import AuthOptions, HandlerOptions, P, R, WithAuthOptions, WithSessionOptions, wrap
from .keys import key_store_for
from .lookup import CookieRules, client_uat_time, find_token, token_in_header
from .machine import MachineAuth
from .policy import (
    DEFAULT_POLICY,
    INHERIT,
    Inherit,
    Policy,
    check_access,
    check_client_active,
    check_cookie_write,
    check_session,
    no_header_token,
)
from .session import Session
from .sources import Request, read_request
from .token_types import M2M_TOKEN, MACHINE_TOKEN_TYPES, SESSION_TOKEN, AcceptsToken, classify, is_undecodable_jwt
from .tokencache import DEFAULT_SIZE
from .verifier import TokenVerifier
from .verify import UnverifiedToken, check_session_kind, load_signature_check

if TYPE_CHECKING:
    from typing import Unpack

    from .backend_api import BackendApi
    from .observe import Observer
    from .opaque_tokens import OpaqueTokenVerifier
    from .trusted import TrustedAuthorizer


class ClerkAuth:
    """Verify Clerk session tokens for Lambda handlers.

    The keys, URLs, origins and issuer fall back to their ``CLERK_*``
    environment variables (the tuning arguments have none), and every
    setting is validated here, once: a mistake raises
    :class:`~clerk_serverless.errors.ClerkConfigError` naming the setting.
    An argument always beats the environment, key source included.

    Key sources, first configured wins: ``jwt_key`` (PEM, networkless),
    ``jwks_url``, ``publishable_key`` (the Frontend API's JWKS, through
    ``proxy_url`` when set), ``secret_key`` (the Backend API's ``/v1/jwks``).

    Args:
        jwt_key: PEM public key (``CLERK_JWT_KEY``).
        secret_key: ``sk_test_…``/``sk_live_…`` (``CLERK_SECRET_KEY``).
        jwks_url: any JWKS URL (``CLERK_JWKS_URL``); https, or http on loopback.
        publishable_key: ``pk_test_…``/``pk_live_…`` (``CLERK_PUBLISHABLE_KEY``).
        api_url: Backend API base, default ``https://api.clerk.com`` (``CLERK_API_URL``).
        authorized_parties: origins allowed in ``azp`` (``CLERK_AUTHORIZED_PARTIES``,
            comma-separated). Also the origins that may read our answers, send
            credentialed CORS requests and write with the session cookie.
        clock_skew: seconds of leeway for ``exp``/``nbf``/``iat`` (0 means none,
            at most 60: milliseconds given by mistake are a ``ClerkConfigError``).
        jwks_cache_ttl: seconds keys stay fresh before a refresh is tried (at
            most a day: a key removed from the JWKS verifies until then).
        issuer: the accepted ``iss`` values, exactly: an ``https://`` URL or a list
            of them (``CLERK_ISSUER``, comma-separated). Unset, ``iss`` need only be
            ``https://…``, as @clerk/backend without ``issuer``: it is not derived
            from the publishable key (behind a Frontend API proxy ``iss`` is the
            proxy URL).
        proxy_url: the absolute URL of a Frontend API proxy (``CLERK_PROXY_URL``,
            Clerk's ``proxyUrl``), e.g. ``https://app.example.com/__clerk``: with
            the publishable key as key source, keys come from
            ``{proxy_url}/.well-known/jwks.json`` instead of the key's host (which
            a proxied instance may leave without DNS). It does not pin ``iss``:
            list it in ``issuer`` for that. A path alone (``/__clerk``) is refused.
        audience: expected ``aud`` (a string or a list), for instances that add
            ``aud`` through a JWT template; a token without ``aud`` still passes,
            as with @clerk/backend's ``verifyToken``.
        jwks_stale_ttl: how long the last good keys serve while refreshes fail (24 h to 7 days).
        unknown_kid_cooldown: minimum seconds between refetches forced by unknown kids (1 to 300).
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
        issuer: str | Iterable[str] | None = None,
        proxy_url: str | None = None,
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
            proxy_url=proxy_url,
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
        if not callable(clock):
            raise ClerkConfigError("clock", "must be a function returning the time in seconds (like time.time)")
        # Duck-typed (see observe): checked here, or a wrong object would only
        # make every audit record and metric fail silently.
        if logger is not None and not callable(getattr(logger, "info", None)):
            raise ClerkConfigError("logger", "must be a Powertools Logger (or any logger with an info method)")
        if metrics is not None and not callable(getattr(metrics, "add_metric", None)):
            raise ClerkConfigError("metrics", "must be a Powertools Metrics (or anything with an add_metric method)")
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
        opaque: OpaqueTokenVerifier | None = None
        if self.backend_api is not None:
            from .opaque_tokens import OpaqueTokenVerifier

            opaque = OpaqueTokenVerifier(
                self.backend_api.verify_machine_token,
                timeout=settings.fetch_timeout,
                ttl=float(machine_token_cache_ttl),
                size=token_cache_size,
                clock=clock,
                audience=settings.audience,
            )
        #: Is the token valid: keys, signatures, the verified-token cache.
        self.verifier = TokenVerifier(
            self.key_store,
            issuer=settings.issuer,
            audience=settings.audience,
            skew=settings.clock_skew,
            cache_size=token_cache_size,
            opaque=opaque,
        )
        self._clock = clock
        self._skew = settings.clock_skew
        self._parties = settings.authorized_parties
        self._cookie_rules = CookieRules(
            settings.cookie_suffix,
            settings.frontend_api,
            bool(settings.publishable_key and settings.publishable_key.startswith("pk_live_")),
        )
        self._trusted: TrustedAuthorizer | None = None
        if trust_authorizer:
            # Loaded here, not at import: only trust_authorizer=True needs it.
            from .trusted import TrustedAuthorizer

            self._trusted = TrustedAuthorizer(self._cookie_rules, self._parties, self._skew, self.backend_api, clock)

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

        Also loads what the first signature check would (hashlib, and
        OpenSSL's RSA signature implementation: ~1–3 ms), with a
        ``CLERK_JWT_KEY`` too, where there is nothing to fetch.

        Raises :class:`~clerk_serverless.errors.KeysUnavailableError` on failure.
        """
        store = self.key_store
        store.prefetch()
        key = store.static_key
        if key is None and not store.needs_fetch():  # the keys just fetched (never a second fetch here)
            key = next(iter(store.keys().values()), None)
        load_signature_check(key)

    @overload
    def verify_token(
        self,
        token: str,
        *,
        accepts_token: Literal["session_token"] = ...,
        authorized_parties: Iterable[str] | str | None | Inherit = ...,
        treat_pending_as_signed_out: bool = ...,
    ) -> Session: ...
    @overload
    def verify_token(
        self,
        token: str,
        *,
        accepts_token: AcceptsToken,
        authorized_parties: Iterable[str] | str | None | Inherit = ...,
        treat_pending_as_signed_out: bool = ...,
    ) -> Session | MachineAuth: ...
    def verify_token(
        self,
        token: str,
        *,
        accepts_token: AcceptsToken = SESSION_TOKEN,
        authorized_parties: Iterable[str] | str | None | Inherit = INHERIT,
        treat_pending_as_signed_out: bool = True,
    ) -> Session | MachineAuth:
        """Verify a token without a request, as @clerk/backend's ``verifyToken``
        (and, for machine tokens, ``verifyMachineAuthToken``) does.

        Returns the :class:`Session` (session tokens, the default
        ``accepts_token``, typed so) or :class:`~clerk_serverless.machine.MachineAuth`;
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
        kind = classify(token) if policy.classifies else SESSION_TOKEN
        if kind not in accepts:
            if SESSION_TOKEN not in accepts and is_undecodable_jwt(token):
                raise TokenInvalidError("not a JWT")  # verifyMachineAuthToken decodes any JWT first
            raise TokenTypeMismatchError()
        now = self._clock()
        if kind != SESSION_TOKEN:
            self._check_keys_for(policy.accepts)
            return self.verifier.machine_auth(kind, token, now, policy.parties(self._parties))
        claims = self.verifier.session_claims(token, now, parties=policy.parties(self._parties))
        check_session(claims, policy, self._parties, now, self._skew)
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
    def require_session(
        self, handler: Callable[P, R], /, **options: Unpack[HandlerOptions]
    ) -> Callable[P, R]: ...
    @overload
    def require_session(
        self, handler: None = None, /, **options: Unpack[HandlerOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def require_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: 401/403/503 unless the request carries a valid session
        meeting the options; the handler finds it in ``event["session"]``.

        ``@auth.require_session``, ``@auth.require_session(**options)`` or
        ``auth.require_session(handler, **options)``. Options
        (:class:`~clerk_serverless.handler.HandlerOptions`): ``permissions``,
        ``roles``, ``features``, ``plans``, ``reverification``,
        ``authorized_parties``, ``treat_pending_as_signed_out``, ``preflight``,
        ``cors``; a misspelt one, or one this instance cannot serve, is a
        :class:`~clerk_serverless.ClerkConfigError` here, when decorating."""
        return wrap(self._self, handler, options, required=True, check_now=True)

    @overload
    def with_session(
        self, handler: Callable[P, R], /, **options: Unpack[WithSessionOptions]
    ) -> Callable[P, R]: ...
    @overload
    def with_session(
        self, handler: None = None, /, **options: Unpack[WithSessionOptions]
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
    def with_session(self, handler: Callable[..., Any] | None = None, /, **options: Any) -> Any:
        """Decorator: the handler always runs, with ``event["session"]`` set to
        the :class:`Session` or ``None`` when signed out (or keys unavailable)."""
        return wrap(self._self, handler, options, required=False, check_now=True)

    @overload
    def require_auth(
        self, handler: Callable[P, R], /, **options: Unpack[AuthOptions]
    ) -> Callable[P, R]: ...
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
    def with_auth(
        self, handler: Callable[P, R], /, **options: Unpack[WithAuthOptions]
    ) -> Callable[P, R]: ...
    @overload
    def with_auth(
        self, handler: None = None, /, **options: Unpack[WithAuthOptions]
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
            return token is not None and self.verifier.may_block(token)
        except Exception:  # an unreadable request is answered without the network
            return False

    def authenticate(self, request: Request, policy: Policy = DEFAULT_POLICY) -> Session | MachineAuth:
        """Find, verify and check the request's token against ``policy``.

        As @clerk/backend: a token in the ``Authorization`` header is the only
        one considered (the cookie is not consulted); its type must be one
        ``policy`` accepts. Without one, the session cookie, when session
        tokens are accepted. Machine tokens are never read from cookies.
        """
        if self._trusted is not None:
            trusted = self._trusted.identity(request, policy)
            if trusted is not None:
                return trusted
        now = self._clock()
        accepts = policy.accepts
        token = token_in_header(request)
        if token is not None:
            # Session tokens alone (the common case): a machine JWT is
            # refused by the session checks themselves, unclassified. A token
            # in the verified-token cache is a session token: not peeked at again.
            kind = classify(token) if policy.classifies and self.verifier.cached(token) is None else SESSION_TOKEN
            if kind not in accepts:
                raise TokenTypeMismatchError()
            if kind != SESSION_TOKEN:
                auth = self.verifier.machine_auth(kind, token, now, policy.parties(self._parties))
                if policy.checks_access:
                    check_access(auth, policy)
                return auth
            # A session token from the header (a cookie's: _cookie_session), written out here: a call less.
            # (policy.parties(self._parties), written out: a call less too.)
            parties = policy.authorized_parties
            claims = self.verifier.session_claims(
                token, now, kind_first=True, parties=self._parties if isinstance(parties, Inherit) else parties
            )
            check_session(claims, policy, self._parties, now, self._skew, request)
            session = Session(claims, token, self.backend_api)
            if policy.checks_access:
                check_access(session, policy)
            return session
        if SESSION_TOKEN not in accepts:
            raise no_header_token(policy)
        found = find_token(request, self._cookie_rules, now)
        if found.token is None:
            if found.client_uat is not None and client_uat_time(found.client_uat) != 0:
                raise ClientUatWithoutSessionError()
            raise TokenMissingError()
        return self._cookie_session(request, found.token, found.client_uat, now, policy)

    def _cookie_session(
        self, request: Request, token: str, client_uat: str | None, now: float, policy: Policy
    ) -> Session:
        """The session of a token from the ``__session`` cookie (the header's: in :meth:`authenticate`)."""
        parties = policy.parties(self._parties)
        check_cookie_write(request, parties)
        # @clerk/backend's cookie path, in its order (request.ts:621-654): a
        # signed-out __client_uat before the token is even decoded, then the
        # token decoded, its kind, and only then its iat against __client_uat.
        uat = check_client_active(client_uat)
        unverified = None
        entry = self.verifier.cached(token)
        if entry is not None:
            iat = entry[0].iat
        else:
            unverified = UnverifiedToken(token)
            check_session_kind(unverified)
            raw_iat = unverified.claims().get("iat")
            iat = raw_iat if isinstance(raw_iat, (int, float)) and not isinstance(raw_iat, bool) else None
        if uat is not None and iat is not None and iat < uat:
            raise ClientUatMismatchError()
        claims = self.verifier.session_claims(token, now, unverified, kind_first=True, parties=parties)
        check_session(claims, policy, self._parties, now, self._skew, request)
        session = Session(claims, token, self.backend_api)
        if policy.checks_access:
            check_access(session, policy)
        return session
