"""Is the token valid: tokens verified with the instance's keys, each verified
session token remembered.

:class:`TokenVerifier` joins the pure checks of :mod:`~clerk_serverless.verify`
to the keys of :mod:`~clerk_serverless.keys` (refetched, within the store's
limits, when a ``kid`` is unknown or its key was replaced), the verified-token
cache of :mod:`~clerk_serverless.tokencache`, and, for opaque machine tokens,
Clerk's Backend API (:mod:`~clerk_serverless.opaque_tokens`). What a route
then allows is :mod:`~clerk_serverless.policy`'s to decide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import (
    AuthError,
    KeysUnavailableError,
    KidMismatchError,
    TokenInvalidAlgorithmError,
    TokenInvalidError,
    TokenInvalidSignatureError,
    TokenTypeMismatchError,
    TokenVerificationFailedError,
)
from .machine import MachineAuth
from .session import SessionClaims
from .token_types import M2M_TOKEN, classify, is_jwt_format
from .tokencache import VerifiedTokenCache
from .verify import (
    UnverifiedToken,
    check_machine_claims,
    check_machine_header,
    check_session_claims,
    check_session_header,
    check_session_kind,
    check_session_typ,
    signature_valid,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    from .keys import KeyStore
    from .opaque_tokens import OpaqueTokenVerifier


class TokenVerifier:
    """Verify session tokens and machine tokens for one ``ClerkAuth``.

    Args:
        key_store: where the signing keys come from.
        issuer: the accepted ``iss`` values of session tokens (None: not pinned).
        audience: the accepted ``aud`` values (None: not checked).
        skew: seconds of leeway; a cached token is dropped once past ``exp``.
        cache_size: verified session tokens remembered (0: none).
        opaque: the Backend API verifier for opaque machine tokens, when the
            instance holds a secret key.
    """

    __slots__ = ("key_store", "cache", "cached", "opaque", "_issuer", "_audience", "_skew", "_static_key")

    def __init__(
        self,
        key_store: KeyStore,
        *,
        issuer: tuple[str, ...] | None,
        audience: frozenset[str] | None,
        skew: float,
        cache_size: int,
        opaque: OpaqueTokenVerifier | None = None,
    ) -> None:
        self.key_store = key_store
        #: A PEM key's store answers every kid with one key: held here, no
        #: two calls per request to look it up (None: look the kid up).
        self._static_key: RSAPublicKey | None = key_store.static_key
        self.cache = VerifiedTokenCache(cache_size)
        #: ``token -> (claims, kid, key)`` or None: the cache's lookup.
        self.cached = self.cache.get_entry
        self.opaque = opaque
        self._issuer = issuer
        self._audience = audience
        self._skew = skew

    def session_claims(
        self,
        token: str,
        now: float,
        unverified: UnverifiedToken | None = None,
        *,
        kind_first: bool = False,
        parties: frozenset[str] | None = None,
    ) -> SessionClaims:
        """The verified claims of a session token: from the cache when its key
        still stands, else by verifying it (and caching the result).

        Only what the token itself proves is checked here (header, signature,
        ``iss``, ``aud``, claim types); its times, ``azp`` and status are the
        route's to check on every request. ``kind_first`` (a request's token):
        a token of another kind is refused before its key is looked up, as
        @clerk/backend's authenticateRequest does; a given ``unverified`` token
        is one whose kind the caller checked so. ``parties``: the route's
        authorized parties, checked before ``iss`` on a token not yet verified
        (see :func:`~clerk_serverless.verify.check_session_claims`).
        """
        entry = self.cached(token)
        if entry is not None:
            claims, kid, key = entry
            static = self._static_key
            if (static if static is not None else self.key_store.keys().get(kid)) is key:
                if claims.exp <= now - self._skew:
                    self.cache.discard(token)  # dropped at exp; the time check refuses it
                return claims
            self.cache.discard(token)
        if unverified is None:
            unverified = UnverifiedToken(token)
            header = unverified.header
            if kind_first and header.plain_session:
                # Every header check passes: all check_session_kind has left
                # to check, written out, is the subject (no machine's).
                raw = unverified.claims()
                sub = raw.get("sub")
                if type(sub) is str and sub.startswith("mch_"):
                    raise TokenTypeMismatchError("machine token, not a session token")
                key = self.key_for(unverified)
            else:
                if kind_first:
                    check_session_kind(unverified)
                    check_session_typ(header)  # the rest of the header was the kind check's
                else:
                    check_session_header(header)
                key = self.key_for(unverified)
                raw = unverified.claims()
        else:
            header = unverified.header
            if kind_first:
                if not header.plain_session:
                    check_session_typ(header)  # the rest of the header was the kind check's
            else:
                check_session_header(header)
            key = self.key_for(unverified)
            raw = unverified.claims()
        complete = check_session_claims(raw, self._issuer, self._audience, now, self._skew, parties)
        claims = SessionClaims(raw)
        if complete and claims.exp > now - self._skew:
            self.cache.put(token, claims, header.kid, key, now)
        return claims

    def machine_auth(self, kind: str, token: str, now: float, parties: frozenset[str] | None) -> MachineAuth:
        """A machine token of type ``kind``: a JWT verified here, an opaque one
        by Clerk's Backend API. ``parties`` judge a JWT's ``azp``."""
        if is_jwt_format(token):
            return self._machine_jwt(kind, token, now, parties)
        if self.opaque is None:
            raise TokenInvalidError("no secret key to verify machine tokens with")
        return self.opaque.verify(kind, token)

    def _machine_jwt(self, kind: str, token: str, now: float, parties: frozenset[str] | None) -> MachineAuth:
        """An M2M or OAuth access token JWT, as @clerk/backend's
        ``verifyMachineJwt``: the header type of its kind, the signature, then
        ``sub``, ``aud``, ``azp`` (when it has one) and the times."""
        try:
            unverified = UnverifiedToken(token)
        except TokenInvalidAlgorithmError as exc:
            raise TokenVerificationFailedError(exc.detail) from None
        # Decoded before anything else, as verifyMachineAuthToken's decodeJwt:
        # a payload that does not decode is token-invalid (verify.ts:258-277).
        claims = unverified.claims()
        check_machine_header(unverified.header, kind == M2M_TOKEN)
        try:
            self.key_for(unverified)  # the signature verifies
            check_machine_claims(claims, self._audience, parties, now, self._skew, m2m=kind == M2M_TOKEN)
        except (KeysUnavailableError, TokenVerificationFailedError):
            raise  # an outage stays a 503
        except AuthError as exc:
            # @clerk/backend reports every failure of a machine JWT after its
            # routing as token-verification-failed, the key lookup's included:
            # verifyMachineJwt.ts:72-78 catches loadClerkJWKFromRemote's
            # jwk-kid-mismatch (the detail stays in the message).
            raise TokenVerificationFailedError(exc.detail or exc.message) from None
        return MachineAuth.from_jwt(kind, claims, token)

    def key_for(self, unverified: UnverifiedToken) -> RSAPublicKey:
        """The key whose signature ``unverified`` carries; refetches at most
        once per cooldown window when its kid is unknown or its key changed."""
        kid = unverified.header.kid
        store = self.key_store
        key = self._static_key
        if key is None:
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

    def may_block(self, token: str) -> bool:
        """True when verifying ``token`` may wait on the network: no verdict is
        held on it yet (a new ``kid`` or a bad signature forces a key refetch;
        an opaque machine token asks Clerk's Backend API)."""
        entry = self.cached(token)
        if entry is not None:
            # A hit whose key left the set (or was replaced) is verified
            # again, and its kid may force a refetch.
            return self.key_store.keys().get(entry[1]) is not entry[2]
        if is_jwt_format(token):
            return True
        return self.opaque is not None and not self.opaque.knows(classify(token), token)
