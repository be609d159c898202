"""Key caches that outlive a warm invocation, and a Clerk outage.

:class:`JwksKeyStore` policy, in order of what a request meets:

* **fresh** for ``ttl`` seconds after a successful fetch;
* past that a request triggers one refresh; if it fails, the last good keys
  keep serving (**stale-if-error**) for ``stale_ttl`` seconds (≥ 24 h);
* after a failed fetch no new attempt is made for a backoff window (5 s,
  doubling per consecutive failure up to 60 s, or the server's
  ``Retry-After``, at least a second), so an outage costs one fetch per
  window, not one per request;
* an unknown ``kid`` (or a bad signature) may force a refetch at most once per
  ``cooldown`` window for the whole process: forged tokens cannot turn into a
  fetch storm against Clerk. Refreshes and forced refetches start that window;
  the first load (no keys held yet) does not, so a key replaced right after a
  cold start is still picked up by one refetch;
* one fetch in flight at a time; concurrent callers wait for it and share its
  result (single flight), but never past that fetch's own budget
  (``fetch_timeout``): then they serve the keys they hold (stale or not), or
  fail with :class:`KeysUnavailableError` when there are none;
* a response that is not a valid key set never replaces good keys.

Times are wall-clock (``time.time``), not ``time.monotonic``: a Lambda
SnapStart snapshot restored hours later must see its prefetched keys as old.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..config import key_cache_seconds
from ..errors import JwksError, KeysUnavailableError, SecretKeyInvalidError
from ..logs import log

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

FAILURE_BACKOFF = 5.0
MAX_BACKOFF = 60.0


class StaticKeyStore:
    """A single PEM key (``CLERK_JWT_KEY``): networkless, never refreshed.

    Clerk's JWT public key has no kid of its own; it verifies tokens of any
    kid, as Clerk's SDKs do in networkless mode.
    """

    label = "jwt_key"
    fetch_count = 0

    def __init__(self, key: RSAPublicKey) -> None:
        self._key = key
        self._keys = _AnyKid(key)
        #: The key every kid maps to, for callers that skip the map's lookups.
        self.static_key = key

    def keys(self) -> Mapping[str, RSAPublicKey]:
        """The current key map (never fetches)."""
        return self._keys

    def needs_fetch(self) -> bool:
        """Never: the key is configured."""
        return False

    def refresh_for(self, kid: str) -> Mapping[str, RSAPublicKey]:
        """Nothing to refresh: the same map."""
        return self._keys

    def prefetch(self) -> None:
        """Nothing to load."""

    def mark_stale(self) -> None:
        """Nothing to revalidate."""

    def outage(self) -> KeysUnavailableError | None:
        """Never: nothing is fetched."""
        return None

    def snapshot(self) -> dict[str, Any]:
        """The one configured key, for logs and tests (no key material)."""
        return {"source": "pem", "keys": 1}

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """A static key is never fetched: nothing to report."""


class _AnyKid(dict[str, "RSAPublicKey"]):
    """A key map answering every kid with the one configured key."""

    __slots__ = ("_key",)

    def __init__(self, key: RSAPublicKey) -> None:
        super().__init__()
        self._key = key

    def get(self, kid: object, default: object = None) -> RSAPublicKey:
        return self._key

    def __contains__(self, kid: object) -> bool:
        return True

    def __getitem__(self, kid: str) -> RSAPublicKey:
        return self._key


class JwksKeyStore:
    """Keys from a JWKS URL, cached for the life of the process.

    ``ttl``, ``stale_ttl``, ``cooldown`` and ``fetch_timeout`` are seconds
    within the bounds :class:`~clerk_serverless.ClerkAuth` sets its
    ``jwks_cache_ttl``, ``jwks_stale_ttl``, ``unknown_kid_cooldown`` and
    ``fetch_timeout`` (``clerk_serverless.config.KEY_CACHE_BOUNDS``): another
    value is a :class:`~clerk_serverless.ClerkConfigError` naming the argument."""

    static_key: None = None  # the key depends on the kid, and the set changes

    def __init__(
        self,
        load: Callable[[Mapping[str, RSAPublicKey] | None], Mapping[str, RSAPublicKey]],
        *,
        label: str,
        ttl: float = 300.0,
        stale_ttl: float = 24 * 3600.0,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.time,
        fetch_timeout: float = 3.0,
    ) -> None:
        self._load = load
        self.label = label
        # ClerkAuth's bounds, named by this class's arguments: a window given
        # in milliseconds (or zero) here is as wrong as it is there.
        self.ttl = key_cache_seconds("jwks_cache_ttl", ttl, "ttl")
        self.stale_ttl = key_cache_seconds("jwks_stale_ttl", stale_ttl, "stale_ttl")
        self.cooldown = key_cache_seconds("unknown_kid_cooldown", cooldown, "cooldown")
        self.fetch_timeout = key_cache_seconds("fetch_timeout", fetch_timeout, "fetch_timeout")
        self._clock = clock
        self._listeners: list[Callable[[str], None]] = []
        self._keys: Mapping[str, RSAPublicKey] | None = None
        self._fetched_at = 0.0  # wall-clock time of the last good fetch
        self._cooldown_from = -1e18  # wall-clock start of the unknown-kid cooldown window
        self._retry_at = 0.0  # no attempt before this after a failure
        self._last_error: str | None = None
        # The Backend API refused our secret key (clerk_key_invalid): the 503s
        # say secret-key-invalid, as @clerk/backend's reason does.
        self._key_refused = False
        self._failures = 0  # consecutive failed fetches, for the backoff
        self._revalidate = False  # set after a snapshot restore
        self._lock = threading.Lock()
        self._in_flight: threading.Event | None = None
        self._in_flight_until = 0.0  # time.monotonic() deadline of the fetch in flight
        self.fetch_count = 0

    # -- what requests call -------------------------------------------------

    def keys(self) -> Mapping[str, RSAPublicKey]:
        """Keys to verify with now, loading or refreshing them if due.

        Raises :class:`KeysUnavailableError` when no usable keys are held.
        """
        keys = self._keys
        if keys is not None and self._clock() - self._fetched_at < self.ttl and not self._revalidate:
            return keys
        return self._refresh(force=False)

    def needs_fetch(self) -> bool:
        """True when the next :meth:`keys` call may go to the network (async
        callers then run it in a worker thread)."""
        return self._keys is None or self._revalidate or self._clock() - self._fetched_at >= self.ttl

    def refresh_for(self, kid: str) -> Mapping[str, RSAPublicKey]:
        """A token names a kid we do not hold (or its signature failed):
        refetch, unless a refresh or refetch started within the cooldown window
        (judged once, under the store's lock, so racing callers cannot both
        pass it)."""
        return self._refresh(force=True, limited=True)

    def prefetch(self) -> None:
        """Load keys now (e.g. during the Lambda init phase)."""
        self._refresh(force=True)

    def mark_stale(self) -> None:
        """Treat the cached keys as due for revalidation (after a snapshot
        restore). They still serve as stale keys if the refresh fails."""
        self._revalidate = True
        self._cooldown_from = -1e18
        self._retry_at = 0.0

    def outage(self) -> KeysUnavailableError | None:
        """When the last fetch attempt failed (the keys held, if any, may be
        stale): the error to answer a kid we do not hold with, since we could
        not ask. None while the last attempt succeeded."""
        error = self._last_error
        if error is None:
            return None
        return self._unavailable(error, retry_after=max(1.0, self._retry_at - self._clock()))

    def snapshot(self) -> dict[str, Any]:
        """Counters and state for logs, metrics and tests (no key material)."""
        now = self._clock()
        return {
            "source": self.label,
            "keys": len(self._keys or ()),
            "age": None if self._keys is None else round(now - self._fetched_at, 3),
            "fetch_count": self.fetch_count,
            "last_error": self._last_error,
        }

    # -- internals ------------------------------------------------------------

    def _usable_or_raise(self, now: float) -> Mapping[str, RSAPublicKey]:
        keys = self._keys
        if keys is not None and now - self._fetched_at < self.stale_ttl:
            return keys
        retry = max(1.0, self._retry_at - now)
        raise self._unavailable(self._last_error or "keys not loaded", retry_after=retry)

    def _unavailable(self, detail: str, retry_after: float) -> KeysUnavailableError:
        kind = SecretKeyInvalidError if self._key_refused else KeysUnavailableError
        return kind(detail, retry_after=retry_after)

    def _refresh(self, *, force: bool, limited: bool = False) -> Mapping[str, RSAPublicKey]:
        """Fetch if due (or ``force``d; a ``limited`` force only outside the
        cooldown window), one fetch at a time."""
        while True:
            with self._lock:
                now = self._clock()
                keys = self._keys
                if force and limited and now - self._cooldown_from < self.cooldown:
                    force = False  # a refetch started within the window: no new one
                if not force and keys is not None and now - self._fetched_at < self.ttl and not self._revalidate:
                    return keys  # another caller refreshed while we waited
                if now < self._retry_at:
                    # Backing off after a failure: serve stale keys or fail fast.
                    if keys is not None and now - self._fetched_at < self.stale_ttl:
                        self._emit("jwks-stale-served")
                    return self._usable_or_raise(now)
                waiter = self._in_flight
                if waiter is None:
                    self._in_flight = threading.Event()
                    self._in_flight_until = time.monotonic() + self.fetch_timeout
                    if keys is not None:  # the first load does not use up the refetch allowance
                        self._cooldown_from = now
                    break
                wait = self._in_flight_until - time.monotonic()
            # Someone else is fetching: wait for them, at most until their fetch
            # is past its budget, then take their result.
            if not waiter.wait(max(0.0, wait)):
                with self._lock:
                    now = self._clock()
                    keys = self._keys
                    if keys is None or now - self._fetched_at >= self.stale_ttl:
                        raise self._unavailable(
                            self._last_error or "timed out waiting for the key fetch in flight",
                            retry_after=max(1.0, self._retry_at - now),
                        )
                    if now - self._fetched_at >= self.ttl or self._revalidate:
                        self._emit("jwks-stale-served")
                    return keys
            # Their fetch ended: look again, as a caller arriving now would (fresh
            # keys, or the backoff's stale keys with their metric, or the error).
            force = False

        try:
            return self._fetch()
        finally:
            with self._lock:
                event, self._in_flight = self._in_flight, None
            if event is not None:
                event.set()

    def _fetch(self) -> Mapping[str, RSAPublicKey]:
        self.fetch_count += 1
        self._emit("jwks-fetch")
        try:
            fresh = self._load(self._keys)
        except Exception as exc:  # JwksError, or a bug: either way keep the good keys
            if not isinstance(exc, JwksError):
                exc = JwksError(f"unexpected {type(exc).__name__} while loading keys")
            now = self._clock()
            with self._lock:
                self._failures += 1
                # Clerk's hint, but never under a second: Retry-After 0.001 made
                # every request during an outage a fetch.
                hint = exc.retry_after
                backoff = max(1.0, hint) if hint else FAILURE_BACKOFF * 2 ** (self._failures - 1)
                backoff = min(MAX_BACKOFF, backoff)
                self._retry_at = now + backoff
                self._last_error = str(exc)
                self._key_refused = getattr(exc, "code", None) == "clerk_key_invalid"
            stale = self._keys is not None and now - self._fetched_at < self.stale_ttl
            _log(
                30,
                "JWKS fetch from %s failed: %s; %s",
                self.label,
                exc,
                "serving cached keys" if stale else "no cached keys",
            )
            if stale:
                self._emit("jwks-stale-served")
            return self._usable_or_raise(now)
        now = self._clock()
        with self._lock:
            self._keys = fresh
            self._fetched_at = now
            self._retry_at = 0.0
            self._last_error = None
            self._key_refused = False
            self._failures = 0
            self._revalidate = False
        _log(20, "loaded %d signing key(s) from %s", len(fresh), self.label)
        return fresh

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call ``listener("jwks-fetch")`` on every fetch and
        ``listener("jwks-stale-served")`` whenever stale keys serve (metrics)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def _emit(self, name: str) -> None:
        for listener in self._listeners:
            try:
                listener(name)
            except Exception:  # metrics must never break authentication
                _log(10, "key store listener failed", exc_info=True)


def _log(level: int, message: str, *args: Any, exc_info: bool = False) -> None:
    log("clerk_serverless.keys", level, message, *args, exc_info=exc_info)
