"""The security rules, on every event shape and every entry point.

* No ``require_*`` handler runs without a verified token meeting its whole
  policy: no method (``OPTIONS`` included), casing or nesting skips that.
* Real CORS preflights are answered by us, never passed to handlers.
* Cookie authentication never lets an unauthorized origin write.
* A route nested behind an outer decorator applies its own whole policy.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import ALBResolver, APIGatewayHttpResolver, APIGatewayRestResolver
from fastapi import Depends, FastAPI
from mangum import Mangum
from starlette.testclient import TestClient
from support.calls import NOT_CALLED, call, recording_handler
from support.events import SHAPES, make_event, routed
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.integrations.fastapi import require_clerk_session
from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsMiddleware

EVIL = "https://evil.example"
UNSAFE = ("POST", "PUT", "PATCH", "DELETE", "post", "Delete", "PROPFIND")
PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type"}
V2_ORG = {"v": 2, "fea": "o:reports", "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


# -- OPTIONS and preflights ------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["OPTIONS", "options", "Options"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": ORIGIN},  # no Access-Control-Request-Method: not a preflight
        {"Access-Control-Request-Method": "GET"},  # no Origin: not a preflight
        {"Origin": ORIGIN, "Access-Control-Request-Method": ""},
    ],
    ids=["bare", "origin-only", "acrm-only", "empty-acrm"],
)
def test_options_that_is_no_preflight_is_authenticated(
    auth: ClerkAuth, key: SigningKey, shape: str, method: str, headers: Any
) -> None:
    handler = recording_handler(auth.require_session(permissions=["org:reports:read"]))
    out = call(handler, shape, method=method, headers=headers)
    assert out.status == 401 and out.session is NOT_CALLED
    signed_in = call(handler, shape, method=method, headers=headers, bearer=mint(key))
    assert signed_in.status == 403 and signed_in.session is NOT_CALLED  # the whole policy applies


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decorator", ["require_session", "with_session"])
def test_real_preflight_is_answered_here(auth: ClerkAuth, shape: str, decorator: str) -> None:
    handler = recording_handler(getattr(auth, decorator))
    out = call(handler, shape, method="OPTIONS", origin=ORIGIN, headers=PREFLIGHT)
    assert out.status == 204 and out.session is NOT_CALLED
    h = out.headers
    assert h["access-control-allow-origin"] == ORIGIN
    assert h["access-control-allow-credentials"] == "true"
    assert "POST" in h["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {v.strip() for v in h["access-control-allow-headers"].split(",")}
    assert int(h["access-control-max-age"]) > 0
    assert "Origin" in h["vary"]
    refused = call(handler, shape, method="OPTIONS", origin=EVIL, headers=PREFLIGHT)
    assert refused.status == 204 and refused.session is NOT_CALLED
    assert not any(name.startswith("access-control-allow") for name in refused.headers)


@pytest.mark.parametrize("shape", SHAPES)
def test_preflight_handler_mode_passes_only_real_preflights(auth: ClerkAuth, shape: str) -> None:
    handler = recording_handler(auth.require_session(preflight="handler"))
    out = call(handler, shape, method="OPTIONS", origin=ORIGIN, headers=PREFLIGHT)
    assert out.status == 200 and out.session is None  # the app answers its own preflights
    assert call(handler, shape, method="OPTIONS").session is NOT_CALLED
    assert call(handler, shape, method="OPTIONS", origin=ORIGIN).status == 401


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "options", "TRACE", "FOO", ""])
def test_the_readme_first_example_never_sees_no_session(auth: ClerkAuth, key: SigningKey, shape: str, method: str) -> None:
    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        session = event["session"]
        return {"statusCode": 200, "body": session.user_id}  # no None check, as in the README

    for request in ({}, {"origin": ORIGIN}, {"origin": ORIGIN, "headers": {"Access-Control-Request-Method": "GET"}}):
        response = handler(make_event(shape, method=method, **request), None)
        assert response["statusCode"] in (204, 401), (method, request)
    assert handler(make_event(shape, method=method, bearer=mint(key)), None)["body"] == "user_2abc"


def test_preflight_headers_cannot_inject(auth: ClerkAuth) -> None:
    handler = recording_handler(auth.require_session)
    bad = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x\r\nSet-Cookie: a=b"}
    out = call(handler, "rest_v1", method="OPTIONS", origin=ORIGIN, headers=bad)
    assert out.status == 204
    assert "\n" not in out.headers["access-control-allow-headers"]


# -- cross-site writes through the session cookie --------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", UNSAFE)
@pytest.mark.parametrize("origin", [EVIL, "null", ORIGIN + "/", ORIGIN.upper(), ORIGIN + ":443", "https://app.example.com.evil.example"])
def test_cookie_write_from_a_foreign_origin_is_refused(auth: ClerkAuth, key: SigningKey, shape: str, method: str, origin: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method=method, origin=origin, cookies=[f"__session={mint(key)}"])
    assert out.status == 403 and out.reason == "origin-invalid" and out.session is NOT_CALLED
    optional = recording_handler(auth.with_session)
    assert call(optional, shape, method=method, origin=origin, cookies=[f"__session={mint(key)}"]).session is None


@pytest.mark.parametrize("shape", SHAPES)
def test_what_the_cookie_rule_leaves_alone(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    handler = recording_handler(auth.require_session)
    cookie = [f"__session={mint(key)}"]
    assert call(handler, shape, method="POST", origin=ORIGIN, cookies=cookie).status == 200
    assert call(handler, shape, method="POST", cookies=cookie).status == 200  # no Origin: not a browser page
    for safe in ("GET", "HEAD"):
        assert call(handler, shape, method=safe, origin=EVIL, cookies=cookie).status == 200
    # A Bearer token is not sent by the browser on its own: its azp still has to match.
    assert call(handler, shape, method="POST", origin=EVIL, bearer=mint(key)).status == 200
    other = recording_handler(auth.require_session(authorized_parties=[EVIL]))
    assert call(other, shape, method="POST", origin=EVIL, cookies=[f"__session={mint(key, azp=EVIL)}"]).status == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_cookie_rule_holds_when_the_header_is_no_token(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    handler = recording_handler(auth.require_session)
    cookie = [f"__session={mint(key)}"]
    for header in ("Basic dXNlcjpwYXNz", "Bearer null", "Bearer undefined", "Bearer "):
        out = call(handler, shape, method="POST", origin=EVIL, cookies=cookie, headers={"Authorization": header})
        assert out.status == 403 and out.reason == "origin-invalid", header


def test_cookie_rule_is_off_without_authorized_parties(make_auth: Any, key: SigningKey) -> None:
    open_auth = make_auth(authorized_parties=None)
    handler = recording_handler(open_auth.require_session)
    assert call(handler, "http_v2", method="POST", origin=EVIL, cookies=[f"__session={mint(key)}"]).status == 200


@pytest.mark.parametrize("shape", ["rest_v1", "alb", "http_v2"])
def test_cookie_rule_in_the_powertools_middleware(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    resolver = {"rest_v1": APIGatewayRestResolver, "alb": ALBResolver, "http_v2": APIGatewayHttpResolver}[shape]()
    resolver.use(middlewares=[PowertoolsMiddleware(auth=auth)])
    ran = []

    @resolver.post("/todos")
    def add() -> dict[str, Any]:
        ran.append(1)
        return {"ok": True}

    event = routed(shape, "/todos", method="POST", origin=EVIL, cookies=[f"__session={mint(key)}"])
    assert resolver.resolve(event, None)["statusCode"] == 403 and not ran
    event = routed(shape, "/todos", method="POST", origin=ORIGIN, cookies=[f"__session={mint(key)}"])
    assert resolver.resolve(event, None)["statusCode"] == 200 and ran


def test_cookie_rule_in_fastapi(auth: ClerkAuth, key: SigningKey) -> None:
    app = FastAPI()

    @app.post("/todos")
    def add(session: Any = Depends(require_clerk_session(auth=auth))) -> dict[str, Any]:
        return {"user_id": session.user_id}

    client = TestClient(app)
    client.cookies.set("__session", mint(key))
    assert client.post("/todos", headers={"Origin": EVIL}).status_code == 403
    assert client.post("/todos", headers={"Origin": ORIGIN}).status_code == 200


# -- nested entry points apply their own whole policy ------------------------------------------



def _nested_app(route_auth: ClerkAuth, **policy: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/strict")
    def strict(session: Any = Depends(require_clerk_session(auth=route_auth, **policy))) -> dict[str, Any]:
        return {"user_id": session.user_id}

    return app


@pytest.mark.parametrize(
    "policy,token_claims",
    [
        ({"authorized_parties": ["https://admin.example.com"]}, {}),
        ({"treat_pending_as_signed_out": True}, {"sts": "pending"}),
        ({"permissions": ["org:reports:read"]}, {}),
        ({"roles": ["org:admin"]}, {}),
    ],
    ids=["authorized-parties", "pending", "permissions", "roles"],
)
@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb"])
def test_fastapi_route_policy_holds_behind_require_session(
    make_auth: Any, key: SigningKey, shape: str, policy: dict[str, Any], token_claims: dict[str, Any]
) -> None:
    outer = make_auth()
    app = _nested_app(outer, **policy)
    token = mint(key, **token_claims)
    outer_handler = outer.require_session(treat_pending_as_signed_out=False)(Mangum(app, lifespan="off"))
    lambda_status = outer_handler(routed(shape, "/strict", bearer=token), None)["statusCode"]
    local_status = TestClient(app).get("/strict", headers={"Authorization": f"Bearer {token}"}).status_code
    assert lambda_status == local_status
    assert lambda_status in (401, 403)


def test_fastapi_route_with_its_own_clerk_auth(make_auth: Any, key: SigningKey, signing_keys: Any, jwks: Any) -> None:
    outer = make_auth()
    other_issuer = make_auth(issuer="https://clerk.other-instance.example")
    app = _nested_app(other_issuer)
    handler = outer.require_session(Mangum(app, lifespan="off"))
    token = mint(key)  # valid for the outer instance, not for the route's
    assert handler(routed("http_v2", "/strict", bearer=token), None)["statusCode"] == 401
    assert TestClient(app).get("/strict", headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1"])
def test_powertools_route_policy_holds_behind_require_session(make_auth: Any, key: SigningKey, shape: str) -> None:
    outer = make_auth()
    resolver = (APIGatewayHttpResolver if shape == "http_v2" else APIGatewayRestResolver)()
    admin = PowertoolsMiddleware(auth=outer, authorized_parties=["https://admin.example.com"])

    @resolver.get("/admin", middlewares=[admin])
    def admin_route() -> dict[str, Any]:
        return {"ok": True}

    @resolver.get("/fresh", middlewares=[PowertoolsMiddleware(auth=outer)])
    def fresh_route() -> dict[str, Any]:
        return {"ok": True}

    handler = outer.require_session(treat_pending_as_signed_out=False)(resolver.resolve)
    assert handler(routed(shape, "/admin", bearer=mint(key)), None)["statusCode"] == 401
    assert handler(routed(shape, "/fresh", bearer=mint(key, sts="pending")), None)["statusCode"] == 401
    assert handler(routed(shape, "/fresh", bearer=mint(key)), None)["statusCode"] == 200


# -- CORS on the handler's own answers (REST API, ALB, VPC Lattice) -----------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_cors_on_answers_where_the_gateway_adds_none(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, origin=ORIGIN, bearer=mint(key))
    assert out.status == 200
    adds = shape in ("rest_v1", "alb", "alb_multi", "vpc_lattice_v2", "vpc_lattice")
    assert (out.headers.get("access-control-allow-origin") == ORIGIN) is adds
    if adds:
        assert out.headers["access-control-allow-credentials"] == "true"
        assert "Origin" in out.headers["vary"]
    foreign = call(handler, shape, origin=EVIL, bearer=mint(key))
    assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("shape", ["rest_v1", "alb", "alb_multi"])
def test_cors_on_answers_keeps_what_the_handler_set(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    multi = shape == "alb_multi"

    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {"access-control-allow-origin": "https://chosen.example", "Vary": "Accept-Encoding"}
        if multi:
            return {"statusCode": 200, "multiValueHeaders": {k: [v] for k, v in headers.items()}, "body": ""}
        return {"statusCode": 200, "headers": headers, "body": ""}

    response = handler(make_event(shape, origin=ORIGIN, bearer=mint(key)), None)
    headers = response["multiValueHeaders"] if multi else response["headers"]
    flat = {k.lower(): (v if isinstance(v, str) else ", ".join(v)) for k, v in headers.items()}
    assert flat["access-control-allow-origin"] == "https://chosen.example"
    assert "Origin" in flat["vary"] and "Accept-Encoding" in flat["vary"]
    assert "headers" not in response if multi else True


@pytest.mark.parametrize("shape", ["rest_v1", "alb", "alb_multi"])
def test_cors_exposes_the_handlers_own_headers(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    """ETag, Location, X-Total-Count: a page on an authorized origin reads them
    (Access-Control-Expose-Headers names them), never Set-Cookie or the
    safelisted ones; a handler's own Expose-Headers is kept as it set it."""
    multi = shape == "alb_multi"

    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        headers = {"ETag": '"v1"', "location": "/items/1", "X-Total-Count": "3", "Set-Cookie": "a=b",
                   "Content-Type": "application/json", "Bad Name": "x"}
        if (event.get("queryStringParameters") or {}).get("own"):
            headers["Access-Control-Expose-Headers"] = "X-Total-Count"
        if multi:
            return {"statusCode": 200, "multiValueHeaders": {k: [v] for k, v in headers.items()}, "body": ""}
        return {"statusCode": 200, "headers": headers, "body": ""}

    def exposed(query: dict[str, str] | None = None) -> list[str]:
        event = make_event(shape, origin=ORIGIN, bearer=mint(key))
        if query:
            event["queryStringParameters"] = query
            if shape == "alb_multi":
                event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        response = handler(event, None)
        headers = response["multiValueHeaders"] if multi else response["headers"]
        value = next(v for k, v in headers.items() if k.lower() == "access-control-expose-headers")
        return [n.strip().lower() for n in (value if isinstance(value, str) else ", ".join(value)).split(",")]

    names = exposed()
    assert {"www-authenticate", "retry-after", "x-clerk-auth-reason", "etag", "location", "x-total-count"} <= set(names)
    assert not {"set-cookie", "content-type", "bad name"} & set(names)
    assert exposed({"own": "1"}) == ["x-total-count"]


