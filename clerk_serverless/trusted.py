"""Our Lambda authorizer's context: written by the authorizer, read back
downstream by ``ClerkAuth(trust_authorizer=True)`` — the format in one place.

API Gateway hands a Lambda authorizer's ``context`` to the routes it guards
(``requestContext.authorizer``, or ``.authorizer.lambda`` for HTTP API simple
responses), strings only. :func:`authorizer_context` writes it from a verified
identity, bound to its token (:func:`token_hash`); :func:`trusted_context`
finds it on an event; :func:`bound_to` ties it to a request's token; :func:`session_claims`
and :func:`machine_auth` rebuild the identity, and :class:`TrustedAuthorizer`
checks it against the downstream route's own whole policy.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import (
    JSON_ERRORS,
    AuthError,
    TokenInvalidError,
    TokenTypeMismatchError,
    TokenVerificationFailedError,
)
from .lookup import CookieRules, find_token, token_in_header
from .machine import MachineAuth
from .policy import Policy, check_access, check_cookie_write, check_session, no_header_token
from .session import Session, SessionClaims
from .token_types import SESSION_TOKEN, is_jwt_format
from .verify import check_machine_azp, check_times

if TYPE_CHECKING:
    from .backend_api import BackendApi
    from .sources import Request

#: The marker our context carries; a context without it is not ours.
MARKER = "clerk_auth"
VERIFIED = "verified"
#: The context's binding to the token it was verified from (see :func:`token_hash`).
TOKEN_HASH = "token_hash"


def token_hash(token: str) -> str:
    """SHA-256 of ``token``, base64url without padding: what binds a context to
    the one token its identity was verified from. API Gateway caches a context
    under its identity sources only, which need not hold that token (an
    ``Authorization: Basic …`` a staging site's visitors all send, beside each
    one's cookie); a request presenting another token, or none, must not get
    it. Not secret: a digest of a token reveals nothing of it."""
    import hashlib  # only authorizers and trusting routes hash

    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def bound_to(ctx: dict[str, Any], token: str | None) -> bool:
    """True when ``ctx`` was written for ``token`` (a context without the
    binding, from an older authorizer or not ours, is for no token)."""
    expected = ctx.get(TOKEN_HASH)
    if token is None or not isinstance(expected, str) or not expected:
        return False
    import hmac

    return hmac.compare_digest(token_hash(token).encode("ascii"), expected.encode("utf-8", "surrogatepass"))


def authorizer_context(auth: Session | MachineAuth, *, from_cookie: bool = False) -> dict[str, str]:
    """The context a downstream function receives (string values only), from
    which ``ClerkAuth(trust_authorizer=True)`` rebuilds the same object."""
    if isinstance(auth, MachineAuth):
        return {
            MARKER: VERIFIED,
            "token_type": auth.token_type,
            TOKEN_HASH: token_hash(auth.token),
            "token_id": auth.id,
            "subject": auth.subject,
            "user_id": auth.user_id or "",
            "org_id": auth.org_id or "",
            "machine_id": auth.machine_id or "",
            "client_id": auth.client_id or "",
            "name": auth.name or "",
            # A JWT's azp, which the route's own authorized parties judge again
            # (an opaque token's claims are the API key's custom data, never azp).
            "azp": _str_claim(auth.claims.get("azp")) if auth.claims is not None and is_jwt_format(auth.token) else "",
            "scopes": json.dumps(list(auth.scopes), separators=(",", ":")),
            "claims": json.dumps(dict(auth.claims), separators=(",", ":")) if auth.claims is not None else "",
            "exp": _number_text(auth.expiration) if auth.expiration is not None else "",
        }
    claims = auth.claims
    fva = auth.factor_verification_age
    actor = auth.actor
    return {
        MARKER: VERIFIED,
        "token_type": auth.token_type,
        TOKEN_HASH: token_hash(auth.token),
        "token_carrier": "cookie" if from_cookie else "header",
        "user_id": auth.user_id,
        "session_id": auth.session_id,
        "org_id": auth.org_id or "",
        "org_role": auth.org_role or "",
        "org_slug": auth.org_slug or "",
        "org_permissions": ",".join(auth.org_permissions),
        "azp": _str_claim(claims.get("azp")),
        "sts": auth.status or "",
        "fea": _str_claim(claims.get("fea")),
        "pla": _str_claim(claims.get("pla")),
        "fva": ",".join(_number_text(age) for age in fva) if fva is not None else "",
        "act": json.dumps(dict(actor), separators=(",", ":")) if actor is not None else "",
        "exp": _number_text(auth.expires_at),
    }


def _number_text(value: float) -> str:
    """A number as text that reads back as the same number, of the same type
    (``1795867377``, ``1795870077.916``): an opaque token's expiration has
    milliseconds, and downstream must see what the authorizer saw."""
    return repr(value) if isinstance(value, float) else str(int(value))  # repr(5.0): "5.0", still a float


def _number(text: str, what: str) -> float:
    """:func:`_number_text` read back: an int when written as one; finite."""
    try:
        return int(text)
    except ValueError:
        pass
    return _finite(text, what)


def _str_claim(value: Any) -> str:
    return value if isinstance(value, str) else ""


def trusted_context(event: Any) -> dict[str, Any] | None:
    """Our authorizer's context on a Lambda event, or None."""
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    ctx = ctx.get("authorizer") if isinstance(ctx, dict) else None
    if isinstance(ctx, dict) and isinstance(ctx.get("lambda"), dict):
        ctx = ctx["lambda"]  # HTTP API simple responses nest the context
    if not isinstance(ctx, dict) or ctx.get(MARKER) != VERIFIED:
        return None
    return ctx


def session_claims(ctx: dict[str, Any]) -> SessionClaims:
    """The claims of the session our authorizer verified (v1 shape, with
    ``azp``, ``sts``, ``fea``, ``pla``, ``fva`` and ``act`` when it passed them)."""
    user_id = ctx.get("user_id")
    if "exp" not in ctx:
        raise TokenInvalidError("authorizer context without exp")
    exp = _number(str(ctx["exp"]), "exp")
    if not user_id:
        raise TokenInvalidError("authorizer context without user_id")
    raw: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(ctx.get("session_id") or ""),
        "exp": exp,
        "org_id": ctx.get("org_id") or None,
        "org_role": ctx.get("org_role") or None,
        "org_slug": ctx.get("org_slug") or None,
        "org_permissions": [p for p in str(ctx.get("org_permissions") or "").split(",") if p],
    }
    for name in ("azp", "sts", "fea", "pla"):
        if ctx.get(name):
            raw[name] = str(ctx[name])
    fva = str(ctx.get("fva") or "").split(",")
    if len(fva) == 2:
        with contextlib.suppress(ValueError, TokenInvalidError):
            raw["fva"] = [_number(fva[0], "fva"), _number(fva[1], "fva")]
    if ctx.get("act"):
        with contextlib.suppress(*JSON_ERRORS):
            actor = json.loads(str(ctx["act"]))
            if isinstance(actor, dict):
                raw["act"] = actor
    return SessionClaims(raw)


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TokenInvalidError(f"authorizer context with a bad {what}") from None
    if not math.isfinite(value):
        raise TokenInvalidError(f"authorizer context with a bad {what}")
    return value


