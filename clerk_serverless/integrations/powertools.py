"""Powertools Event Handler middleware for ``APIGatewayRestResolver``,
``APIGatewayHttpResolver``, ``ALBResolver``, ``LambdaFunctionUrlResolver``
and the VPC Lattice resolvers (``VPCLatticeResolver``, ``VPCLatticeV2Resolver``).

    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from clerk_serverless.integrations.powertools import ClerkMiddleware

    app = APIGatewayHttpResolver()
    app.use(middlewares=[ClerkMiddleware()])                # every route

    @app.get("/reports", middlewares=[ClerkMiddleware(permissions=["org:reports:read"])])
    def reports():
        session = app.context["session"]

Refusals short-circuit with a Powertools ``Response`` carrying the
decorators' status, JSON body, ``x-clerk-auth-*``, ``WWW-Authenticate`` and
CORS headers (the resolver renders them in the event's own format, ALB
multi-value included). The session is passed on with
``app.append_context(session=...)``; ``required=False`` passes None instead of
refusing.

Middlewares take no part in Powertools' OpenAPI schema, so routes declare
what they need themselves, with the scheme names the FastAPI dependencies use:
``app.enable_swagger(security_schemes=clerk_security_schemes(),
security=clerk_security())`` (every route), or ``security=clerk_security()``
on a route (``clerk_security(cookie=False)`` where only Bearer tokens count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware
except ModuleNotFoundError as missing:  # the optional dependency: name its extra
    if (missing.name or "").partition(".")[0] != "aws_lambda_powertools":
        raise
    raise ModuleNotFoundError(
        "clerk_serverless.integrations.powertools needs Powertools for AWS Lambda: "
        "pip install 'clerk-serverless[powertools]'",
        name="aws_lambda_powertools",
    ) from None

from ..cors import is_preflight, preflight_parts
from ..defaults import default_auth
from ..errors import EventError
from ..gate import Authenticator, Refusal, admit
from ..handler import PolicyOptions, PreflightMode, middleware_options
from ..responses import error_parts
from ..session import Session
from ..sources import read_request
from .openapi import BEARER_DESCRIPTION, BEARER_SCHEME, COOKIE_DESCRIPTION, COOKIE_SCHEME

if TYPE_CHECKING:
    from typing import Unpack

    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme


def clerk_security_schemes() -> dict[str, SecurityScheme]:
    """The OpenAPI security schemes of Clerk's tokens, for
    ``app.enable_swagger(security_schemes=…)`` or
    ``app.get_openapi_json_schema(security_schemes=…)``: ``ClerkBearer`` (HTTP
    Bearer: a session token, or an API key, M2M or OAuth token where a route
    accepts them) and ``ClerkSessionCookie`` (the ``__session`` cookie) — the
    names the FastAPI dependencies declare. The Swagger UI's "Authorize" then
    takes a token."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, HTTPBearer

    return {
        BEARER_SCHEME: HTTPBearer(description=BEARER_DESCRIPTION),
        COOKIE_SCHEME: APIKey.model_validate({  # by alias: "in" is a keyword
            "in": "cookie", "name": "__session", "description": COOKIE_DESCRIPTION,
        }),
    }


def clerk_security(*, cookie: bool = True) -> list[dict[str, list[str]]]:
    """A ``security=`` requirement for a route (``@app.get(…, security=…)``)
    or the whole API (``app.enable_swagger(security=…)``) that
    :class:`ClerkMiddleware` guards: a Bearer token, or the session cookie
    (``cookie=False``: Bearer only, for routes taking machine tokens alone).
    Needs :func:`clerk_security_schemes` declared."""
    bearer: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
    return [*bearer, {COOKIE_SCHEME: []}] if cookie else bearer


def _response(status: int, headers: dict[str, str], body: str) -> Response[str]:
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    content_type = "application/json" if body else None
    return Response(status_code=status, content_type=content_type, body=body, headers=headers)


class ClerkMiddleware(BaseMiddlewareHandler):  # type: ignore[type-arg,unused-ignore]  # any resolver
    """A Powertools Event Handler middleware: 401/403/503 as the decorators
    answer, unless the resolver's current event carries a token meeting the
    route options; the identity is ``app.context["auth"]`` (a session also
    ``app.context["session"]``).

    Args:
        auth: a :class:`~clerk_serverless.ClerkAuth` (default: configured from
            ``CLERK_*`` variables, built on first request).
        required: refuse signed-out requests (default), or pass None on
            (then, as with ``with_session``, a requirement option is a
            ``ClerkConfigError``).
        preflight: ``"answer"`` (default) answers real CORS preflights that
            reach a route (204, CORS grant for authorized origins); ``"handler"``
            passes them on with a None session.
        **policy: the route options of ``require_auth`` — ``accepts_token``, ``scopes``,
            ``permissions``, ``roles``, ``features``, ``plans``, ``reverification``,
            ``authorized_parties``, ``treat_pending_as_signed_out`` (session
            tokens only by default). The
            identity is ``app.context["auth"]``; a session is also
            ``app.context["session"]``.

    Each middleware decides with its own ``auth`` and whole policy, even when
    ``require_session`` already admitted the event around ``app.resolve``.
    """

    def __init__(
        self,
        *,
        auth: Authenticator | None = None,
        required: bool = True,
        preflight: PreflightMode = "answer",
        **policy: Unpack[PolicyOptions],
    ) -> None:
        super().__init__()
        self.auth = auth
        self.policy, self.preflight = middleware_options(policy, required=required, preflight=preflight)
        self.required = required
        if auth is not None:
            auth.check_policy(self.policy)

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response[Any]:
        """Called by the resolver for each request: pass it on with the
        identity in ``app.context``, or answer the refusal."""
        event = app.current_event.raw_event
        auth = self.auth or default_auth()
        if self.auth is None:
            auth.check_policy(self.policy)  # the default instance: a policy it cannot serve is a ClerkConfigError
        try:
            request = read_request(event)
        except EventError as error:
            return _response(*error_parts(error))
        try:
            if is_preflight(request):
                if self.preflight == "answer":
                    return _response(*preflight_parts(request, auth.parties_for(self.policy)))
                app.append_context(session=None, auth=None)
                return next_middleware(app)
            identity = admit(auth, request, self.policy, required=self.required)
        except Refusal as refusal:
            return _response(refusal.status, refusal.headers, refusal.body)
        except EventError as error:
            return _response(*error_parts(error))
        app.append_context(auth=identity, session=identity if isinstance(identity, Session) else None)
        observer = auth.observer
        if observer is None or identity is None or not observer.bind(request, identity):
            return next_middleware(app)
        try:
            return next_middleware(app)
        finally:
            observer.unbind()


__all__ = ["BEARER_SCHEME", "COOKIE_SCHEME", "ClerkMiddleware", "clerk_security", "clerk_security_schemes"]
