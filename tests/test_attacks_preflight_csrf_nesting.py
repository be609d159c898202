"""Red-team probes against the preflight, CSRF, nested-policy, token-parsing,
event-recognition and leak fixes (commit c296221).

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks that currently succeed (they fail until the library is fixed); every
other test is a probe the library withstood, kept as a regression test.

Real parts only: generated RS256 keys, the loopback JWKS server, real-shaped
events, real FastAPI/Starlette/Mangum/Powertools apps, a real uvicorn server.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from fastapi import Depends, FastAPI, Request
from mangum import Mangum
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect
from support.calls import NOT_CALLED, call, recording_handler
from support.events import SHAPES, make_event, response_headers, routed
from support.loopback import uvicorn_serving
from support.tokens import ORIGIN, SigningKey, b64url, claims, mint, raw_token, sign_raw

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.authorizer import Unauthorized, make_authorizer
from clerk_serverless.errors import AuthError
from clerk_serverless.integrations.asgi import ClerkMiddleware as AsgiClerkMiddleware
from clerk_serverless.integrations.fastapi import require_clerk_session
from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsClerkMiddleware

EVIL = "https://evil.example"
OTHER_PARTY = "https://admin.example.com"
V2_ORG = {"v": 2, "fea": "o:reports", "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}
ACRM = "Access-Control-Request-Method"
WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE", "post", "Delete", "PROPFIND"]


class Ctx:
    function_name = "fn"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    aws_request_id = "req-1"


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


def cookie(token: str) -> list[str]:
    return [f"__session={token}"]


# -- real-shaped events the shared helpers do not build ----------------------------------


def lattice_v2(method: str = "GET", headers: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """A VPC Lattice event structure version 2 (AWS docs' example shape)."""
    return {
        "version": "2.0",
        "path": "/me",
        "method": method,
        "headers": {
            "user-agent": ["curl/7.64.1"],
            "x-forwarded-for": ["10.213.229.10"],
            "host": ["svc-0123.7d67968.vpc-lattice-svcs.us-east-2.on.aws"],
            "accept": ["*/*"],
            **(headers or {}),
        },
        "queryStringParameters": {},
        "body": "",
        "requestContext": {
            "serviceNetworkArn": "arn:aws:vpc-lattice:us-east-2:123456789012:servicenetwork/sn-0bf3f2882e9cc805a",
            "serviceArn": "arn:aws:vpc-lattice:us-east-2:123456789012:service/svc-0a40eebed65f8d69c",
            "targetGroupArn": "arn:aws:vpc-lattice:us-east-2:123456789012:targetgroup/tg-6d0ecf831eec9f09",
            "identity": {"sourceVpcArn": "arn:aws:ec2:region:123456789012:vpc/vpc-0b8276c84697e7339", "type": "AWS_IAM"},
            "region": "us-east-2",
            "timeEpoch": "1690497599177430",
        },
        "isBase64Encoded": False,
    }


def lattice_v1(method: str = "GET", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A VPC Lattice event structure version 1."""
    return {
        "raw_path": "/me",
        "method": method,
        "headers": {"user-agent": "curl/7.64.1", "x-forwarded-for": "10.0.0.1", **(headers or {})},
        "query_string_parameters": {},
        "body": "",
        "is_base64_encoded": False,
    }


def rest_with_origins(origins: list[str], **request: Any) -> dict[str, Any]:
    """A REST v1 event whose client sent ``Origin`` several times: API Gateway
    keeps the last in ``headers`` and all of them in ``multiValueHeaders``."""
    event = make_event("rest_v1", **request)
    event["headers"]["Origin"] = origins[-1]
    event["multiValueHeaders"]["Origin"] = list(origins)
    return event


# =========================================================================================
# 1. OPTIONS must not skip authentication
# =========================================================================================

NOT_PREFLIGHTS = [
    ("bare", {}, None),
    ("origin-only", {}, ORIGIN),
    ("acrm-only", {ACRM: "GET"}, None),
    ("empty-acrm", {ACRM: ""}, ORIGIN),
    ("empty-origin", {ACRM: "POST"}, ""),
    ("with-body-and-type", {"Content-Type": "application/json"}, ORIGIN),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,headers,origin", NOT_PREFLIGHTS, ids=[n[0] for n in NOT_PREFLIGHTS])
def test_options_that_is_no_preflight_is_authenticated(auth: ClerkAuth, shape: str, name: str, headers: dict[str, str], origin: str | None) -> None:
    handler = recording_handler(auth.require_session)
    event = make_event(shape, method="OPTIONS", headers=headers, origin=origin)
    event["body"] = '{"x": 1}'
    out = call(handler, shape, event)
    assert out.status == 401 and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", [" OPTIONS", "OPTIONS ", "OPT IONS", "HEAD", "head", "GET"])
def test_odd_methods_without_a_token_are_refused(auth: ClerkAuth, shape: str, method: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method=method, origin=ORIGIN, headers={ACRM: "GET"})
    assert out.status == 401 and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi"])
def test_multi_value_preflight_headers_with_empty_values_are_no_preflight(auth: ClerkAuth, shape: str) -> None:
    handler = recording_handler(auth.require_session)
    for origin, acrm in (([""], ["GET"]), ([ORIGIN], [""]), ([], ["GET"]), ([ORIGIN], [])):
        event = make_event(shape, method="OPTIONS")
        event["multiValueHeaders"]["origin"] = origin
        event["multiValueHeaders"]["access-control-request-method"] = acrm
        out = call(handler, shape, event)
        assert out.status == 401 and out.session is NOT_CALLED, (origin, acrm)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decorator", ["require_session", "with_session"])
def test_real_preflight_is_answered_not_passed_on_even_with_credentials(auth: ClerkAuth, key: SigningKey, shape: str, decorator: str) -> None:
    handler = recording_handler(getattr(auth, decorator))
    out = call(handler, shape, method="OPTIONS", origin=ORIGIN, headers={ACRM: "DELETE", "oRiGiN": ORIGIN}, cookies=cookie(mint(key)))
    assert out.status == 204 and out.session is NOT_CALLED
    assert out.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("origin", ["null", EVIL, ORIGIN + "/", ORIGIN.upper()])
def test_preflight_from_unauthorized_origin_gets_no_grant(auth: ClerkAuth, shape: str, origin: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method="OPTIONS", origin=origin, headers={ACRM: "POST"})
    assert out.status == 204 and out.session is NOT_CALLED
    assert not any(k.startswith("access-control-allow") for k in out.headers)
    assert "origin" in out.headers["vary"].lower()


def test_header_names_in_odd_case_still_make_a_preflight_on_rest_v1(auth: ClerkAuth) -> None:
    handler = recording_handler(auth.require_session)
    event = make_event("rest_v1", method="OPTIONS", headers={"ORIGIN": ORIGIN, "access-CONTROL-request-METHOD": "PUT"})
    out = call(handler, "rest_v1", event)
    assert out.status == 204 and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", SHAPES)
def test_finding_lowercase_options_reaches_a_preflight_handler_unauthenticated(auth: ClerkAuth, shape: str) -> None:
    """With ``preflight="handler"``, only a real preflight (method OPTIONS)
    may reach the handler unauthenticated. Methods are case-sensitive
    (RFC 9110 §9.1): ``options`` is not ``OPTIONS``, and the handler — which
    reads the method from the event as the app sees it — does not take it for
    a preflight and runs its protected branch with no session."""
    reached: dict[str, Any] = {}

    @auth.require_session(preflight="handler")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        method = event.get("httpMethod") or event["requestContext"]["http"]["method"]
        if method == "OPTIONS":  # the app's own preflight answer
            return {"statusCode": 204, "body": ""}
        reached["session"] = event["session"]  # the protected work
        return {"statusCode": 200, "body": "secret"}

    event = make_event(shape, method="options", origin=ORIGIN, headers={ACRM: "GET"})
    response = handler(event, None)
    assert "session" not in reached, "the protected branch ran without a session"
    assert response["statusCode"] in (204, 401)


def test_preflight_handler_mode_passes_real_preflights_only(auth: ClerkAuth) -> None:
    handler = recording_handler(auth.require_session(preflight="handler"))
    assert call(handler, "http_v2", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET"}).session is None
    assert call(handler, "http_v2", method="OPTIONS", origin=ORIGIN).status == 401
    assert call(handler, "http_v2", method="POST", origin=ORIGIN, headers={ACRM: "GET"}).status == 401


def test_with_session_sees_a_plain_options_as_an_ordinary_request(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.with_session)
    assert call(handler, "http_v2", method="OPTIONS").session is None
    assert call(handler, "http_v2", method="OPTIONS", bearer=mint(key)).session.user_id == "user_2abc"


@pytest.mark.parametrize("method", ["OPTIONS", "options", "HEAD"])
def test_lattice_events_authenticate_every_method(auth: ClerkAuth, method: str) -> None:
    handler = recording_handler(auth.require_session)
    for event in (lattice_v2(method, {"origin": [ORIGIN]}), lattice_v1(method, {"origin": ORIGIN})):
        response = handler(event, None)
        assert response["statusCode"] == 401 and "session" not in handler.seen


def test_lattice_v2_real_preflight_and_valid_token(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    response = handler(lattice_v2("OPTIONS", {"origin": [ORIGIN], "access-control-request-method": ["GET"]}), None)
    assert response["statusCode"] == 204 and "session" not in handler.seen
    ok = handler(lattice_v2("GET", {"authorization": [f"Bearer {mint(key)}"]}), None)
    assert ok["statusCode"] == 200 and handler.seen["session"].user_id == "user_2abc"


# -- the same through every other entry point --------------------------------------------------


def starlette_app(auth: ClerkAuth, **options: Any) -> Starlette:
    async def me(request: Any) -> JSONResponse:
        session = request.state.session
        return JSONResponse({"user_id": session.user_id if session else None, "method": request.method})

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        session = websocket.scope.get("state", {}).get("session")
        await websocket.send_text(f"reached, session={session}")
        await websocket.close()

    app = Starlette(
        routes=[
            Route("/me", me, methods=["GET", "HEAD", "OPTIONS", "POST", "DELETE"]),
            WebSocketRoute("/ws", ws),
        ]
    )
    app.add_middleware(AsgiClerkMiddleware, auth=auth, **options)
    return app


def test_asgi_middleware_options_variants(auth: ClerkAuth) -> None:
    client = TestClient(starlette_app(auth))
    assert client.options("/me").status_code == 401
    assert client.options("/me", headers={"Origin": ORIGIN}).status_code == 401
    assert client.options("/me", headers={ACRM: "GET"}).status_code == 401
    assert client.options("/me", headers={"Origin": ORIGIN, ACRM: ""}).status_code == 401
    assert client.head("/me").status_code == 401
    assert client.request("OPTIONS", "/me", headers={"Origin": "null", ACRM: "GET"}, content=b"{}").status_code == 204
    grant = client.options("/me", headers={"Origin": ORIGIN, ACRM: "GET"})
    assert grant.status_code == 204 and grant.headers["access-control-allow-origin"] == ORIGIN
    assert "user_id" not in grant.text


def test_finding_asgi_middleware_does_not_authenticate_websockets(auth: ClerkAuth) -> None:
    """``ClerkMiddleware(required=True)`` passes every non-``http`` scope
    through: a WebSocket route behind it is reached with no token at all
    (browsers attach cookies to cross-site WebSocket handshakes, so this is
    also cross-site WebSocket hijacking for cookie apps). It must refuse the
    handshake (close / 403) unless a verified session is present."""
    client = TestClient(starlette_app(auth))
    try:
        with client.websocket_connect("/ws", headers={"Origin": EVIL}) as ws:
            message = ws.receive_text()
    except WebSocketDisconnect:
        return
    except Exception as exc:  # the handshake was refused
        assert "403" in str(exc) or "close" in str(exc).lower(), exc
        return
    pytest.fail(f"an unauthenticated WebSocket reached the app: {message!r}")


def test_fastapi_dependency_on_a_websocket_route_does_not_let_it_through(auth: ClerkAuth) -> None:
    app = FastAPI()
    reached: list[Any] = []

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, session: Any = Depends(require_clerk_session(auth=auth))) -> None:
        reached.append(session)
        await websocket.accept()
        await websocket.send_text("reached")
        await websocket.close()

    client = TestClient(app)
    with pytest.raises(Exception), client.websocket_connect("/ws") as connection:  # noqa: B017  # any refusal will do
        connection.receive_text()
    assert reached == []


def fastapi_app(inner: ClerkAuth | None = None, **dependency: Any) -> FastAPI:
    app = FastAPI()

    if inner is None:
        @app.api_route("/plain", methods=["GET", "OPTIONS", "POST", "HEAD"])
        def plain(request: Request) -> dict[str, Any]:
            session = request.scope["aws.event"]["session"] if "aws.event" in request.scope else None
            return {"user_id": session.user_id if session else None}

    else:
        @app.api_route("/guarded", methods=["GET", "OPTIONS", "POST", "HEAD"])
        def guarded(session: Any = Depends(require_clerk_session(auth=inner, **dependency))) -> dict[str, Any]:
            return {"user_id": session.user_id}

    return app



@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "function_url", "alb", "alb_multi"])
def test_mangum_behind_require_session_authenticates_options_and_head(auth: ClerkAuth, shape: str) -> None:
    handler = auth.require_session(Mangum(fastapi_app(), lifespan="off"))
    for method, headers, origin in (("OPTIONS", {}, None), ("OPTIONS", {}, ORIGIN), ("OPTIONS", {ACRM: ""}, ORIGIN), ("HEAD", {}, None)):
        response = handler(routed(shape, "/plain", method=method, headers=headers, origin=origin), None)
        assert response["statusCode"] == 401, (method, headers, origin, response)


def test_fastapi_dependency_options_variants(auth: ClerkAuth) -> None:
    client = TestClient(fastapi_app(auth))
    assert client.options("/guarded").status_code == 401
    assert client.options("/guarded", headers={"Origin": ORIGIN}).status_code == 401
    assert client.options("/guarded", headers={"Origin": ORIGIN, ACRM: ""}).status_code == 401
    assert client.head("/guarded").status_code == 401
    preflight = client.options("/guarded", headers={"Origin": EVIL, ACRM: "POST"})
    assert preflight.status_code == 204 and "access-control-allow-origin" not in preflight.headers


def powertools_app(auth: ClerkAuth, resolver: Any = APIGatewayRestResolver, **options: Any) -> Any:
    app = resolver()
    app.use(middlewares=[PowertoolsClerkMiddleware(auth=auth, **options)])

    @app.route("/me", method=["GET", "OPTIONS", "POST", "HEAD", "DELETE"])
    def me() -> dict[str, Any]:
        session = app.context.get("session")
        return {"user_id": session.user_id if session else None}

    return app


def test_powertools_middleware_options_variants(auth: ClerkAuth) -> None:
    app = powertools_app(auth)
    for method, headers, origin in (("OPTIONS", {}, None), ("OPTIONS", {}, ORIGIN), ("OPTIONS", {ACRM: ""}, ORIGIN), ("HEAD", {}, None)):
        response = app.resolve(routed("rest_v1", "/me", method=method, headers=headers, origin=origin), Ctx())
        assert response["statusCode"] == 401, (method, headers, origin)
    preflight = app.resolve(routed("rest_v1", "/me", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET"}), Ctx())
    assert preflight["statusCode"] == 204 and "user_id" not in (preflight["body"] or "")


def test_authorizer_never_allows_options_without_a_token(auth: ClerkAuth) -> None:
    authorize = make_authorizer(auth)
    v2 = make_event("http_v2", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET"})
    v2.update({"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/OPTIONS/me", "identitySource": []})
    assert authorize(v2, None) == {"isAuthorized": False}
    rest = make_event("rest_v1", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET"})
    rest.update({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/OPTIONS/me"})
    with pytest.raises(Unauthorized):
        authorize(rest, None)


# =========================================================================================
# 2. CSRF through the __session cookie
# =========================================================================================

FOREIGN_ORIGINS = [
    EVIL,
    "null",
    ORIGIN + "/",
    ORIGIN + ":444",
    "https://APP.EXAMPLE.COM",
    "https://user@app.example.com",
    "http://app.example.com",
    "https://app.example.com.evil.example",
    ORIGIN + "\r\nX-Injected: 1",
    "",
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_cookie_write_from_foreign_origin_is_refused(auth: ClerkAuth, key: SigningKey, shape: str, origin: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method="POST", origin=origin, cookies=cookie(mint(key)))
    assert out.status == 403 and out.reason == "origin-invalid" and out.session is NOT_CALLED
    assert "access-control-allow-origin" not in out.headers
    assert all("\n" not in v and "\r" not in v for v in out.headers.values())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", WRITE_METHODS)
def test_cookie_write_methods_in_any_case_are_checked(auth: ClerkAuth, key: SigningKey, shape: str, method: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method=method, origin=EVIL, cookies=cookie(mint(key)))
    assert out.status == 403 and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Negotiate YIIBhgYGKwYBBQUC", "Bearer null", "Bearer undefined", "Bearer", "bearer ", "null", "Digest username=x"],
)
def test_cookie_write_with_a_non_bearer_authorization_is_still_checked(auth: ClerkAuth, key: SigningKey, shape: str, authorization: str) -> None:
    handler = recording_handler(auth.require_session)
    out = call(handler, shape, method="POST", origin=EVIL, cookies=cookie(mint(key)), headers={"Authorization": authorization})
    assert out.status == 403 and out.reason == "origin-invalid" and out.session is NOT_CALLED


def test_cookie_write_with_origin_in_multi_value_headers_only(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    event = make_event("rest_v1", method="POST", cookies=cookie(mint(key)))
    event["multiValueHeaders"]["origin"] = [EVIL]
    out = call(handler, "rest_v1", event)
    assert out.status == 403 and out.session is NOT_CALLED


def test_cookie_write_from_authorized_origin_passes(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    for shape in SHAPES:
        assert call(handler, shape, method="POST", origin=ORIGIN, cookies=cookie(mint(key))).status == 200


@pytest.mark.parametrize("origins", [[EVIL, ORIGIN], [ORIGIN, EVIL], ["null", ORIGIN]], ids=["evil-first", "evil-last", "null-first"])
def test_finding_two_origin_headers_one_foreign_is_not_refused(auth: ClerkAuth, key: SigningKey, origins: list[str]) -> None:
    """A request carrying two ``Origin`` values, one of them foreign, is not
    from a single authorized page: refuse it. REST v1 keeps the last value in
    ``headers`` and all in ``multiValueHeaders``; the check reads only one of
    them, so the verdict depends on the order (ALB multi-value reads the
    first, REST v1 the last)."""
    handler = recording_handler(auth.require_session)
    rest = call(handler, "rest_v1", rest_with_origins(origins, method="POST", cookies=cookie(mint(key))))
    alb = make_event("alb_multi", method="POST", cookies=cookie(mint(key)))
    alb["multiValueHeaders"]["origin"] = list(origins)
    alb_out = call(handler, "alb_multi", alb)
    assert (rest.status, alb_out.status) == (403, 403)


def test_finding_two_origin_headers_under_real_uvicorn(auth: ClerkAuth, key: SigningKey) -> None:
    """The same under a real uvicorn: ``Origin: <authorized>`` then
    ``Origin: <foreign>`` on one cookie POST reaches the app (the middleware
    reads the first value only)."""
    token = mint(key)
    request = f"POST /me HTTP/1.1\r\n{{base}}Origin: {ORIGIN}\r\nOrigin: {EVIL}\r\nCookie: __session={token}\r\n\r\n"
    (answer,) = _uvicorn_answers(auth, [request])
    assert b" 403 " in answer.split(b"\r\n", 1)[0], answer[:200]


def test_finding_origin_keys_differing_in_case_are_not_all_checked(auth: ClerkAuth, key: SigningKey) -> None:
    """REST v1 keeps header names as sent: ``origin`` and ``ORIGIN`` can be
    two keys. The check reads the first match; Mangum's scope (which the app
    behind ``require_session(Mangum(app))`` reads) keeps the last one."""
    handler = recording_handler(auth.require_session)
    event = make_event("rest_v1", method="POST", cookies=cookie(mint(key)))
    event["headers"].update({"origin": ORIGIN, "ORIGIN": EVIL})
    event["multiValueHeaders"].update({"origin": [ORIGIN], "ORIGIN": [EVIL]})
    assert call(handler, "rest_v1", event).status == 403


def test_http_v2_comma_joined_origins_are_refused(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    for joined in (f"{ORIGIN},{EVIL}", f"{EVIL},{ORIGIN}", f"{ORIGIN}, null"):
        assert call(handler, "http_v2", method="POST", cookies=cookie(mint(key)), headers={"origin": joined}).status == 403


def test_header_token_with_a_cookie_is_not_a_cookie_request(auth: ClerkAuth, key: SigningKey) -> None:
    """Bearer wins over the cookie (a cross-site page cannot set Authorization
    without a preflight we refuse), so no Origin check: documented behaviour."""
    handler = recording_handler(auth.require_session)
    out = call(handler, "http_v2", method="POST", origin=EVIL, bearer=mint(key), cookies=cookie(mint(key)))
    assert out.status == 200
    bad = call(handler, "http_v2", method="POST", origin=EVIL, bearer="x.y.z", cookies=cookie(mint(key)))
    assert bad.status == 401  # a bad header token hides the cookie: never a fallback to it


def test_route_level_authorized_parties_drive_the_origin_check(make_auth: Any, key: SigningKey) -> None:
    wide = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    handler = recording_handler(wide.require_session(authorized_parties=[ORIGIN]))
    out = call(handler, "rest_v1", method="POST", origin=OTHER_PARTY, cookies=cookie(mint(key)))
    assert out.status == 403 and out.reason == "origin-invalid"
    narrow = make_auth(authorized_parties=[ORIGIN])
    widened = recording_handler(narrow.require_session(authorized_parties=[ORIGIN, OTHER_PARTY]))
    assert call(widened, "rest_v1", method="POST", origin=OTHER_PARTY, cookies=cookie(mint(key))).status == 200


def test_with_session_sees_no_session_on_a_forged_cookie_write(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.with_session)
    out = call(handler, "http_v2", method="POST", origin=EVIL, cookies=cookie(mint(key)))
    assert out.status == 200 and out.session is None


@pytest.mark.parametrize("origin", ["null", EVIL])
def test_no_authorized_parties_refuses_only_null_origins(make_auth: Any, key: SigningKey, origin: str) -> None:
    """Without authorized parties configured (the default: any ``azp``), a
    cookie-authenticated POST from ``Origin: null`` (sandboxed iframe,
    ``data:`` page) or from a foreign site whose host is not the request's
    ``Host`` runs the handler with the victim's session. Every Origin is "not
    an authorized party" here; at the least ``null`` and an Origin whose host
    differs from the request's Host must be refused (403 origin-invalid)."""
    auth = make_auth(authorized_parties=None)
    handler = recording_handler(auth.require_session)
    token = mint(key, azp=None)
    out = call(handler, "rest_v1", method="POST", origin=origin, cookies=cookie(token), headers={"Host": "api.example.com"})
    if origin == "null":
        assert out.status == 403 and out.session is NOT_CALLED
    else:
        # Decided: without authorized parties every origin may call (azp is not
        # checked either); comparing Origin with Host would refuse same-origin
        # apps behind CloudFront or a dev proxy, which rewrite Host. Documented.
        assert out.status == 200


def test_finding_cross_site_fetch_metadata_without_origin_is_not_refused(auth: ClerkAuth, key: SigningKey) -> None:
    """A cookie POST without ``Origin`` but with ``Sec-Fetch-Site:
    cross-site`` is a browser telling us the request came from another site;
    the Origin check passes every request without ``Origin``. Defence in
    depth: refuse cookie writes marked cross-site (403 origin-invalid)."""
    handler = recording_handler(auth.require_session)
    out = call(handler, "http_v2", method="POST", cookies=cookie(mint(key)), headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})
    assert out.status == 403 and out.session is NOT_CALLED


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi"])
@pytest.mark.parametrize("parties", ["configured", "none"])
def test_null_origin_same_origin_form_post_passes_only_as_same_origin(make_auth: Any, key: SigningKey, shape: str,
                                                                      parties: str) -> None:
    """A page served from the API's own origin under a no-referrer policy
    posts its forms with ``Origin: null`` and ``Sec-Fetch-Site: same-origin``:
    it runs. ``null`` with any other fetch site (a sandboxed frame, a
    redirect through another site: ``cross-site``; a sibling subdomain:
    ``same-site``), with none, or next to a second Origin stays refused."""
    auth = make_auth(authorized_parties=[ORIGIN] if parties == "configured" else None)
    handler = recording_handler(auth.require_session)
    token = mint(key, azp=ORIGIN if parties == "configured" else None)

    def post(site: str | None, origin: str = "null") -> Any:
        headers = {"Host": "app.example.com", "X-Forwarded-Proto": "https", **({"Sec-Fetch-Site": site} if site is not None else {})}
        return call(handler, shape, method="POST", origin=origin, cookies=cookie(token), headers=headers)

    ran = post("same-origin")
    assert ran.status == 200 and ran.session is not NOT_CALLED
    assert post(" Same-Origin ").status == 200
    for site in ("same-site", "cross-site", "none", "", None):
        out = post(site)
        assert out.status == 403 and out.session is NOT_CALLED, site
    two = call(handler, shape, method="POST", cookies=cookie(token),
               headers={"Host": "app.example.com", "Sec-Fetch-Site": "same-origin", "Origin": ["null", ORIGIN]})
    assert two.status == 403 and two.session is NOT_CALLED