def test_cors_option_overrides_the_source_default(auth: ClerkAuth, key: SigningKey) -> None:
    on = recording_handler(auth.require_session(cors=True))
    assert call(on, "http_v2", origin=ORIGIN, bearer=mint(key)).headers["access-control-allow-origin"] == ORIGIN
    off = recording_handler(auth.require_session(cors=False))
    assert "access-control-allow-origin" not in call(off, "rest_v1", origin=ORIGIN, bearer=mint(key)).headers


# -- smaller ones ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["alb", "alb_multi"])
def test_alb_audit_ip_is_the_address_the_alb_appended(auth: ClerkAuth, shape: str) -> None:
    from clerk_serverless.sources import read_request

    event = make_event(shape, headers={"X-Forwarded-For": "6.6.6.6, 10.0.0.1, 198.51.100.7"})
    assert read_request(event).source_ip == "198.51.100.7"
    if shape == "alb_multi":
        event["multiValueHeaders"]["x-forwarded-for"] = ["6.6.6.6", "198.51.100.8"]
        assert read_request(event).source_ip == "198.51.100.8"


def test_every_spelling_of_a_signature_but_one_is_refused(auth: ClerkAuth, key: SigningKey) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    header, payload, signature = mint(key).split(".")
    last = alphabet.index(signature[-1])
    accepted = []
    for bits in range(16):  # RSA-2048: 342 characters, the last one carries 4 unused bits
        spelling = f"{header}.{payload}.{signature[:-1]}{alphabet[(last & ~0xF) | bits]}"
        try:
            auth.verify_token(spelling)
            accepted.append(spelling)
        except Exception:
            pass
    assert len(accepted) == 1


