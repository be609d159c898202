"""Lambda authorizers: authenticate once at API Gateway instead of in every function.

API Gateway's built-in JWT authorizer cannot read cookies and requires an
``aud`` claim Clerk session tokens lack. This one reads the Bearer token or
the ``__session`` cookie and verifies it exactly as the decorators do (same
key cache, same reason codes in the logs and audit trail).

    # template.yaml: Handler: clerk_serverless.authorizer.handler (from the layer)
    from clerk_serverless.authorizer import make_authorizer
    handler = make_authorizer(permissions=["org:reports:read"])

Answers, per API Gateway's contract:

=====================  ==================================  ===============================
outcome                HTTP API (payload 2.0, simple)       REST API (REQUEST or TOKEN),
                                                           WebSocket ``$connect``
=====================  ==================================  ===============================
signed in              ``isAuthorized: true`` + context    Allow policy, ``principalId``
no / invalid token     ``isAuthorized: false`` (403)       raises ``Unauthorized`` (401)
lacks permission/role  ``isAuthorized: false`` (403)       Deny policy (403)
keys unavailable       raises (API Gateway answers 500;    raises (500; not cached)
                       nothing is cached)
=====================  ==================================  ===============================

The context carries strings only (REST's rule): ``clerk_auth: "verified"``,
``token_type``, ``token_hash`` (SHA-256 of the token, base64url: the context
is for that token only), ``exp`` (the token's, epoch seconds, as precise as
the token gives it) and, for a session,
``user_id``, ``session_id``, ``org_id``, ``org_role``, ``org_slug``,
``org_permissions`` (comma-joined), ``azp``, ``sts``, ``fea``, ``pla``,
``fva``, ``act`` (the impersonation claim, JSON, else empty) and
``token_carrier`` (``cookie`` or ``header``); for a machine token
(``accepts_token=…``), ``token_id``, ``subject``, ``user_id``, ``org_id``,
``machine_id``, ``client_id``, ``name``, ``azp`` (a machine JWT's, else empty), ``scopes`` (a JSON list) and
``claims`` (JSON). A downstream ``ClerkAuth(trust_authorizer=True)`` rebuilds
the same ``Session`` or ``MachineAuth`` without verifying again (for a
request presenting that token; any other has its own verified), and still
applies its own route's whole policy (token type, ``azp``, pending, the
cookie-write origin rule, permissions, scopes…).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .defaults import default_auth
from .errors import ClerkConfigError, EventError
from .gate import Authenticator, Refusal, admit
from .handler import PolicyOptions, split_options
from .session import Session
from .sources import Request, plain_event, read_request
from .sources.base import WEBSOCKET
from .sources.rest_v1 import SOURCE as REST_V1
from .trusted import authorizer_context

if TYPE_CHECKING:
    from typing import Unpack


class Unauthorized(Exception):
    """Raised with the exact message ``Unauthorized``: REST API Gateway then
    answers 401 (and caches nothing)."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _api_wildcard(method_arn: str) -> str:
    """``arn:…:api-id/stage/*``: one cached policy then covers every route of
    the stage (a policy naming only this method would deny the next route)."""
    prefix, _, path = method_arn.partition(":execute-api:")
    parts = path.split("/")
    if not prefix or len(parts) < 2:
        return method_arn
    return f"{prefix}:execute-api:{parts[0]}/{parts[1]}/*"


def _policy(principal: str, effect: str, method_arn: str, context: dict[str, str] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": _api_wildcard(method_arn)}],
        },
    }
    if context is not None:
        response["context"] = context
    return response


def _token_event_as_request(event: dict[str, Any]) -> Request:
    """A REST TOKEN authorizer event seen as a request with that Authorization header."""
    token = event.get("authorizationToken")
    return REST_V1.read({
        "httpMethod": "GET",
        "headers": {"Authorization": token if isinstance(token, str) else ""},
        "requestContext": {},
    })