def test_csrf_on_the_asgi_middleware_and_fastapi_dependency(auth: ClerkAuth, key: SigningKey) -> None:
    for client, path in ((TestClient(starlette_app(auth)), "/me"), (TestClient(fastapi_app(auth)), "/guarded")):
        client.cookies.set("__session", mint(key))
        for origin in (EVIL, "null", ORIGIN + "/"):
            refused = client.post(path, headers={"Origin": origin})
            assert refused.status_code == 403 and refused.headers["x-clerk-auth-reason"] == "origin-invalid"
        refused = client.post(path, headers={"Origin": EVIL, "Authorization": "Basic dXNlcjpwYXNz"})
        assert refused.status_code == 403
        assert client.post(path, headers={"Origin": ORIGIN}).status_code == 200
        assert client.get(path, headers={"Origin": EVIL}).status_code == 200  # a safe method


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi"])
def test_csrf_through_mangum_and_powertools(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    mangum = auth.require_session(Mangum(fastapi_app(), lifespan="off"))
    pt = powertools_app(auth, APIGatewayHttpResolver) if shape == "http_v2" else None
    for method in ("POST", "post", "DELETE"):
        response = mangum(routed(shape, "/plain", method=method, origin=EVIL, cookies=cookie(mint(key))), None)
        assert response["statusCode"] == 403, response
        if pt is not None:
            assert pt.resolve(routed(shape, "/me", method=method, origin=EVIL, cookies=cookie(mint(key))), Ctx())["statusCode"] == 403
    rest_pt = powertools_app(auth)
    assert rest_pt.resolve(routed("rest_v1", "/me", method="POST", origin="null", cookies=cookie(mint(key))), Ctx())["statusCode"] == 403


def test_csrf_at_the_authorizer(auth: ClerkAuth, key: SigningKey) -> None:
    authorize = make_authorizer(auth)
    v2 = make_event("http_v2", method="POST", origin=EVIL, cookies=cookie(mint(key)))
    v2.update({"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/POST/me", "identitySource": []})
    assert authorize(v2, None) == {"isAuthorized": False}
    rest = make_event("rest_v1", method="post", origin="null", cookies=cookie(mint(key)))
    rest.update({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/me"})
    assert authorize(rest, None)["policyDocument"]["Statement"][0]["Effect"] == "Deny"


def _behind_authorizer(shape: str, context: dict[str, str], **request: Any) -> dict[str, Any]:
    event = make_event(shape, **request)
    event["requestContext"]["authorizer"] = {"lambda": context} if shape == "http_v2" else {"principalId": context["user_id"], **context}
    return event


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1"])
def test_finding_trust_authorizer_skips_the_csrf_check(make_auth: Any, key: SigningKey, shape: str) -> None:
    """The README allows authorizer result caching (TTL well under 60 s),
    keyed on the Cookie header. A GET by the victim caches an allow for
    ``api-id/stage/*``; a cross-site POST with the same cookie then reaches a
    ``trust_authorizer`` function without the authorizer running, and the
    trusted path never compares Origin with the authorized parties. The
    function must refuse a cookie write from a foreign Origin itself."""
    verifier = make_auth()
    token = mint(key)
    authorize = make_authorizer(verifier)
    get = make_event("http_v2", method="GET", cookies=cookie(token))
    get.update({"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/me", "identitySource": []})
    context = authorize(get, None)["context"]  # the cached allow
    trusting = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(trusting, shape, _behind_authorizer(shape, context, method="POST", origin=EVIL, cookies=cookie(token)))
    assert out.status == 403 and out.session is NOT_CALLED


def test_finding_trust_authorizer_ignores_the_routes_authorized_parties(make_auth: Any, key: SigningKey) -> None:
    """A route narrowed to ``authorized_parties=[admin origin]`` must not admit
    a session whose ``azp`` is another party. Behind a trusting ClerkAuth the
    authorizer's context carries no ``azp``, so the route's parties (and the
    downstream ClerkAuth's own) are never checked."""
    authorize = make_authorizer(make_auth(authorized_parties=[ORIGIN, OTHER_PARTY]))
    event = make_event("http_v2", bearer=mint(key, azp=ORIGIN))
    event.update({"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/admin", "identitySource": []})
    context = authorize(event, None)["context"]
    trusting = make_auth(trust_authorizer=True, authorized_parties=[ORIGIN, OTHER_PARTY])
    handler = recording_handler(trusting.require_session(authorized_parties=[OTHER_PARTY]))
    out = call(handler, "http_v2", _behind_authorizer("http_v2", context, bearer=mint(key, azp=ORIGIN)))
    assert out.status == 401 and out.session is NOT_CALLED


def test_finding_trust_authorizer_ignores_the_routes_pending_rule(make_auth: Any, key: SigningKey) -> None:
    """An authorizer built with ``treat_pending_as_signed_out=False`` admits a
    pending session; a downstream route keeping the default (pending = signed
    out) must still refuse it, but the context does not say the session is
    pending, so the route's rule is never applied."""
    authorize = make_authorizer(make_auth(), treat_pending_as_signed_out=False)
    token = mint(key, sts="pending")
    event = make_event("http_v2", bearer=token)
    event.update({"type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/me", "identitySource": []})
    context = authorize(event, None)["context"]
    handler = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(handler, "http_v2", _behind_authorizer("http_v2", context, bearer=token))
    assert out.status == 401 and out.session is NOT_CALLED


# =========================================================================================
# 3. Route-level rules behind an outer decorator: same answer on Lambda and under uvicorn
# =========================================================================================

INNER_RULES = [
    ("narrower-parties", {"authorized_parties": [OTHER_PARTY]}, {}, 401, "token-invalid-authorized-parties"),
    ("pending", {"treat_pending_as_signed_out": True}, {"sts": "pending"}, 401, "session-pending"),
    ("permission", {"permissions": ["org:reports:read"]}, {}, 403, "missing-permission"),
    ("role", {"roles": ["org:admin"]}, {}, 403, "missing-role"),
]


@pytest.mark.parametrize("name,rule,token_claims,status,reason", INNER_RULES, ids=[r[0] for r in INNER_RULES])
@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "function_url", "alb_multi"])
def test_inner_dependency_rules_hold_behind_require_session_mangum(make_auth: Any, key: SigningKey, shape: str, name: str, rule: dict[str, Any], token_claims: dict[str, Any], status: int, reason: str) -> None:
    outer = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    inner = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    app = fastapi_app(inner, **rule)
    token = mint(key, **token_claims)
    lam = outer.require_session(Mangum(app, lifespan="off"), treat_pending_as_signed_out=False)(routed(shape, "/guarded", bearer=token), None)
    local = TestClient(app).get("/guarded", headers={"Authorization": f"Bearer {token}"})
    headers = response_headers(shape, lam)
    assert (lam["statusCode"], headers.get("x-clerk-auth-reason")) == (status, reason)
    assert (local.status_code, local.headers.get("x-clerk-auth-reason")) == (status, reason)


def test_inner_dependency_with_another_key_source_and_issuer(make_auth: Any, jwks: Any, signing_keys: Any) -> None:
    outer = make_auth()
    token = mint(signing_keys["current"])
    other_keys = make_auth(jwt_key=signing_keys["attacker"].public_pem, jwks_url=None)
    other_issuer = make_auth(issuer="https://clerk.other-instance.example")
    for inner, reason in ((other_keys, "token-invalid-signature"), (other_issuer, "token-invalid-issuer")):
        app = fastapi_app(inner)
        lam = outer.require_session(Mangum(app, lifespan="off"))(routed("http_v2", "/guarded", bearer=token), None)
        local = TestClient(app).get("/guarded", headers={"Authorization": f"Bearer {token}"})
        assert lam["statusCode"] == 401 and lam["headers"]["x-clerk-auth-reason"] == reason
        assert local.status_code == 401 and local.headers["x-clerk-auth-reason"] == reason


def test_inner_csrf_rule_behind_require_session_mangum(make_auth: Any, key: SigningKey) -> None:
    """Outer allows OTHER_PARTY, the inner dependency's ClerkAuth only ORIGIN."""
    outer = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    inner = make_auth(authorized_parties=[ORIGIN])
    app = fastapi_app(inner)
    token = mint(key)
    lam = outer.require_session(Mangum(app, lifespan="off"))(routed("http_v2", "/guarded", method="POST", origin=OTHER_PARTY, cookies=cookie(token)), None)
    client = TestClient(app)
    client.cookies.set("__session", token)
    local = client.post("/guarded", headers={"Origin": OTHER_PARTY})
    assert lam["statusCode"] == local.status_code == 403


@pytest.mark.parametrize("name,rule,token_claims,status,reason", INNER_RULES, ids=[r[0] for r in INNER_RULES])
def test_inner_starlette_middleware_rules_hold_behind_require_session_mangum(make_auth: Any, key: SigningKey, name: str, rule: dict[str, Any], token_claims: dict[str, Any], status: int, reason: str) -> None:
    outer = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    inner = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    app = starlette_app(inner, **rule)
    token = mint(key, **token_claims)
    lam = outer.require_session(Mangum(app, lifespan="off"), treat_pending_as_signed_out=False)(routed("rest_v1", "/me", bearer=token), None)
    local = TestClient(app).get("/me", headers={"Authorization": f"Bearer {token}"})
    assert (lam["statusCode"], response_headers("rest_v1", lam).get("x-clerk-auth-reason")) == (status, reason)
    assert (local.status_code, local.headers.get("x-clerk-auth-reason")) == (status, reason)


@pytest.mark.parametrize("name,rule,token_claims,status,reason", INNER_RULES, ids=[r[0] for r in INNER_RULES])
def test_inner_powertools_rules_hold_behind_require_session_resolve(make_auth: Any, key: SigningKey, name: str, rule: dict[str, Any], token_claims: dict[str, Any], status: int, reason: str) -> None:
    outer = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    inner = make_auth(authorized_parties=[ORIGIN, OTHER_PARTY])
    app = APIGatewayRestResolver()

    @app.get("/me", middlewares=[PowertoolsClerkMiddleware(auth=inner, **rule)])
    def me() -> dict[str, Any]:
        return {"user_id": app.context["session"].user_id}

    handler = outer.require_session(app.resolve, treat_pending_as_signed_out=False)
    response = handler(routed("rest_v1", "/me", bearer=mint(key, **token_claims)), Ctx())
    assert (response["statusCode"], response_headers("rest_v1", response).get("x-clerk-auth-reason")) == (status, reason)


def test_inner_powertools_with_another_key_source(make_auth: Any, signing_keys: Any) -> None:
    outer = make_auth()
    inner = make_auth(jwt_key=signing_keys["attacker"].public_pem, jwks_url=None)
    app = APIGatewayRestResolver()
    app.use(middlewares=[PowertoolsClerkMiddleware(auth=inner)])

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"user_id": app.context["session"].user_id}

    response = outer.require_session(app.resolve)(routed("rest_v1", "/me", bearer=mint(signing_keys["current"])), Ctx())
    assert response["statusCode"] == 401


