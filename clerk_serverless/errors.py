"""Typed errors and the reason codes they carry.

Every way a request can fail to authenticate has its own exception class. Each
carries the HTTP status it is answered with and a reason code, named as Clerk's
SDKs name them, that ends up in the ``x-clerk-auth-reason`` response header.

Messages are fixed strings: no token, cookie or key material ever enters one.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable


class Reason(StrEnum):
    """Reason codes: @clerk/backend's ``TokenVerificationErrorReason`` and
    ``AuthErrorReason`` names where Clerk has one, ours where it has none."""

    # -- Clerk's names ---------------------------------------------------------
    SESSION_TOKEN_MISSING = "session-token-missing"
    TOKEN_EXPIRED = "token-expired"
    TOKEN_NOT_ACTIVE_YET = "token-not-active-yet"
    TOKEN_IAT_IN_THE_FUTURE = "token-iat-in-the-future"
    TOKEN_INVALID = "token-invalid"
    TOKEN_INVALID_ALGORITHM = "token-invalid-algorithm"
    TOKEN_INVALID_SIGNATURE = "token-invalid-signature"
    TOKEN_INVALID_AUTHORIZED_PARTIES = "token-invalid-authorized-parties"
    TOKEN_INVALID_ISSUER = "token-invalid-issuer"
    TOKEN_VERIFICATION_FAILED = "token-verification-failed"
    TOKEN_TYPE_MISMATCH = "token-type-mismatch"
    JWK_KID_MISMATCH = "jwk-kid-mismatch"
    JWK_REMOTE_FAILED_TO_LOAD = "jwk-remote-failed-to-load"
    JWK_FAILED_TO_LOAD = "jwk-remote-failed-to-load"  # the name before 0.2; an alias
    # Cookie path: the browser's __client_uat says the user signed out (or in
    # again) after this token was issued, or that no client is active.
    SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT = "session-token-iat-before-client-uat"
    # A request's token not valid yet (nbf) or issued in the future (iat):
    # authenticateRequest's names (verify_token keeps verifyToken's above).
    SESSION_TOKEN_NBF = "session-token-nbf"
    SESSION_TOKEN_IAT_IN_THE_FUTURE = "session-token-iat-in-the-future"
    SESSION_TOKEN_WITHOUT_CLIENT_UAT = "session-token-but-no-client-uat"
    # Cookie path: __client_uat says a client is signed in, but no session cookie came.
    CLIENT_UAT_WITHOUT_SESSION_TOKEN = "client-uat-but-no-session-token"
    # Clerk's Backend API answered our secret key with 401 (a 503 here: the
    # caller is not at fault), or could not be reached / failed (5xx, 429).
    SECRET_KEY_INVALID = "secret-key-invalid"
    UNEXPECTED_ERROR = "unexpected-error"
    # The session's last factor verification is too old for this route (403,
    # with the body Clerk's useReverification() recognises).
    REVERIFICATION_ERROR = "reverification-error"
    # -- ours (Clerk's SDKs have no code for these) -----------------------------
    # `_clerk_session_id` in the query names another session than the token's.
    SESSION_ID_MISMATCH = "session-id-mismatch"
    # The session still has pending tasks (`sts: "pending"`).
    SESSION_PENDING = "session-pending"
    # A cookie-authenticated write (not GET/HEAD/OPTIONS) from an Origin that is
    # not an authorized party: cross-site request forgery (403).
    ORIGIN_INVALID = "origin-invalid"
    # 403s
    MISSING_PERMISSION = "missing-permission"
    MISSING_ROLE = "missing-role"
    MISSING_FEATURE = "missing-feature"
    MISSING_PLAN = "missing-plan"
    MISSING_SCOPE = "missing-scope"
    # 400s: the Lambda event itself is not an HTTP request we can read.
    EVENT_MALFORMED = "event-malformed"
    EVENT_UNSUPPORTED = "event-unsupported"
    # 500: the decorated handler returned an awaitable (an ``async def`` behind a
    # sync wrapper), which Lambda would never await.
    HANDLER_ASYNC = "handler-async"


class ClerkError(Exception):
    """Base class of every exception this package raises."""


class ClerkConfigError(ClerkError, ValueError):
    """A setting is missing or invalid. ``setting`` names the argument or
    environment variable at fault."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {problem}")


JSON_ERRORS: Final = (ValueError, RecursionError)
"""What ``json.loads`` raises for text that is not JSON: ``except
JSON_ERRORS``. ``ValueError`` covers ``JSONDecodeError`` and
``UnicodeDecodeError``; ``RecursionError`` is JSON nested past the parser's
depth (``"[" * 100_000``), which anyone who writes the text can send. A
tuple, not a wrapper: an ``except`` clause costs nothing until it catches."""