def _websocket_connect_as_request(event: dict[str, Any]) -> Request:
    """A WebSocket API ``$connect`` REQUEST authorizer event seen as a REST
    request of method ``WEBSOCKET``: not a safe method, so a handshake
    carrying only the session cookie must come from an authorized origin
    (cross-site WebSocket hijacking), as in the ASGI adapter."""
    return REST_V1.read({**event, "httpMethod": WEBSOCKET})


def _is_websocket_connect(event: Any) -> bool:
    """A WebSocket handshake, whatever ``httpMethod`` says: an event carrying
    one (the SDKs' shared WebSocket/REST types write ``GET``) must not turn a
    cross-site cookie handshake into a safe GET. ``eventType`` is written by
    API Gateway, and only on WebSocket events."""
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    return isinstance(ctx, dict) and event.get("type") == "REQUEST" and ctx.get("eventType") == "CONNECT"


def make_authorizer(
    auth: Authenticator | None = None,
    *,
    simple_responses: bool = True,
    **policy_options: Unpack[PolicyOptions],
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda authorizer handler.

    Args:
        auth: a :class:`~clerk_serverless.ClerkAuth` (default: configured from
            ``CLERK_*`` variables on first use).
        simple_responses: for HTTP APIs, answer ``{"isAuthorized": …}``
            (``EnableSimpleResponses: true``); ``False`` answers IAM policies.
        **policy_options: the route options of ``require_auth`` — ``accepts_token``, ``scopes``,
            ``permissions``, ``roles``, ``features``, ``plans``, ``reverification``,
            ``authorized_parties``, ``treat_pending_as_signed_out`` (session
            tokens only by default).
    """
    policy, _, _ = split_options(
        policy_options, required=True, who="make_authorizer", any_token=True, entry_options=frozenset()
    )
    if not isinstance(simple_responses, bool):  # "false" would be truthy
        raise ClerkConfigError("simple_responses", "must be True or False")
    if auth is not None:
        auth.check_policy(policy)

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """A Lambda REQUEST/TOKEN authorizer made by :func:`make_authorizer`:
        the answer API Gateway expects for ``event`` (raises ``Unauthorized``
        for a REST API's 401)."""
        clerk = auth or default_auth()
        if auth is None:
            clerk.check_policy(policy)  # the default instance: a policy it cannot serve is a ClerkConfigError
        event = plain_event(event)  # a Powertools data class: its version, type and ARN are the dict's
        is_v2 = isinstance(event, dict) and event.get("version") == "2.0"
        arn = (event.get("routeArn") if is_v2 else event.get("methodArn")) if isinstance(event, dict) else None
        method_arn = str(arn or "")
        simple = is_v2 and simple_responses

        def deny(status: int) -> dict[str, Any]:
            if simple:
                return {"isAuthorized": False}
            if status == 401 and not is_v2:
                raise Unauthorized()
            return _policy("anonymous", "Deny", method_arn, None)

        try:
            if isinstance(event, dict) and event.get("type") == "TOKEN":
                request = _token_event_as_request(event)
            elif _is_websocket_connect(event):
                request = _websocket_connect_as_request(event)
            else:
                request = read_request(event)
            identity = admit(clerk, request, policy, required=True)
        except EventError:
            return deny(401)
        except Refusal as refusal:
            if refusal.status == 503:
                # Our outage: an error, which API Gateway neither caches nor
                # turns into an allow (nor into a 401 that signs users out).
                raise refusal.error from None  # keys, or the Backend API: its own message says which
            return deny(refusal.status)
        assert identity is not None  # required=True: refused otherwise
        from_cookie = isinstance(identity, Session) and clerk.token_from(request)[1]
        ctx = authorizer_context(identity, from_cookie=from_cookie)
        if simple:
            return {"isAuthorized": True, "context": ctx}
        principal = identity.user_id if isinstance(identity, Session) else identity.subject
        return _policy(principal, "Allow", method_arn, ctx)

    return handler


handler = make_authorizer()
"""The ready authorizer: ``make_authorizer()`` with the default,
environment-configured ``ClerkAuth`` and no requirements (session tokens).
``Handler: clerk_serverless.authorizer.handler`` in a template using the layer."""

__all__ = ["Unauthorized", "handler", "make_authorizer"]