def _raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while True:
            data = conn.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def _uvicorn_answers(auth: ClerkAuth, requests: list[str], **options: Any) -> list[bytes]:
    """Send raw HTTP/1.1 requests to the Starlette app under a real uvicorn."""
    with uvicorn_serving(starlette_app(auth, **options)) as port:
        base = f"Host: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n"
        return [_raw_http(port, request.replace("{base}", base).encode()) for request in requests]


def test_under_real_uvicorn_lowercase_methods_and_basic_auth(auth: ClerkAuth, key: SigningKey) -> None:
    """A real uvicorn (h11) passes a lowercase method through as sent; the
    middleware must authenticate/check it."""
    token = mint(key)
    cases = [
        (f"options /me HTTP/1.1\r\n{{base}}Origin: {ORIGIN}\r\n\r\n", b" 401 "),
        (f"post /me HTTP/1.1\r\n{{base}}Origin: {EVIL}\r\nCookie: __session={token}\r\n\r\n", b" 403 "),
        (f"POST /me HTTP/1.1\r\n{{base}}Origin: {EVIL}\r\nAuthorization: Basic eDp5\r\nCookie: __session={token}\r\n\r\n", b" 403 "),
        ("HEAD /me HTTP/1.1\r\n{base}\r\n", b" 401 "),
    ]
    answers = _uvicorn_answers(auth, [request for request, _ in cases])
    for (request, expected), answer in zip(cases, answers, strict=True):
        assert expected in answer.split(b"\r\n", 1)[0], (request.split("\r\n", 1)[0], answer[:80])
        assert b"user_2abc" not in answer


