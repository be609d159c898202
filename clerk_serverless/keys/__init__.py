"""Signing keys: where they come from and how long they are kept.

One key store exists per key source and cache policy for the whole process,
so every :class:`~clerk_serverless.ClerkAuth` (and every decorator) that reads
the same JWKS shares one cache across warm invocations.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from ..config import KeySource, Settings
from ..errors import JwksFetchError
from ..httpget import http_get
from .jwks import parse_jwks, rsa_public_key
from .store import JwksKeyStore, StaticKeyStore

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = [
    "JwksKeyStore",
    "KeyStore",
    "StaticKeyStore",
    "fetch_jwks",
    "parse_jwks",
    "rsa_public_key",
    "key_store_for",
    "reset_key_stores",
]

KeyStore: TypeAlias = StaticKeyStore | JwksKeyStore
"""A process-wide key store: one configured PEM key, or a cached JWKS."""

_stores: dict[tuple[Any, ...], KeyStore] = {}
_stores_lock = threading.Lock()


def fetch_jwks(url: str, headers: tuple[tuple[str, str], ...] = (), *, timeout: float = 3.0) -> bytes:
    """The raw JWKS document at ``url`` (bounded: ``timeout`` seconds for the
    whole exchange, 1 MiB, no redirects)."""
    return http_get(url, headers, timeout=timeout)


def _jwks_loader(
    source: KeySource, timeout: float
) -> Callable[[Mapping[str, RSAPublicKey] | None], Mapping[str, RSAPublicKey]]:
    def load(previous: Mapping[str, RSAPublicKey] | None) -> Mapping[str, RSAPublicKey]:
        try:
            body = fetch_jwks(source.url or "", source.headers, timeout=timeout)
        except JwksFetchError as exc:
            if source.hint is None or exc.status is not None:  # an answer: the host exists
                raise
            raise JwksFetchError(f"{exc}; {source.hint}") from exc
        return parse_jwks(body, previous)

    return load


def _store_id(settings: Settings, clock: Callable[[], float]) -> tuple[Any, ...]:
    source = settings.key_source
    # The secret key is part of the identity (two instances behind one URL),
    # but only as a digest so the registry never holds it in clear. Sources
    # without one (JWKS and Frontend API URLs) skip hashlib's import.
    credential = ""
    if source.headers or source.pem:
        import hashlib

        credential = hashlib.sha256(repr(source.headers).encode() + (source.pem or "").encode()).hexdigest()
    return (
        source.kind,
        source.url,
        credential,
        settings.jwks_cache_ttl,
        settings.jwks_stale_ttl,
        settings.unknown_kid_cooldown,
        settings.fetch_timeout,
        clock,
    )


def key_store_for(settings: Settings, clock: Callable[[], float] = time.time) -> KeyStore:
    """The process-wide key store for ``settings``' key source and policy
    (``clock`` is part of the policy: tests pass a fake one)."""
    ident = _store_id(settings, clock)
    store = _stores.get(ident)
    if store is not None:
        return store
    with _stores_lock:
        store = _stores.get(ident)
        if store is None:
            source = settings.key_source
            if source.kind == "pem":
                store = StaticKeyStore(source.key)
            else:
                _register_after_restore()
                store = JwksKeyStore(
                    _jwks_loader(source, settings.fetch_timeout),
                    label=f"{source.label} ({source.url})",
                    ttl=settings.jwks_cache_ttl,
                    stale_ttl=settings.jwks_stale_ttl,
                    cooldown=settings.unknown_kid_cooldown,
                    clock=clock,
                    fetch_timeout=settings.fetch_timeout,
                )
            _stores[ident] = store
        return store


_hook_registered = False


def _register_after_restore() -> None:
    """Under Lambda SnapStart, revalidate keys captured in the snapshot as soon
    as an execution environment is restored (wall-clock freshness already
    covers it; this also resets failure backoff and the kid cooldown).

    Only where a restore can happen: Lambda sets ``AWS_LAMBDA_INITIALIZATION_TYPE``
    to ``snap-start`` in a SnapStart function's environment; elsewhere no
    restore ever runs the hook, and looking for ``snapshot_restore_py`` along
    ``sys.path`` cost every other cold start ~0.1-0.3 ms."""
    global _hook_registered
    if _hook_registered or os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return
    _hook_registered = True
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:  # not on Lambda, or a runtime without SnapStart support
        return
    register_after_restore(revalidate_after_restore)


def revalidate_after_restore() -> None:
    """Mark every key store's keys stale (the SnapStart after-restore hook)."""
    for store in all_key_stores():
        store.mark_stale()


def all_key_stores() -> list[KeyStore]:
    """Every key store of this process (for a SnapStart after-restore hook)."""
    with _stores_lock:
        return list(_stores.values())


def reset_key_stores() -> None:
    """Forget every cached key store. For tests; a Lambda never needs this."""
    with _stores_lock:
        _stores.clear()
