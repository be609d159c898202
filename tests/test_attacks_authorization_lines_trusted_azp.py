"""Review 9 (on b8d6f44..c2a4bd9): the split of auth.py, the authorizer
context read back, several Authorization lines, token kinds.

Tests named ``test_finding_*`` are holes that were open on the code as
reviewed, kept with their fixes; every other test is a probe the library
withstood, kept as a regression test.

Real parts only: generated RS256 keys, a loopback JWKS server, a loopback
Backend API checked against Clerk's OpenAPI spec, real-shaped events.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.clerk_api import ClerkBackendApi
from support.events import AUTHORIZER_ROUTE_ARN, make_event, response_headers
from support.jwks_server import JwksServer
from support.tokens import ISSUER, ORIGIN, SigningKey, m2m_jwt, mint, oauth_jwt

from clerk_serverless import ClerkAuth
from clerk_serverless.authorizer import make_authorizer

OTHER = "https://other.example.com"


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {}, "body": "ok"}


def answer(response: dict[str, Any], shape: str = "http_v2") -> tuple[int, str | None]:
    return response["statusCode"], response_headers(shape, response).get("x-clerk-auth-reason")


# =========================================================================================
# 1. trust_authorizer: an OAuth access token JWT without azp
# =========================================================================================


@pytest.fixture
def settings(jwks: JwksServer, clerk_api: ClerkBackendApi, key: SigningKey) -> dict[str, Any]:
    clerk_api.keys = [key.jwk]
    return {"jwks_url": jwks.url, "secret_key": clerk_api.secret_key, "api_url": clerk_api.url, "issuer": ISSUER}


def behind(authorizer: Any, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` as the route behind ``authorizer`` receives it (HTTP API
    simple responses), or fails when the authorizer refuses it."""
    request = {**event, "type": "REQUEST", "routeArn": AUTHORIZER_ROUTE_ARN, "identitySource": []}
    outcome = authorizer(request)
    assert outcome["isAuthorized"] is True, outcome
    routed = json.loads(json.dumps(event))
    routed["requestContext"]["authorizer"] = {"lambda": outcome["context"]}
    return routed


@pytest.mark.parametrize("parties", [
    {"authorized_parties": [ORIGIN]},  # the downstream instance's
    {},  # the route's own
])
def test_oauth_jwt_without_azp_is_judged_alike_behind_a_trusting_route(
    settings: dict[str, Any], key: SigningKey, parties: dict[str, Any]
) -> None:
    """An OAuth access token JWT without ``azp`` passes where authorized
    parties are configured, as @clerk/backend 3.25's verifyMachineJwt lets it
    (Clerk's OAuth JWTs carry none; README). The route behind an authorizer
    answers as it does when it verifies the token itself."""
    token = oauth_jwt(key, azp=None, lifetime=900)
    authorizer = make_authorizer(ClerkAuth(**settings), accepts_token="oauth_token")
    route_options: dict[str, Any] = {"accepts_token": "oauth_token"}
    if not parties:
        route_options["authorized_parties"] = [OTHER]
    direct = ClerkAuth(**settings, **parties).require_auth(**route_options)(handler)
    trusting = ClerkAuth(**settings, **parties, trust_authorizer=True).require_auth(**route_options)(handler)

    event = make_event("http_v2", bearer=token)
    expected = answer(direct(json.loads(json.dumps(event))))
    assert expected == (200, None)
    assert answer(trusting(behind(authorizer, event))) == expected


def test_oauth_jwt_with_azp_and_m2m_jwt_without_azp_behind_a_trusting_route(
    settings: dict[str, Any], key: SigningKey
) -> None:
    """The rule's other sides: an OAuth JWT whose azp is authorized passes, and
    an M2M JWT without azp passes (deliberately, as when verified)."""
    m2m = m2m_jwt(key, {"cat": None}, aud=None, scopes="read:foo", lifetime=900)
    authorizer = make_authorizer(ClerkAuth(**settings), accepts_token="any")
    trusting = ClerkAuth(**settings, authorized_parties=[ORIGIN], trust_authorizer=True)
    route = trusting.require_auth(accepts_token=["oauth_token", "m2m_token"])(handler)
    for token in (oauth_jwt(key, lifetime=900), m2m):
        event = make_event("http_v2", bearer=token)
        assert answer(route(behind(authorizer, event))) == (200, None)


# =========================================================================================
# 2. Several Authorization lines: an empty one counts, as in fetch's Headers
# =========================================================================================


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi", "vpc_lattice_v2", "http_v2", "vpc_lattice"])
def test_finding_an_empty_authorization_line_is_joined_as_every_source_joins_it(
    shape: str, make_auth: Any, key: SigningKey
) -> None:
    """Lines ``""`` and ``Bearer <token>``: fetch's Headers (what
    @clerk/backend reads) joins them into ``", Bearer <token>"``, and HTTP API
    and Lattice v1 events carry ``",Bearer <token>"`` — no scheme Clerk knows,
    so no header token. REST, ALB multi-value and Lattice v2 events dropped the
    empty line and verified the token: the same request, another verdict."""
    route = make_auth().require_session(handler)
    event = make_event(shape, headers={"Authorization": ["", f"Bearer {mint(key)}"]})
    assert answer(route(event), shape) == (401, "session-token-missing")