def test_exclude_paths_cannot_be_walked_out_of_under_real_uvicorn(auth: ClerkAuth) -> None:
    """uvicorn hands the app the decoded, un-normalised path; an excluded
    prefix followed by ``..`` must not reach a protected route."""
    requests = [
        "GET /public/../me HTTP/1.1\r\n{base}\r\n",
        "GET /public/%2e%2e/me HTTP/1.1\r\n{base}\r\n",
        "GET /public/..%2fme HTTP/1.1\r\n{base}\r\n",
        "GET /health/../me HTTP/1.1\r\n{base}\r\n",
        "GET //me HTTP/1.1\r\n{base}\r\n",
        "GET /me/ HTTP/1.1\r\n{base}\r\n",
    ]
    for request, answer in zip(requests, _uvicorn_answers(auth, requests, exclude_paths=["/public/", "/health"]), strict=True):
        assert b"user_id" not in answer, (request.split("\r\n", 1)[0], answer[:120])


# =========================================================================================
# 4. Token parsing
# =========================================================================================

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _with_last_bits(segment: str) -> str:
    rest = len(segment) % 4
    if rest not in (2, 3):
        return segment + "A"  # an extra character: a different length class
    last = ALPHABET.index(segment[-1])
    return segment[:-1] + ALPHABET[last | (1 if rest == 3 else 3)]


