"""A bounded cache of verified tokens, keyed on the exact token text.

A browser sends the same session token with every request for up to a minute,
and an RSA verify is the most expensive step of a request. A hit skips the
signature check and the decoding, never the per-request checks (time, ``azp``,
``_clerk_session_id``, ``__client_uat``, permissions), which callers run on
every hit.

An entry remembers the key object that verified it; when that key leaves the
key set (rotation, removal), the entry no longer counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .session import SessionClaims

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

DEFAULT_SIZE = 1024


class VerifiedTokenCache:
    """``token -> (SessionClaims, kid, key)``, at most ``size`` entries.

    Eviction is cheap and coarse: when full, entries past their ``exp`` go
    first, then the oldest half. An entry past its token's ``exp`` is also
    dropped when next looked up (the per-request time check refuses it).
    """

    __slots__ = ("_entries", "size", "get_entry")

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._entries: dict[str, tuple[SessionClaims, str, RSAPublicKey]] = {}
        self.size = size
        #: The entry for a token, or None (expiry is the caller's check): the
        #: dict's own ``get``, so the hot path's lookup costs no method frame.
        self.get_entry = self._entries.get

    def put(self, token: str, claims: SessionClaims, kid: str, key: RSAPublicKey, now: float) -> None:
        """Remember a verified token."""
        if self.size <= 0:
            return
        entries = self._entries
        if len(entries) >= self.size:
            self._evict(now)
        entries[token] = (claims, kid, key)

    def discard(self, token: str) -> None:
        """Forget one token (its key is gone, or it expired)."""
        self._entries.pop(token, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self, now: float) -> None:
        entries = self._entries
        for token in [t for t, (c, _, _) in list(entries.items()) if c.exp <= now]:
            entries.pop(token, None)
        if len(entries) >= self.size:
            for token in list(entries)[: max(1, len(entries) // 2)]:
                entries.pop(token, None)