# What Clerk credentials and JWTs start with (a JWT's header is base64url of '{"').
_CREDENTIAL_MARKERS = ("sk_test_", "sk_live_", "ak_", "mt_", "oat_", "eyJ", "whsec_")


def config_value(value: object, credential: Callable[[str], bool] | None = None) -> str:
    """``value`` quoted for a :class:`ClerkConfigError` message, unless it may
    be a credential set in the wrong place (a key, a token): such errors
    reach the logs. ``credential`` overrides how a credential is recognised
    (by default: a Clerk key's or a JWT's start anywhere in it)."""
    text = str(value).strip()
    looks = credential(text) if credential is not None else any(m in text for m in _CREDENTIAL_MARKERS)
    if looks or len(text) > 200 or not text.isprintable():
        return "a value that looks like a key or token (not shown)"
    return repr(value)


class AuthError(ClerkError):
    """A request that does not authenticate. Subclasses fix ``status`` and
    ``reason``; ``detail`` is a short, token-free note for logs only."""

    status: int = 401
    reason: Reason = Reason.TOKEN_INVALID
    message: str = "The session token is invalid."

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail
        super().__init__(self.message if detail is None else f"{self.message} ({detail})")


class TokenMissingError(AuthError):
    """No token in the request."""

    reason = Reason.SESSION_TOKEN_MISSING
    message = "No session token: send `Authorization: Bearer <token>` or the __session cookie."


class ClientUatWithoutSessionError(TokenMissingError):
    """A signed-in ``__client_uat`` cookie but no session cookie (the session
    cookie expired, or was not sent to this domain)."""

    reason = Reason.CLIENT_UAT_WITHOUT_SESSION_TOKEN


class MachineTokenMissingError(TokenMissingError):
    """No token in the ``Authorization`` header of a route that accepts
    machine tokens only (they are never read from cookies)."""

    message = "No token: send `Authorization: Bearer <token>`."


class TokenInvalidError(AuthError):
    """The token is malformed or not one Clerk issued; for an opaque machine
    token, also one Clerk calls unknown, revoked or expired (401)."""

    reason = Reason.TOKEN_INVALID
    message = "The token is malformed, or not a valid Clerk token."


class TokenInvalidAlgorithmError(TokenInvalidError):
    """The header's ``alg`` is not on the allow-list (RS256 only)."""

    reason = Reason.TOKEN_INVALID_ALGORITHM
    message = "The token's signing algorithm is not allowed."


class TokenVerificationFailedError(AuthError):
    """The signature verifies but a required claim is missing or malformed
    (``sub``, ``exp``, ``nbf``, ``iat``, ``aud``)."""

    reason = Reason.TOKEN_VERIFICATION_FAILED
    message = "The token's claims do not verify."


class TokenInvalidIssuerError(TokenVerificationFailedError):
    """``iss`` is missing, not ``https://…``, or not the configured issuer:
    @clerk/backend's ``token-invalid-issuer`` (a subclass of
    :class:`TokenVerificationFailedError`, the class it was reported as before)."""

    reason = Reason.TOKEN_INVALID_ISSUER
    message = "The token's issuer (iss) is not this instance's."


class TokenTypeMismatchError(AuthError):
    """A valid token of another kind than the entry point accepts (a machine
    token or JWT-template token where a session token is expected, or the reverse)."""

    reason = Reason.TOKEN_TYPE_MISMATCH
    message = "This kind of token is not accepted here."


class TokenExpiredError(AuthError):
    """The token's ``exp`` has passed, clock skew included (401)."""

    reason = Reason.TOKEN_EXPIRED
    message = "The session token has expired."


class TokenNotActiveYetError(AuthError):
    """The token's ``nbf`` is still in the future, clock skew included (401)."""

    reason = Reason.TOKEN_NOT_ACTIVE_YET
    message = "The session token is not valid yet (nbf is in the future)."


class TokenIatInTheFutureError(AuthError):
    """The token's ``iat`` is in the future, clock skew included (401)."""

    reason = Reason.TOKEN_IAT_IN_THE_FUTURE
    message = "The session token was issued in the future (iat); check the clock."


class SessionTokenNbfError(TokenNotActiveYetError):
    """:class:`TokenNotActiveYetError` on a request, under @clerk/backend's
    ``authenticateRequest`` name."""

    reason = Reason.SESSION_TOKEN_NBF