def _spellings(token: str, key: SigningKey) -> dict[str, str]:
    header, payload, signature = token.split(".")
    raw_sig = base64.urlsafe_b64decode(signature + "==")
    n = key.private.public_key().public_numbers().n
    s_plus_n = int.from_bytes(raw_sig, "big") + n
    zero_prefixed = b64url(bytes(1) + raw_sig)
    out = {
        "sig-trailing-bits": f"{header}.{payload}.{_with_last_bits(signature)}",
        "payload-trailing-bits": f"{header}.{_with_last_bits(payload)}.{signature}",
        "header-trailing-bits": f"{_with_last_bits(header)}.{payload}.{signature}",
        "sig-padding": f"{header}.{payload}.{signature}==",
        "payload-padding": f"{header}.{payload}{'=' * (-len(payload) % 4)}.{signature}",
        "sig-std-alphabet": f"{header}.{payload}.{signature.replace('-', '+').replace('_', '/')}",
        "sig-inner-space": f"{header}.{payload}.{signature[:10]} {signature[10:]}",
        "sig-inner-newline": f"{header}.{payload}.{signature[:10]}\n{signature[10:]}",
        "sig-leading-zero": f"{header}.{payload}.{zero_prefixed}",
        "sig-truncated-zero": f"{header}.{payload}.{b64url(raw_sig[1:])}" if raw_sig[0] == 0 else f"{header}.{payload}.{signature[:-1]}",
        "four-segments": f"{token}.",
        "dot-leading": f".{token}",
        "sig-mixed-case-b64": f"{header}.{payload}.{signature.swapcase()}",
    }
    width = 256 if s_plus_n.bit_length() <= 2048 else 257
    out["sig-plus-modulus"] = f"{header}.{payload}.{b64url(s_plus_n.to_bytes(width, 'big'))}"
    return out