def machine_auth(kind: str, ctx: dict[str, Any], token: str) -> MachineAuth:
    """The machine identity our authorizer verified."""
    exp_text = str(ctx.get("exp") or "")
    expiration = _number(exp_text, "exp") if exp_text else None
    if not ctx.get("subject") or not ctx.get("token_id"):
        raise TokenInvalidError("authorizer context without subject or token_id")
    try:
        scopes = json.loads(str(ctx.get("scopes") or "[]"))
    except JSON_ERRORS:
        scopes = []
    claims: object = None
    if ctx.get("claims"):
        try:
            claims = json.loads(str(ctx["claims"]))
        except JSON_ERRORS:
            claims = None
    return MachineAuth(
        kind,
        id=str(ctx.get("token_id") or ""),
        subject=str(ctx.get("subject") or ""),
        scopes=[s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else [],
        claims=claims if isinstance(claims, dict) else None,
        expiration=expiration,
        token=token,
        client_id=str(ctx.get("client_id") or "") or None,
        name=str(ctx.get("name") or "") or None,
    )


class TrustedAuthorizer:
    """``ClerkAuth(trust_authorizer=True)``'s reading of a request: the
    identity our authorizer verified, checked against the route's own policy
    (a cached authorizer result can outlive its token, and a route may be
    narrower than the authorizer) as a verified token would be."""

    __slots__ = ("_cookie_rules", "_parties", "_skew", "_backend_api", "_clock")

    def __init__(
        self,
        cookie_rules: CookieRules,
        parties: frozenset[str] | None,
        skew: float,
        backend_api: BackendApi | None,
        clock: Callable[[], float],
    ) -> None:
        self._cookie_rules = cookie_rules
        self._parties = parties
        self._skew = skew
        self._backend_api = backend_api
        self._clock = clock

    def identity(self, request: Request, policy: Policy) -> Session | MachineAuth | None:
        """The identity our authorizer verified for ``request`` and that
        ``policy`` admits, or None when the event carries no context of ours
        for the token the request presents (then that token is verified)."""
        event = request.event.get("aws.event") if request.source.name == "asgi" else request.event
        ctx = trusted_context(event)  # Mangum keeps the Lambda event in the scope
        if ctx is None:
            return None
        kind = str(ctx.get("token_type") or SESSION_TOKEN)
        header_token = token_in_header(request)
        now = self._clock()
        # The token the authorizer verified, as it found it: the header's,
        # else (for a session) the cookie's. A context cached for another
        # token, or for none, is not this request's: its own token is verified.
        token = header_token
        if token is None and kind == SESSION_TOKEN:
            token = find_token(request, self._cookie_rules, now).token
        if not bound_to(ctx, token):
            return None
        accepts = policy.accepts
        if kind not in accepts:
            # Refused as ClerkAuth.authenticate refuses the token itself: a
            # session-only route reads a header token as a session token (an
            # opaque machine token is then no JWT at all); a route without
            # sessions never reads the cookie, so a cookie session is no token.
            if kind == SESSION_TOKEN and header_token is None:
                raise no_header_token(policy)
            if header_token is not None and not policy.classifies and not is_jwt_format(header_token):
                raise TokenInvalidError("not a JWT")
            raise TokenTypeMismatchError()
        parties = policy.parties(self._parties)
        identity: Session | MachineAuth
        if kind == SESSION_TOKEN:
            # A cached context may come from another request than this one
            # (API Gateway keys it on its identity sources only): a request
            # without a header token can only be a cookie request.
            if ctx.get("token_carrier") == "cookie" or header_token is None:
                check_cookie_write(request, parties)
            claims = session_claims(ctx)
            check_session(claims, policy, self._parties, now, self._skew, request)
            identity = Session(claims, token or "", self._backend_api)
        else:
            identity = machine_auth(kind, ctx, header_token or "")
            azp = str(ctx.get("azp") or "") or None
            jwt = azp is not None or is_jwt_format(identity.token)  # the authorizer passes a JWT's azp only
            try:
                if jwt:  # the route's parties judge a machine JWT's azp (or its lack), as verifying it here would
                    check_machine_azp(azp, parties)
                if identity.expiration is not None:
                    check_times(identity.expiration, None, None, now, self._skew)
            except AuthError as exc:
                # Under the reason verifying the token gives: any failure of a
                # machine JWT is token-verification-failed (verifyMachineJwt);
                # an opaque token Clerk calls expired is token-invalid.
                if jwt:
                    raise TokenVerificationFailedError(exc.detail or exc.message) from None
                raise TokenInvalidError(exc.detail or exc.message) from None
        if policy.checks_access:
            check_access(identity, policy)
        return identity
