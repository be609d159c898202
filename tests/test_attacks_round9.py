"""Red-team probes, ninth pass: what one request leaves in the handler's own
objects for the next, what a framework runs before our middleware, and the
method, header, path and preflight confusions between what we read and what
the app inside routes on.

Tests named ``test_finding_*`` are holes that were open on the code as
reviewed, kept with their fixes; every other test is a probe the library
withstood, kept as a regression test.

Real parts only: generated RS256 keys, the loopback JWKS server, real-shaped
events, real Powertools resolvers, FastAPI behind Mangum.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.events import make_event, response_headers, routed
from support.tokens import ISSUER, ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth

OTHER = "https://admin.example.com"
EVIL = "https://evil.example"
ACRM = "Access-Control-Request-Method"


# =========================================================================================
# 1. CORS headers are added to a copy: a handler's shared headers never keep a grant
# =========================================================================================

#: What handlers commonly return on every call: one module-level headers dict.
SHARED_HEADERS = {"Content-Type": "application/json"}


@pytest.mark.parametrize("shape", ["rest_v1", "alb", "vpc_lattice_v2"])
def test_finding_a_grant_stays_in_the_handlers_shared_headers_for_the_next_request(
    make_auth: Any, key: SigningKey, shape: str
) -> None:
    """MEDIUM (CORS; cross-request state). On sources whose gateway adds no
    CORS headers (REST, ALB, Lattice) the decorators add them to the
    handler's answer — in place, into the ``headers`` dict the handler
    returned. Handlers commonly return one module-level dict on every call, so
    the first browser's grant stayed in it for the whole warm container:
    origin B then got ``Access-Control-Allow-Origin: <A>`` (its page breaks),
    and a route whose ``authorized_parties`` do not include A answered A's
    page with A's credentialed grant. Fixed: the grant goes on a copy; the
    handler's objects are never changed."""
    auth = make_auth(authorized_parties=[ORIGIN, OTHER])
    headers = dict(SHARED_HEADERS)

    def body(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "headers": headers, "body": "{}"}

    guarded = auth.require_session(body)
    others_only = auth.with_session(authorized_parties=[OTHER])(body)
    for origin in (ORIGIN, OTHER, ORIGIN):
        answer = guarded(make_event(shape, bearer=mint(key, azp=origin), origin=origin), None)
        assert answer["statusCode"] == 200
        assert response_headers(shape, answer)["access-control-allow-origin"] == origin
    answer = others_only(make_event(shape, bearer=mint(key, azp=ORIGIN), origin=ORIGIN), None)
    assert "access-control-allow-origin" not in response_headers(shape, answer)
    assert "access-control-allow-credentials" not in response_headers(shape, answer)
    assert headers == SHARED_HEADERS  # the handler's dict as it wrote it


def test_finding_a_shared_multi_value_vary_list_is_changed_in_place(make_auth: Any, key: SigningKey) -> None:
    """The same in ALB multi-value mode: a handler's ``Vary`` list (and its
    ``multiValueHeaders`` dict) are left as they were; each answer carries
    ``Vary: Accept-Encoding, Origin`` once."""
    auth = make_auth()
    vary = ["Accept-Encoding"]
    multi: dict[str, list[str]] = {"Vary": vary, "Content-Type": ["application/json"]}
    guarded = auth.require_session(lambda event, context: {"statusCode": 200, "multiValueHeaders": multi, "body": ""})
    for _ in range(3):
        answer = guarded(make_event("alb_multi", bearer=mint(key), origin=ORIGIN), None)
        assert answer["multiValueHeaders"]["Vary"] == ["Accept-Encoding", "Origin"]
        assert answer["multiValueHeaders"]["Access-Control-Allow-Origin"] == [ORIGIN]
    assert vary == ["Accept-Encoding"] and set(multi) == {"Vary", "Content-Type"}


def test_answers_without_an_origin_are_returned_as_the_handler_made_them(make_auth: Any, key: SigningKey) -> None:
    """Nothing to add (no browser): the handler's own answer object, untouched."""
    auth = make_auth()
    answer = {"statusCode": 200, "headers": {"X": "1"}, "body": ""}
    guarded = auth.require_session(lambda event, context: answer)
    assert guarded(make_event("rest_v1", bearer=mint(key)), None) is answer