@pytest.mark.parametrize("via", ["bearer", "cookie"])
def test_one_token_has_exactly_one_accepted_spelling(auth: ClerkAuth, key: SigningKey, via: str) -> None:
    handler = recording_handler(auth.require_session)
    token = mint(key)
    ok = call(handler, "http_v2", bearer=token) if via == "bearer" else call(handler, "http_v2", cookies=cookie(token))
    assert ok.status == 200  # the canonical spelling is now in the verified-token cache
    for name, variant in _spellings(token, key).items():
        assert variant != token
        out = call(handler, "http_v2", bearer=variant) if via == "bearer" else call(handler, "http_v2", cookies=cookie(variant))
        assert out.status == 401 and out.session is NOT_CALLED, name
        assert variant not in json.dumps(out.response)


def test_variant_first_never_poisons_the_cache(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    token = mint(key)
    for variant in _spellings(token, key).values():
        assert call(handler, "http_v2", bearer=variant).status == 401
    assert call(handler, "http_v2", bearer=token).status == 200
    for variant in _spellings(token, key).values():
        assert call(handler, "http_v2", bearer=variant).status == 401


def test_alg_and_header_tricks_with_a_valid_signature(auth: ClerkAuth, key: SigningKey, signing_keys: Any) -> None:
    handler = recording_handler(auth.require_session)
    payload = claims()
    tricks = [
        ({"alg": "RS256 ", "kid": key.kid}, "token-invalid-algorithm"),
        ({"alg": "rs256", "kid": key.kid}, "token-invalid-algorithm"),
        ({"alg": "RS256", "kid": key.kid, "crit": ["exp"]}, "token-invalid"),
        ({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, "token-type-mismatch"),
        ({"alg": "RS256", "kid": key.kid, "typ": "JWS"}, "token-invalid"),
        ({"alg": "RS256", "kid": key.kid.upper()}, "jwk-kid-mismatch"),
        ({"alg": "RS256", "kid": key.kid + "\x00"}, "jwk-kid-mismatch"),
        ({"alg": "RS256", "kid": 1}, "token-invalid"),
        ({"alg": "RS256", "kid": key.kid, "cat": "cl_B7d4PD333AAA"}, "token-type-mismatch"),
    ]
    for header, reason in tricks:
        out = call(handler, "http_v2", bearer=sign_raw(key, header, payload))
        assert (out.status, out.reason) == (401, reason), header
    # right kid, right signature of another instance's key: refused
    out = call(handler, "http_v2", bearer=sign_raw(signing_keys["attacker"], {"alg": "RS256", "kid": key.kid}, payload))
    assert out.reason == "token-invalid-signature"


@pytest.mark.parametrize("alg", [["RS256"], {"RS256": 1}], ids=["list", "object"])
def test_finding_unhashable_alg_escapes_as_a_type_error(auth: ClerkAuth, key: SigningKey, alg: Any, caplog: pytest.LogCaptureFixture) -> None:
    """An unsigned token whose header says ``"alg": ["RS256"]`` (or an
    object) makes ``alg not in frozenset`` raise ``TypeError``:
    ``ClerkAuth.verify_token`` raises it to the caller (a 500 for code that
    catches ``AuthError``, as documented), and the decorators log an ERROR
    "unexpected TypeError" per request and answer ``token-invalid`` instead of
    ``token-invalid-algorithm``. Any hostile header must be an ``AuthError``."""

    caplog.set_level(logging.DEBUG)
    token = raw_token({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims(), b"x" * 256)
    out = call(recording_handler(auth.require_session), "http_v2", bearer=token)
    assert (out.status, out.reason) == (401, "token-invalid-algorithm")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with pytest.raises(AuthError):
        auth.verify_token(token)


def test_oversize_and_non_ascii_tokens(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    big = mint(key, padding="x" * 9000)
    assert call(handler, "http_v2", bearer=big).status == 401
    assert call(handler, "http_v2", bearer=mint(key)[:-2] + "é").status == 401
    assert call(handler, "http_v2", bearer="a" * 100_000).status == 401


def test_token_of_one_clerkauth_replayed_to_another_sharing_the_key_store(make_auth: Any, key: SigningKey) -> None:
    first = make_auth(authorized_parties=[ORIGIN])
    token = mint(key)
    assert call(recording_handler(first.require_session), "http_v2", bearer=token).status == 200
    other_parties = make_auth(authorized_parties=[OTHER_PARTY])
    other_issuer = make_auth(issuer="https://clerk.other.example")
    with_audience = make_auth(audience="api://other")
    assert other_parties.key_store is first.key_store is other_issuer.key_store
    assert call(recording_handler(other_parties.require_session), "http_v2", bearer=token).reason == "token-invalid-authorized-parties"
    assert call(recording_handler(other_issuer.require_session), "http_v2", bearer=token).reason == "token-invalid-issuer"
    aud = mint(key, aud="api://mine")
    assert call(recording_handler(first.require_session), "http_v2", bearer=aud).status == 200
    assert call(recording_handler(with_audience.require_session), "http_v2", bearer=aud).reason == "token-verification-failed"


# =========================================================================================
# 5. Event recognition
# =========================================================================================

BEDROCK_AGENT = {
    "messageVersion": "1.0",
    "agent": {"name": "a", "id": "AGENT1", "alias": "TSTALIASID", "version": "DRAFT"},
    "inputText": "what is my id",
    "sessionId": "123",
    "actionGroup": "me",
    "apiPath": "/me",
    "httpMethod": "GET",
    "parameters": [{"name": "Authorization", "type": "string", "value": "Bearer x"}],
    "sessionAttributes": {},
    "promptSessionAttributes": {},
}


def websocket_connect_event(token: str) -> dict[str, Any]:
    return {
        "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Key": "x", "Sec-WebSocket-Version": "13", "Cookie": f"__session={token}", "Origin": EVIL},
        "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"], "Cookie": [f"__session={token}"], "Origin": [EVIL]},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "x",
            "requestTime": "09/Feb/2024:18:11:43 +0000",
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": 1707502303419,
            "requestTimeEpoch": 1707502303420,
            "identity": {"sourceIp": "1.2.3.4"},
            "requestId": "x",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "connectionId": "SxS8Fc3JoAMCFUQ=",
            "apiId": "abc",
        },
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("decorator", ["require_session", "with_session"])
def test_non_http_lookalikes_get_a_400_and_never_the_handler(auth: ClerkAuth, key: SigningKey, decorator: str) -> None:
    handler = recording_handler(getattr(auth, decorator))
    token = mint(key)
    events = [
        BEDROCK_AGENT,
        dict(BEDROCK_AGENT, requestBody={"content": {}}),
        websocket_connect_event(token),
        {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": "arn:aws:execute-api:us-east-1:1:abc/prod/GET/me"},
        {"version": "2.0", "method": "GET", "headers": {"authorization": f"Bearer {token}"}},  # Lattice-ish, no context
        {"version": "1.0", "requestContext": {"http": "GET"}, "headers": {}},
        {"httpMethod": "GET", "headers": {"authorization": f"Bearer {token}"}},  # no requestContext
    ]
    for event in events:
        response = handler(event, None)
        assert response["statusCode"] == 400, event
        assert "session" not in handler.seen
        assert token not in json.dumps(response)


@pytest.mark.parametrize(
    "event",
    [
        {"version": "2.0", "requestContext": {"http": "GET"}},
        {"version": "2.0", "requestContext": {"http": {"method": ["POST"]}}},
        {"version": "2.0", "requestContext": [], "headers": {}},
        {"version": "2.0", "requestContext": {"http": {"method": "GET"}}, "headers": {"authorization": 5}},
        {"version": "2.0", "requestContext": {"http": {"method": "GET"}}, "cookies": "a=b"},
        {"version": "2.0", "requestContext": {"http": {"method": "GET"}}, "headers": {"cookie": ["a=b"]}},
        {"version": "2.0", "method": "GET", "path": "/", "requestContext": {"serviceArn": "x"}, "headers": {"authorization": 7}},
        {"version": "2.0", "method": "GET", "path": "/", "requestContext": {"serviceArn": "x"}, "headers": [1]},
        {"raw_path": "/", "method": 3, "is_base64_encoded": False},
        {"httpMethod": "GET", "requestContext": {"elb": {}}, "multiValueHeaders": {"authorization": [None]}},
        {"httpMethod": "GET", "requestContext": {}, "multiValueQueryStringParameters": {"_clerk_session_id": []}, "headers": {"Authorization": "Bearer a.b.c"}},
    ],
)
def test_almost_http_events_never_raise(auth: ClerkAuth, event: dict[str, Any]) -> None:
    required = recording_handler(auth.require_session)
    assert required(event, None)["statusCode"] in (400, 401)
    assert "session" not in required.seen
    optional = recording_handler(auth.with_session)
    response = optional(event, None)
    assert response["statusCode"] == 400 or optional.seen["session"] is None


def test_unsupported_event_log_line_stays_bounded(auth: ClerkAuth, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = recording_handler(auth.require_session)
    secret = "sk_live_" + "s" * 40
    event = {("k" * 200_000) + secret: 1, "\x1b[31m\r\nFAKE LOG LINE": 2, secret: secret, **{f"key{i}": i for i in range(10_000)}}
    response = handler(event, None)
    assert response["statusCode"] == 400
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert len(text) < 2000 and secret not in text and "\r" not in text and "\x1b" not in text


# =========================================================================================
# 6. Nothing leaks
# =========================================================================================


def test_finding_secret_key_leaks_through_a_backend_api_exception(make_auth: Any, jwks: Any, key: SigningKey) -> None:
    """``ClerkAuth(secret_key=open(...).read())`` keeps the file's trailing
    newline (only the environment and AWS paths strip it). ``session.user()``
    then raises ``ValueError: Invalid header value b'Bearer sk_live_…\\n'``
    from http.client, with the secret key in the message, out of the handler
    and into the Lambda log. Expected: a typed Clerk error (or a
    ClerkConfigError at construction), never the key in a message."""
    secret = "sk_live_" + "Q" * 40 + "\n"
    auth = make_auth(secret_key=secret, api_url=jwks.base_url)  # a live loopback server
    session = auth.verify_token(mint(key))
    try:
        session.user()
    except Exception as exc:  # whatever it is, it must not carry the key
        text = f"{type(exc).__name__}: {exc!s} {exc!r}"
        assert secret.strip() not in text, text
    else:
        pytest.fail("the loopback server is no Backend API: user() must fail")


def test_key_fetch_failures_with_a_secret_key_leak_nothing(jwks: Any, key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "sk_test_" + "Z" * 40
    jwks.set("status", status=500)
    auth = ClerkAuth(secret_key=secret, api_url=jwks.url.rsplit("/", 1)[0], authorized_parties=[ORIGIN])
    handler = recording_handler(auth.require_session)
    out = call(handler, "http_v2", bearer=mint(key))
    assert out.status == 503
    with pytest.raises(ClerkConfigError) as refused:  # a CRLF in the key is a config error now, not a broken header
        ClerkAuth(secret_key=secret + "\r\nX: y", api_url=jwks.base_url + "/crlf", authorized_parties=[ORIGIN])
    assert secret not in str(refused.value)
    text = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    for thing in (secret, json.dumps(out.response), repr(auth)):
        assert secret not in thing or thing is secret
    assert secret not in text


def test_nothing_of_the_request_comes_back_in_refusals(auth: ClerkAuth, key: SigningKey, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = recording_handler(auth.require_session)
    token = mint(key, exp=1, iat=0)
    for shape in SHAPES:
        for out in (
            call(handler, shape, bearer=token, origin=ORIGIN),
            call(handler, shape, method="POST", origin=EVIL, cookies=cookie(mint(key)) + ["other=cookie-value-123"]),
            call(handler, shape, cookies=cookie(token + "x")),
        ):
            text = json.dumps(out.response)
            assert token not in text and "cookie-value-123" not in text and "__session" not in text
    assert all(token not in r.getMessage() and "cookie-value-123" not in r.getMessage() for r in caplog.records)


def test_handler_exception_passes_through_unchanged(auth: ClerkAuth, key: SigningKey) -> None:
    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as info:
        handler(make_event("http_v2", bearer=mint(key)), None)
    assert str(info.value) == "boom"


# =========================================================================================
# 7. Response shapes, CORS headers
# =========================================================================================


def test_alb_multi_value_answers_never_carry_headers(auth: ClerkAuth, key: SigningKey) -> None:
    @auth.require_session
    def bare(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "ok"}

    @auth.require_session
    def multi(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "ok", "multiValueHeaders": {"Vary": ["Accept-Encoding"], "Set-Cookie": ["a=1", "b=2"]}}

    mangum = auth.require_session(Mangum(fastapi_app(), lifespan="off"))
    for handler, path in ((bare, "/"), (multi, "/"), (mangum, "/plain")):
        for kw in ({"bearer": mint(key), "origin": ORIGIN}, {"origin": ORIGIN}, {"origin": ORIGIN, "method": "OPTIONS", "headers": {ACRM: "GET"}}, {"origin": EVIL, "method": "POST", "cookies": cookie(mint(key))}):
            response = handler(routed("alb_multi", path, **kw), None)
            assert "headers" not in response, (path, kw, response)
            assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in response["multiValueHeaders"].values())


def test_vary_origin_is_merged_not_duplicated(auth: ClerkAuth, key: SigningKey) -> None:
    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "", "headers": {"vary": "Accept-Encoding"}}

    response = handler(make_event("rest_v1", bearer=mint(key), origin=ORIGIN), None)
    assert response["headers"]["vary"] == "Accept-Encoding, Origin" and "Vary" not in response["headers"]
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    foreign = handler(make_event("rest_v1", bearer=mint(key), origin=EVIL), None)
    assert "Access-Control-Allow-Origin" not in foreign["headers"] and foreign["headers"]["vary"] == "Accept-Encoding, Origin"


def test_requested_headers_cannot_inject_into_the_preflight(auth: ClerkAuth) -> None:
    handler = recording_handler(auth.require_session)
    for requested in ("x-a\r\nSet-Cookie: s=1", "x-a,\r\n x-b", "x-a\u2028,x-b", "x" * 5000, "x-a, Set-Cookie: 1"):
        out = call(handler, "rest_v1", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET", "Access-Control-Request-Headers": requested})
        assert out.status == 204
        for value in out.response["headers"].values():
            assert "\r" not in value and "\n" not in value and "\u2028" not in value and "Set-Cookie" not in value


def test_powertools_preflight_answer_on_alb_multi_value(auth: ClerkAuth) -> None:
    from aws_lambda_powertools.event_handler import ALBResolver

    app = powertools_app(auth, ALBResolver)
    response = app.resolve(routed("alb_multi", "/me", method="OPTIONS", origin=ORIGIN, headers={ACRM: "GET"}), Ctx())
    assert response["statusCode"] == 204 and "headers" not in response


def test_lattice_cookie_writes_are_checked(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session)
    token = mint(key)
    for origin in (EVIL, "null"):
        v2 = handler(lattice_v2("POST", {"origin": [origin], "cookie": [f"__session={token}"]}), None)
        v1 = handler(lattice_v1("post", {"origin": origin, "cookie": f"__session={token}"}), None)
        assert v2["statusCode"] == v1["statusCode"] == 403 and "session" not in handler.seen
    ok = handler(lattice_v2("POST", {"origin": [ORIGIN], "cookie": [f"__session={token}"]}), None)
    assert ok["statusCode"] == 200