def test_an_explicit_key_source_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch, jwks: Any, key: SigningKey, signing_keys: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CLERK_JWT_KEY", signing_keys["attacker"].public_pem)
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    auth = ClerkAuth(jwks_url=jwks.url)
    assert auth.settings.key_source.kind == "jwks"
    assert auth.verify_token(mint(key)).user_id == "user_2abc"
    assert any("CLERK_JWT_KEY" in r.getMessage() and "jwks_url" in r.getMessage() for r in caplog.records)
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    assert ClerkAuth(jwt_key=key.public_pem).settings.key_source.kind == "pem"
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_from_env")
    assert ClerkAuth(secret_key="sk_test_explicit").settings.secret_key == "sk_test_explicit"


@pytest.mark.parametrize("fixture", ["bedrock_agent"])
def test_events_that_only_look_like_http_are_unsupported(auth: ClerkAuth, fixture: str) -> None:
    from support.events import FIXTURES

    handler = recording_handler(auth.require_session)
    response = handler(json.loads((FIXTURES / f"{fixture}.json").read_text()), None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["reason"] == "event-unsupported"


@pytest.mark.parametrize("shape", ["vpc_lattice_v2", "vpc_lattice"])
def test_vpc_lattice_is_a_source_with_its_own_answer(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    handler = recording_handler(auth.require_session)
    refused = handler(make_event(shape), None)
    assert refused["statusCode"] == 401 and refused["statusDescription"] == "401 Unauthorized"
    assert isinstance(refused["headers"], dict) and "multiValueHeaders" not in refused
    assert call(handler, shape, bearer=mint(key)).status == 200


def test_unsupported_event_log_line_is_bounded(auth: ClerkAuth, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    handler = recording_handler(auth.require_session)
    event = {("k" * 5000) + str(i): i for i in range(20000)}
    event["\x1b[31mred"] = 1
    assert handler(event, None)["statusCode"] == 400
    line = " ".join(r.getMessage() for r in caplog.records)
    assert len(line) < 600 and "\x1b" not in line


def test_clock_does_not_matter_to_the_cookie_rule(auth: ClerkAuth, key: SigningKey) -> None:
    # The origin check comes before the token is even verified: an expired cookie
    # from a foreign origin is refused for its origin, costing no key lookup.
    handler = recording_handler(auth.require_session)
    expired = mint(key, exp=int(time.time()) - 100, iat=int(time.time()) - 200)
    out = call(handler, "http_v2", method="POST", origin=EVIL, cookies=[f"__session={expired}"])
    assert out.status == 403 and out.reason == "origin-invalid"


@pytest.mark.parametrize("shape", ["vpc_lattice_v2", "vpc_lattice"])
def test_powertools_middleware_on_the_vpc_lattice_resolvers(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    from aws_lambda_powertools.event_handler import VPCLatticeResolver, VPCLatticeV2Resolver

    resolver = (VPCLatticeV2Resolver if shape == "vpc_lattice_v2" else VPCLatticeResolver)()
    resolver.use(middlewares=[PowertoolsMiddleware(auth=auth)])

    @resolver.get("/me")
    def me() -> dict[str, Any]:
        return {"user_id": resolver.context["session"].user_id}

    event = make_event(shape, bearer=mint(key))
    event["path" if shape == "vpc_lattice_v2" else "raw_path"] = "/me"
    ok = resolver.resolve(event, None)
    assert ok["statusCode"] == 200 and json.loads(ok["body"]) == {"user_id": "user_2abc"}
    refused = make_event(shape)
    refused["path" if shape == "vpc_lattice_v2" else "raw_path"] = "/me"
    assert resolver.resolve(refused, None)["statusCode"] == 401