class SessionTokenIatInTheFutureError(TokenIatInTheFutureError):
    """:class:`TokenIatInTheFutureError` on a request, under @clerk/backend's
    ``authenticateRequest`` name."""

    reason = Reason.SESSION_TOKEN_IAT_IN_THE_FUTURE


class TokenInvalidSignatureError(AuthError):
    """The signature does not verify with the key its ``kid`` names (401)."""

    reason = Reason.TOKEN_INVALID_SIGNATURE
    message = "The session token's signature does not verify."


class TokenInvalidAuthorizedPartiesError(AuthError):
    """The token's ``azp`` is not one of the authorized parties, or is missing
    where some are configured (401)."""

    reason = Reason.TOKEN_INVALID_AUTHORIZED_PARTIES
    message = "The session token's authorized party (azp) is not allowed."


class KidMismatchError(AuthError):
    """No key of the key set has the token's ``kid``, even after the refetch
    an unknown kid may force once per cooldown window (401)."""

    reason = Reason.JWK_KID_MISMATCH
    message = "No signing key matches the session token's kid."


class SessionIdMismatchError(AuthError):
    """``_clerk_session_id`` in the query names another session than the token's (401)."""

    reason = Reason.SESSION_ID_MISMATCH
    message = "_clerk_session_id does not match the session token."


class ClientUatMismatchError(AuthError):
    """The session cookie was issued before the ``__client_uat`` cookie's time:
    the user signed out, or in again, since (401)."""

    reason = Reason.SESSION_TOKEN_IAT_BEFORE_CLIENT_UAT
    message = "The session cookie predates the client's last sign-in or sign-out."


class ClientUatMissingError(ClientUatMismatchError):
    """The ``__client_uat`` cookie is ``0`` (or unreadable): no active client,
    so the session cookie is stale."""

    reason = Reason.SESSION_TOKEN_WITHOUT_CLIENT_UAT
    message = "The session cookie belongs to a client that has signed out."


class SessionPendingError(AuthError):
    """The session has pending tasks (``sts: "pending"``) and the route treats
    such sessions as signed out (401)."""

    reason = Reason.SESSION_PENDING
    message = "The session has pending tasks and is treated as signed out."


class PermissionDeniedError(AuthError):
    """Signed in, but without a required permission (403)."""

    status = 403
    reason = Reason.MISSING_PERMISSION
    message = "The session lacks a required permission."


class RoleDeniedError(PermissionDeniedError):
    """Signed in, but without any of the accepted roles (403)."""

    reason = Reason.MISSING_ROLE
    message = "The session has none of the required roles."


class FeatureDeniedError(PermissionDeniedError):
    """Signed in, but the user's or organization's plan lacks a required feature (403)."""

    reason = Reason.MISSING_FEATURE
    message = "The subscription lacks a required feature."


class PlanDeniedError(PermissionDeniedError):
    """Signed in, but on none of the accepted plans (403)."""

    reason = Reason.MISSING_PLAN
    message = "The subscription is on none of the required plans."


class ScopeDeniedError(PermissionDeniedError):
    """A token without a required scope (403); session tokens carry none."""

    reason = Reason.MISSING_SCOPE
    message = "The token lacks a required scope."


class ReverificationRequiredError(PermissionDeniedError):
    """Signed in, but the last factor verification is too old for this route
    (403). Answered with Clerk's reverification body, which
    ``useReverification()`` recognises: the frontend prompts and retries."""

    reason = Reason.REVERIFICATION_ERROR
    message = "This action needs a recent verification; verify again and retry."

    def __init__(self, body: dict[str, object] | None = None) -> None:
        super().__init__()
        self.body = body


class OriginInvalidError(AuthError):
    """A write (any method but GET, HEAD, OPTIONS) authenticated by the session
    cookie, sent from an ``Origin`` that is not an authorized party (403):
    the browser attached the cookie to a cross-site request."""

    status = 403
    reason = Reason.ORIGIN_INVALID
    message = "Cookie-authenticated writes are accepted only from authorized origins."


