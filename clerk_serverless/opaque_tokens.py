"""Opaque machine tokens (``ak_…``, ``mt_…``, ``oat_…``): verified by Clerk's
Backend API, remembered for a short, bounded time.

* A valid answer is kept for at most ``ttl`` seconds (default 60) and never
  past the token's own ``expiration``: a revoked key stops working within a
  minute, and Clerk is asked once a minute per token, not once per request.
* An invalid token is remembered for ``negative_ttl`` seconds (default 10), so
  one bad token replayed in a loop costs one call, not one per request.
* Concurrent requests with the same token share one call and its outcome
  (single flight); waiters give up when the call's own time budget is spent.
* After an outage — Clerk unreachable, 5xx, 429, or refusing our key — no
  call is made until its ``Retry-After`` (at most 60 s) has passed: every
  request answers 503 at once, so random tokens cannot hammer a rate-limited
  Backend API shared by the whole application.
* Both caches are bounded (``size`` entries); the oldest half goes when full.

An outage of Clerk's Backend API (unreachable, timeout, 5xx, 429) is a
:class:`~clerk_serverless.errors.BackendApiUnavailableError` (503), never a 401.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import (
    AuthError,
    BackendApiUnavailableError,
    KeysUnavailableError,
    TokenInvalidError,
    TokenVerificationFailedError,
)
from .machine import MachineAuth
from .token_types import OAUTH_TOKEN
from .verify import check_oauth_audience

DEFAULT_TTL = 60.0
NEGATIVE_TTL = 10.0
DEFAULT_SIZE = 1024
MAX_TOKEN_LENGTH = 4096
MAX_BACKOFF = 60.0


class _Flight:
    """One Backend API call that concurrent requests with the same token share."""

    __slots__ = ("done", "result", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: MachineAuth | None = None
        self.error: AuthError | None = None


class OpaqueTokenVerifier:
    """Verify opaque machine tokens through a ``BackendApi``, with the caches above."""

    def __init__(
        self,
        verify: Callable[[str, str], dict[str, Any]],
        *,
        timeout: float = 3.0,
        ttl: float = DEFAULT_TTL,
        negative_ttl: float = NEGATIVE_TTL,
        size: int = DEFAULT_SIZE,
        clock: Callable[[], float] = time.time,
        audience: frozenset[str] | None = None,
    ) -> None:
        """``audience``: when set, an OAuth access token's answer must carry an
        ``aud`` naming one of them, as @clerk/backend's
        ``idPOAuthAccessToken.verify(token, {audience})`` requires."""
        self._verify = verify
        self._audience = audience
        self._timeout = timeout
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._size = size
        self._clock = clock
        self._valid: dict[str, tuple[MachineAuth, float]] = {}
        self._invalid: dict[str, tuple[float, type[AuthError]]] = {}
        self._in_flight: dict[str, _Flight] = {}
        self._retry_at = 0.0  # no call before this, after an outage (Clerk's Retry-After)
        self._outage: type[KeysUnavailableError] = BackendApiUnavailableError
        self._lock = threading.Lock()
        self.calls = 0  # Backend API calls made, for tests and metrics

    def verify(self, token_type: str, token: str) -> MachineAuth:
        """The :class:`MachineAuth` for ``token``, or an ``AuthError``."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
            raise TokenInvalidError("not a machine token")
        key = f"{token_type}\0{token}"
        with self._lock:
            now = self._clock()
            known = self._cached(key, now)
            if known is not None:
                return known
            flight = self._in_flight.get(key)
            if flight is None:
                if now < self._retry_at:  # backing off: an outage costs a call per window, not per request
                    raise self._outage("backing off after an outage", retry_after=self._retry_at - now)
                flight = self._in_flight[key] = _Flight()
                leader = True
            else:
                leader = False
        if not leader:
            if not flight.done.wait(self._timeout):
                raise BackendApiUnavailableError("machine token verification is taking too long")
            if flight.result is not None:
                return flight.result
            raise flight.error or BackendApiUnavailableError("machine token verification failed")
        try:
            flight.result = self._call(key, token_type, token)
            return flight.result
        except AuthError as error:
            flight.error = error
            raise
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
            flight.done.set()

    def knows(self, token_type: str, token: str) -> bool:
        """True when a verdict on ``token`` is remembered: :meth:`verify` will
        not call Clerk for it."""
        key = f"{token_type}\0{token}"
        with self._lock:
            now = self._clock()
            invalid = self._invalid.get(key)
            if invalid is not None and now < invalid[0]:
                return True
            entry = self._valid.get(key)
            return entry is not None and now < entry[1]

    def _cached(self, key: str, now: float) -> MachineAuth | None:
        """A remembered verdict (raising for a known-invalid token), or None."""
        invalid = self._invalid.get(key)
        if invalid is not None:
            if now < invalid[0]:
                raise invalid[1]("known invalid")
            del self._invalid[key]
        entry = self._valid.get(key)
        if entry is not None:
            auth, until = entry
            if now < until:
                return auth
            del self._valid[key]
        return None

    def _call(self, key: str, token_type: str, token: str) -> MachineAuth:
        self.calls += 1
        try:
            data = self._verify(token_type, token)
            try:
                auth = MachineAuth.from_backend_api(token_type, data, token)
            except (OverflowError, ValueError, TypeError):
                raise BackendApiUnavailableError("machine token verification: an unreadable answer") from None
            now = self._clock()
            if auth.expiration is not None and auth.expiration <= now:
                raise TokenInvalidError("expired")
            if token_type == OAUTH_TOKEN and self._audience:
                check_oauth_audience(data.get("aud"), self._audience)
        except (TokenInvalidError, TokenVerificationFailedError) as refused:
            with self._lock:
                self._put(self._invalid, key, (self._clock() + self._negative_ttl, type(refused)))
            raise
        except KeysUnavailableError as outage:  # Clerk unavailable, or refusing our key
            # The answer promises no longer a wait than the backoff: the next
            # request after it calls Clerk again (a Retry-After of 120 would
            # otherwise be followed by 503s saying 60).
            outage.retry_after = min(outage.retry_after, MAX_BACKOFF)
            with self._lock:
                self._retry_at = max(self._retry_at, self._clock() + outage.retry_after)
                self._outage = type(outage)
            raise
        until = now + self._ttl
        if auth.expiration is not None:
            until = min(until, auth.expiration)
        with self._lock:
            self._retry_at = 0.0
            self._put(self._valid, key, (auth, until))
        return auth

    def _put(self, cache: dict[str, Any], key: str, value: Any) -> None:
        if self._size <= 0:
            return
        if len(cache) >= self._size:
            for stale in list(cache)[: max(1, len(cache) // 2)]:
                cache.pop(stale, None)
        cache[key] = value
