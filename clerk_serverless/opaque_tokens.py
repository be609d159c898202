"""Opaque machine tokens (``ak_…``, ``mt_…``, ``oat_…``): verified by Clerk's
Backend API, remembered for a short, bounded time.

* A valid answer is kept for at most ``ttl`` seconds (default 60) and never
  past the token's own ``expiration``: a revoked key stops working within a
  minute, and Clerk is asked once a minute per token, not once per request.
* An invalid token is remembered for ``negative_ttl`` seconds (default 10), so
  one bad token replayed in a loop costs one call, not one per request.
* Concurrent requests with the same token share one call (single flight);
  waiters give up when the call's own time budget is spent.
* Both caches are bounded (``size`` entries); the oldest half goes when full.

An outage of Clerk's Backend API (unreachable, timeout, 5xx, 429) is a
:class:`~clerk_serverless.errors.BackendApiUnavailableError` (503), never a 401.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .errors import BackendApiUnavailableError, TokenInvalidError
from .machine import MachineAuth

DEFAULT_TTL = 60.0
NEGATIVE_TTL = 10.0
DEFAULT_SIZE = 1024
MAX_TOKEN_LENGTH = 4096


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
    ) -> None:
        self._verify = verify
        self._timeout = timeout
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._size = size
        self._clock = clock
        self._valid: dict[str, tuple[MachineAuth, float]] = {}
        self._invalid: dict[str, float] = {}
        self._in_flight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.calls = 0  # Backend API calls made, for tests and metrics

    def verify(self, token_type: str, token: str) -> MachineAuth:
        """The :class:`MachineAuth` for ``token``, or an ``AuthError``."""
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
            raise TokenInvalidError("not a machine token")
        key = f"{token_type}\0{token}"
        deadline = time.monotonic() + self._timeout
        while True:
            now = self._clock()
            with self._lock:
                known = self._cached(key, now)
                if known is not None:
                    return known
                waiter = self._in_flight.get(key)
                if waiter is None:
                    self._in_flight[key] = threading.Event()
                    break
            if not waiter.wait(max(0.0, deadline - time.monotonic())):
                raise BackendApiUnavailableError("machine token verification is taking too long")
        try:
            return self._call(key, token_type, token)
        finally:
            with self._lock:
                event = self._in_flight.pop(key, None)
            if event is not None:
                event.set()

    def _cached(self, key: str, now: float) -> MachineAuth | None:
        """A remembered verdict (raising for a known-invalid token), or None."""
        invalid_until = self._invalid.get(key)
        if invalid_until is not None:
            if now < invalid_until:
                raise TokenInvalidError("known invalid")
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
            auth = MachineAuth.from_backend_api(token_type, data, token)
            now = self._clock()
            if auth.expiration is not None and auth.expiration <= now:
                raise TokenInvalidError("expired")
        except TokenInvalidError:
            with self._lock:
                self._put(self._invalid, key, self._clock() + self._negative_ttl)
            raise
        until = now + self._ttl
        if auth.expiration is not None:
            until = min(until, auth.expiration)
        with self._lock:
            self._put(self._valid, key, (auth, until))
        return auth

    def _put(self, cache: dict[str, Any], key: str, value: Any) -> None:
        if self._size <= 0:
            return
        if len(cache) >= self._size:
            for stale in list(cache)[: max(1, len(cache) // 2)]:
                cache.pop(stale, None)
        cache[key] = value
