"""Powertools Event Handler middleware for ``APIGatewayRestResolver``,
``APIGatewayHttpResolver``, ``ALBResolver`` and ``LambdaFunctionUrlResolver``.

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
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.middlewares import BaseMiddlewareHandler, NextMiddleware

from ..auth import Policy
from ..decorators import default_auth
from ..errors import EventError
from ..gate import Refusal, admit, readmit
from ..responses import error_parts
from ..sources import read_request


def _response(status: int, headers: dict[str, str], body: str) -> Response:
    headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return Response(status_code=status, content_type="application/json", body=body, headers=headers)


class ClerkMiddleware(BaseMiddlewareHandler):
    """Authenticate the resolver's current event; see the module docs.

    Args:
        auth: a :class:`~clerk_serverless.ClerkAuth` (default: configured from
            ``CLERK_*`` variables, built on first request).
        required: refuse signed-out requests (default), or pass None on.
        permissions, roles, authorized_parties, treat_pending_as_signed_out:
            as for ``require_session``.
    """

    def __init__(self, *, auth: Any = None, required: bool = True, **policy: Any) -> None:
        super().__init__()
        self.auth = auth
        self.required = required
        self.policy = Policy.build(**policy)

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Response:
        event = app.current_event.raw_event
        auth = self.auth or default_auth()
        try:
            request = read_request(event)
        except EventError as error:
            return _response(*error_parts(error))
        if request.method == "OPTIONS":
            app.append_context(session=None)
            return next_middleware(app)
        existing = event.get("session")  # already verified by require_session around resolve()
        try:
            if existing is not None:
                session = readmit(auth, request, self.policy, existing)
            else:
                session = admit(auth, request, self.policy, required=self.required)
        except Refusal as refusal:
            return _response(refusal.status, refusal.headers, refusal.body)
        except EventError as error:
            return _response(*error_parts(error))
        app.append_context(session=session)
        observer = auth.observer
        if existing is not None or observer is None or session is None or not observer.bind(request, session):
            return next_middleware(app)
        try:
            return next_middleware(app)
        finally:
            observer.unbind()
