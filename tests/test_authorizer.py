"""The Lambda REQUEST authorizer, and trust_authorizer downstream."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.calls import call, recording_handler
from support.events import make_event
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, KeysUnavailableError
from clerk_serverless.authorizer import Unauthorized, authorizer_context, make_authorizer
from clerk_serverless.trusted import token_hash

ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/reports"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/reports/2024"
V2_ORG = {"v": 2, "fea": "o:reports", "o": {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read", "fpm": "1"}}


def v2_event(**request: Any) -> dict[str, Any]:
    event = make_event("http_v2", **request)
    event.update({"type": "REQUEST", "routeArn": ROUTE_ARN, "identitySource": []})
    return event


def rest_event(**request: Any) -> dict[str, Any]:
    event = make_event("rest_v1", **request)
    event.update({"type": "REQUEST", "methodArn": METHOD_ARN})
    return event


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


def test_http_api_simple_responses(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth)
    token = mint(key, **V2_ORG)
    allowed = authorize(v2_event(bearer=token), None)
    assert allowed["isAuthorized"] is True
    assert allowed["context"] == {"clerk_auth": "verified", "token_type": "session_token", "token_carrier": "header",
                                  "token_hash": token_hash(token),
                                  "user_id": "user_2abc", "session_id": "sess_2xyz", "org_id": "org_1",
                                  "org_role": "org:admin", "org_slug": "acme", "org_permissions": "org:reports:read",
                                  "azp": "https://app.example.com", "sts": "", "fea": "o:reports", "pla": "", "fva": "", "act": "",
                                  "exp": allowed["context"]["exp"]}
    assert all(isinstance(v, str) for v in allowed["context"].values())
    assert authorize(v2_event(cookies=[f"__session={mint(key)}"]), None)["isAuthorized"] is True  # v2 events carry cookies[]
    for event in (v2_event(), v2_event(bearer=mint(key, exp=1, iat=0)), v2_event(bearer=mint(key, azp="https://evil.example")), v2_event(bearer="a.b.c")):
        assert authorize(event, None) == {"isAuthorized": False}


def test_rest_request_authorizer_policies(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth)
    allowed = authorize(rest_event(bearer=mint(key)), None)
    assert allowed["principalId"] == "user_2abc"
    statement = allowed["policyDocument"]["Statement"][0]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"}
    assert allowed["context"]["user_id"] == "user_2abc" and allowed["context"]["org_id"] == ""
    assert authorize(rest_event(cookies=[f"__session={mint(key)}"]), None)["principalId"] == "user_2abc"
    for event in (rest_event(), rest_event(bearer=mint(key, exp=1, iat=0))):
        with pytest.raises(Unauthorized) as info:
            authorize(event, None)
        assert str(info.value) == "Unauthorized"  # the exact message API Gateway maps to 401


def test_permissions_deny_with_403_semantics(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth, permissions=["org:reports:read"])
    assert authorize(v2_event(bearer=mint(key)), None) == {"isAuthorized": False}
    denied = authorize(rest_event(bearer=mint(key)), None)
    assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert authorize(rest_event(bearer=mint(key, **V2_ORG)), None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_policy_responses_for_http_apis_too(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth, simple_responses=False)
    allowed = authorize(v2_event(bearer=mint(key)), None)
    assert allowed["policyDocument"]["Statement"][0]["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/*"
    assert authorize(v2_event(), None)["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def test_a_powertools_data_class_answers_as_its_dict(auth: ClerkAuth, key: SigningKey) -> None:
    # @event_source(data_class=…) on a function calling the authorizer: the
    # same answer as for the dict (read_request unwraps a data class, so the
    # version and ARN must come from the dict too: an IAM Allow for "" it was).
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerEventV2,
        APIGatewayAuthorizerRequestEvent,
    )

    authorize = make_authorizer(auth)
    v2, rest = v2_event(bearer=mint(key)), rest_event(bearer=mint(key))
    assert authorize(APIGatewayAuthorizerEventV2(v2), None) == authorize(v2, None)
    assert authorize(APIGatewayAuthorizerRequestEvent(rest), None) == authorize(rest, None)
    assert authorize(APIGatewayAuthorizerEventV2(v2_event()), None) == {"isAuthorized": False}


def test_token_authorizers(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth)
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {mint(key)}", "methodArn": METHOD_ARN}
    assert authorize(event, None)["principalId"] == "user_2abc"
    with pytest.raises(Unauthorized):
        authorize({"type": "TOKEN", "authorizationToken": "Bearer nope", "methodArn": METHOD_ARN}, None)


def test_key_outage_is_an_error_never_an_allow_or_a_401(make_auth: Any, key: SigningKey, jwks: Any) -> None:
    jwks.set("status", status=503)
    authorize = make_authorizer(make_auth())
    for event in (v2_event(bearer=mint(key)), rest_event(bearer=mint(key))):
        with pytest.raises(KeysUnavailableError) as info:
            authorize(event, None)
        assert str(info.value) != "Unauthorized"


def test_default_handler_uses_the_environment(monkeypatch: pytest.MonkeyPatch, jwks: Any, key: SigningKey) -> None:
    from clerk_serverless.authorizer import handler

    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    assert handler(v2_event(bearer=mint(key)), None)["isAuthorized"] is True


# -- trust_authorizer downstream ------------------------------------------------------------


def _behind(shape: str, context: dict[str, str], **request: Any) -> dict[str, Any]:
    event = make_event(shape, **request)
    event["requestContext"]["authorizer"] = {"lambda": context} if shape == "http_v2" else {"principalId": context["user_id"], **context}
    return event


def _context(key: SigningKey, auth: ClerkAuth, **claims: Any) -> tuple[dict[str, str], str]:
    token = mint(key, **claims)
    return authorizer_context(auth.verify_token(token)), token


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1"])
def test_trusted_context_skips_verification(make_auth: Any, key: SigningKey, jwks: Any, shape: str) -> None:
    context, token = _context(key, make_auth(), **V2_ORG)
    jwks.set("status", status=503)  # nothing can be verified now: the context alone must do
    trusting = make_auth(trust_authorizer=True, jwks_url=jwks.url + "?down")
    handler = recording_handler(trusting.require_session(permissions=["org:reports:read"]))
    out = call(handler, shape, _behind(shape, context, bearer=token))
    assert out.status == 200
    session = out.session
    assert (session.user_id, session.session_id, session.org_id, session.org_role) == ("user_2abc", "sess_2xyz", "org_1", "org:admin")
    assert session.has(permission="org:reports:read")
    assert session.token == token


def test_trust_is_limited(make_auth: Any, key: SigningKey) -> None:
    verifier = make_auth()
    trusting = recording_handler(make_auth(trust_authorizer=True).require_session)
    context, token = _context(key, verifier)
    assert call(trusting, "http_v2", _behind("http_v2", dict(context, clerk_auth="something else"))).status == 401  # not our context
    stale = dict(context, exp=str(int(time.time()) - 60))
    assert call(trusting, "http_v2", _behind("http_v2", stale, bearer=token)).reason == "token-expired"  # a cached result outliving its token
    mismatch = _behind("http_v2", context, query={"_clerk_session_id": "sess_other"}, bearer=token)
    assert call(trusting, "http_v2", mismatch).reason == "session-id-mismatch"
    denied = recording_handler(make_auth(trust_authorizer=True).require_session(permissions=["org:reports:read"]))
    assert call(denied, "http_v2", _behind("http_v2", context, bearer=token)).status == 403
    not_trusting = recording_handler(verifier.require_session)
    assert call(not_trusting, "http_v2", _behind("http_v2", context)).status == 401  # off by default: the token is required
    no_context = recording_handler(make_auth(trust_authorizer=True).require_session)
    assert call(no_context, "http_v2", bearer=mint(key), origin=ORIGIN).status == 200  # falls back to verifying
