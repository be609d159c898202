"""Event sources: recognise a Lambda event by its whole shape and pick its adapter.

========================  ====================================================
source                    recognised by
========================  ====================================================
HTTP API v2               ``requestContext.http`` (an object), or ``version``
                          2.0 without Lattice's or payload 1.0's method field
Function URL              the same, on a ``*.lambda-url.*`` domain
VPC Lattice v2            ``version`` 2.0, ``method``, ``path``, a Lattice
                          ``requestContext`` (``targetGroupArn``/``serviceArn``)
VPC Lattice v1            ``method``, ``raw_path``, ``is_base64_encoded``
ALB (single/multi-value)  ``httpMethod`` and ``requestContext.elb``
REST API v1               ``httpMethod`` and a ``requestContext`` object
                          (also HTTP API payload 1.0); a ``null``
                          ``httpMethod`` counts as absent. Without the
                          ``httpMethod`` key, a string
                          ``requestContext.httpMethod`` (and no WebSocket
                          ``eventType``): ``chalice local``'s events
========================  ====================================================

A Powertools event data class (``@event_source(data_class=…)`` above the
decorator: an ``APIGatewayProxyEventV2``, an ``ALBEvent``…) stands for the
dict it wraps (:func:`plain_event`).

Anything else — SQS, S3, ``{}``, a list, a Bedrock Agent event (it has
``httpMethod`` but no ``requestContext``), an API Gateway WebSocket event
(no ``httpMethod``; ``null`` where an SDK's shared type wrote one) — raises
:class:`~clerk_serverless.errors.UnsupportedEventError`, answered as a 400.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import UnsupportedEventError
from . import alb, function_url, http_v2, rest_v1, vpc_lattice
from .base import Request, Source, parse_cookies

__all__ = ["Source", "Request", "plain_event", "read_request", "source_of", "render_unsupported", "parse_cookies"]


def plain_event(event: Any) -> Any:
    """The event dict itself: ``event``, or the dict a Powertools event data
    class wraps (its ``raw_event``: ``@event_source(data_class=…)`` stacked
    above our decorator hands it one), whose keys the data class reads — so
    ``event["session"]`` set there is ``event["session"]`` in the handler.
    Anything else is returned as it is (and refused by :func:`source_of`)."""
    if type(event) is dict:
        return event
    try:  # duck-typed: Powertools is never imported for this
        raw = event.raw_event
    except Exception:  # noqa: BLE001  # any object may be handed over as an event: no exception out of here
        return event
    return raw if type(raw) is dict else event


def source_of(event: Any) -> Source:
    """The adapter for ``event``; raises :class:`UnsupportedEventError`."""
    if type(event) is not dict:
        event = plain_event(event)
        if type(event) is not dict:
            raise UnsupportedEventError(_not_a_dict(event))
    ctx = event.get("requestContext")
    if isinstance(ctx, dict) and isinstance(ctx.get("http"), dict):
        return function_url.SOURCE if function_url.FunctionUrl.matches(event) else http_v2.SOURCE
    if event.get("httpMethod") is not None and isinstance(ctx, dict) and "agent" not in event:
        return alb.SOURCE if "elb" in ctx else rest_v1.SOURCE
    if rest_v1.method_in_context_only(event):
        return rest_v1.SOURCE  # `chalice local`: the method in requestContext.httpMethod only
    if vpc_lattice.VpcLattice.matches(event):
        return vpc_lattice.SOURCE
    if event.get("version") == "2.0" and "method" not in event and "httpMethod" not in event:
        return http_v2.SOURCE  # payload 2.0 with parts missing (hand-written test events, too)
    raise UnsupportedEventError(f"not an API Gateway, ALB, Function URL or VPC Lattice event ({_describe(event)})")


def _not_a_dict(event: Any) -> str:
    """Why an object that is no dict is no event, for the 400's log line; a
    model Powertools Parser built (``@event_parser`` above the decorator)
    holds no headers any more, so the line says where the decorator goes."""
    kind = type(event).__name__
    try:
        parsed = hasattr(type(event), "model_fields")  # a pydantic model: the parsed body or envelope
    except Exception:  # noqa: BLE001  # an exotic metaclass: no exception out of here
        parsed = False
    if parsed:
        return (
            f"the event is a parsed model ({kind}), not the Lambda event: put the Clerk decorator "
            "above @event_parser, so it sees the event first"
        )
    return f"the event is a {kind}, not an HTTP request object"


def _describe(event: dict[Any, Any]) -> str:
    """A short, printable note of an event's top-level keys, bounded whatever
    the event holds (the 400's log line must not echo it)."""
    keys = []
    for key in itertools.islice(event, 5):
        text = str(key)[:32] if isinstance(key, str) else type(key).__name__
        keys.append("".join(c if c.isprintable() else "?" for c in text))
    more = f", +{len(event) - len(keys)} more" if len(event) > len(keys) else ""
    return f"top-level keys: {', '.join(keys) or 'none'}{more}"


def read_request(event: Any) -> Request:
    """The :class:`Request` view of ``event`` (or of the dict a Powertools
    event data class wraps: :func:`plain_event`)."""
    if type(event) is dict:
        ctx = event.get("requestContext")
        if type(ctx) is dict:
            http = ctx.get("http")
            if type(http) is dict:  # source_of's first case, the commonest shape, without its dispatch
                domain = ctx.get("domainName")  # function_url.on_lambda_url(ctx), written out
                source = function_url.SOURCE if isinstance(domain, str) and ".lambda-url." in domain else http_v2.SOURCE
                return source.read_with(event, http)
    else:  # off the dict's path: a dict costs nothing here
        event = plain_event(event)
    return source_of(event).read(event)


def render_unsupported(status: int, headers: dict[str, str], body: str) -> dict[str, Any]:
    """A proxy-style answer for an event whose source is unknown."""
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}