class KeysUnavailableError(AuthError):
    """Signing keys could not be loaded and none are cached (503).

    This is our outage, never the user's fault: a 401 here would make the
    frontend sign the user out.
    """

    status = 503
    reason = Reason.JWK_REMOTE_FAILED_TO_LOAD
    message = "Signing keys are unavailable; try again shortly."

    def __init__(self, detail: str | None = None, retry_after: float = 5.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BackendApiUnavailableError(KeysUnavailableError):
    """Clerk's Backend API could not verify a machine token: unreachable,
    timed out, 5xx, 429, any other status but 200/401/404, or an answer that
    is no JSON object (503 + ``Retry-After``, never a 401)."""

    reason = Reason.UNEXPECTED_ERROR
    message = "Clerk's Backend API is unavailable; try again shortly."


class SecretKeyInvalidError(KeysUnavailableError):
    """Clerk's Backend API refused our secret key (503: a misconfiguration
    of ours, not the caller's fault)."""

    reason = Reason.SECRET_KEY_INVALID
    message = "The service cannot verify this token right now."


class EventError(ClerkError):
    """The Lambda event is not an HTTP request this package can read (400)."""

    status = 400
    reason: Reason = Reason.EVENT_MALFORMED


class MalformedEventError(EventError):
    """An HTTP event whose fields have the wrong types."""

    reason = Reason.EVENT_MALFORMED


class UnsupportedEventError(EventError):
    """Not an API Gateway, ALB, Function URL or VPC Lattice event (e.g. SQS, S3, ``{}``, a Bedrock Agent event)."""

    reason = Reason.EVENT_UNSUPPORTED


class WebhookVerificationError(ClerkError):
    """A Clerk webhook request that does not verify (answered 400). Subclasses
    fix ``reason`` (sent as ``x-clerk-webhook-reason``); messages are fixed
    strings, as @clerk/backend's: never the signing secret, a signature or
    the body."""

    status = 400
    reason: str = "webhook-verification-failed"
    message: str = "Unable to verify incoming webhook."

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class WebhookHeadersMissingError(WebhookVerificationError):
    """``svix-id``, ``svix-timestamp`` or ``svix-signature`` is absent or
    blank; ``missing`` names them, in that order."""

    reason = "webhook-headers-missing"

    def __init__(self, missing: tuple[str, ...]) -> None:
        self.missing = missing
        super().__init__(f"Missing required webhook headers: {', '.join(missing)}")


class WebhookTimestampInvalidError(WebhookVerificationError):
    """``svix-timestamp`` does not start with a number of seconds."""

    reason = "webhook-timestamp-invalid"
    message = "Invalid Signature Headers"


class WebhookTimestampTooOldError(WebhookVerificationError):
    """``svix-timestamp`` is more than 5 minutes in the past (a replay, or a clock far off)."""

    reason = "webhook-timestamp-too-old"
    message = "Message timestamp too old"


class WebhookTimestampTooNewError(WebhookVerificationError):
    """``svix-timestamp`` is more than 5 minutes in the future."""

    reason = "webhook-timestamp-too-new"
    message = "Message timestamp too new"


class WebhookSignatureMismatchError(WebhookVerificationError):
    """No ``v1`` signature of ``svix-signature`` is the HMAC of this ID,
    timestamp and body under the signing secret (tampered, or another secret)."""

    reason = "webhook-signature-mismatch"
    message = "No matching signature found"


class WebhookPayloadInvalidError(WebhookVerificationError):
    """The signed body is not UTF-8 JSON: an object with a string ``type``."""

    reason = "webhook-payload-invalid"
    message = "The webhook payload is not a JSON event object."


class ClerkAPIError(ClerkError):
    """A call to Clerk's Backend API failed. ``status`` is the HTTP status
    when Clerk answered, else None."""

    def __init__(self, problem: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(problem)


class ClerkUnavailableError(ClerkAPIError):
    """Clerk's Backend API could not be reached, timed out, or failed (5xx, 429)."""


class UserNotFoundError(ClerkAPIError):
    """The Backend API has no such user (404)."""


class JwksError(ClerkError):
    """Fetching or reading a JWKS failed. ``retry_after`` is a hint in seconds
    (from a 429/503 ``Retry-After``) or ``None``."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(problem)


class JwksFetchError(JwksError):
    """An HTTP request to Clerk failed (network, status, size, redirect): a
    JWKS fetch, or a Backend API call (:mod:`~clerk_serverless.httpget`
    raises it for both).
    ``status`` is the HTTP status when the server answered; ``code`` the
    first error code of a Clerk error body (``{"errors": [{"code": …}]}``)."""

    def __init__(
        self, problem: str, retry_after: float | None = None, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(problem, retry_after)
        self.status = status
        self.code = code


class JwksInvalidError(JwksError):
    """The JWKS response is not a JSON key set with a usable RS256 key."""


__all__ = [name for name, value in list(globals().items()) if isinstance(value, type) and value.__module__ == __name__]
