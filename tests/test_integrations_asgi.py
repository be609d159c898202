"""ASGI: require_session around Mangum, the Starlette middleware and the
FastAPI dependencies, with the real libraries (and a real uvicorn server)."""

from __future__ import annotations

import base64
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request, Security
from fastapi.responses import StreamingResponse
from mangum import Mangum
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from support.calls import call
from support.events import make_event, routed
from support.loopback import uvicorn_serving
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, Session, require_session
from clerk_serverless.integrations.asgi import ClerkMiddleware
from clerk_serverless.integrations.fastapi import clerk_session, optional_clerk_session, require_clerk_session
from clerk_serverless.integrations.openapi import BEARER_DESCRIPTION
from clerk_serverless.session import SessionClaims

V2_ORG = {"v": 2, "fea": "o:reports", "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


def fastapi_app(auth: ClerkAuth) -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(session: Any = Depends(require_clerk_session(auth=auth))) -> dict[str, Any]:
        return {"user_id": session.user_id}

    @app.get("/reports")
    def reports(request: Request, session: Any = Depends(require_clerk_session(auth=auth, permissions=["org:reports:read"]))) -> dict[str, Any]:
        assert request.state.session is session
        return {"org_id": session.org_id}

    @app.get("/home")
    def home(session: Any = Depends(require_clerk_session(auth=auth, required=False))) -> dict[str, Any]:
        return {"user_id": session.user_id if session else None}

    @app.get("/from-event")
    def from_event(request: Request) -> dict[str, Any]:
        return {"user_id": request.scope["aws.event"]["session"].user_id}

    return app


# -- require_session(Mangum(app)) ------------------------------------------------------


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "function_url", "alb"])
def test_require_session_around_mangum(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    handler = auth.require_session(Mangum(fastapi_app(auth), lifespan="off"))
    event = make_event(shape, bearer=mint(key))
    for field, path in (("rawPath", "/from-event"), ("path", "/from-event")):
        if field in event:
            event[field] = path
    if shape in ("http_v2", "function_url"):
        event["requestContext"]["http"]["path"] = "/from-event"
    response = handler(event, None)
    assert response["statusCode"] == 200, response
    assert '"user_id":"user_2abc"' in response["body"]
    refused = handler(make_event(shape), None)
    assert refused["statusCode"] == 401


def test_module_level_require_session_takes_a_mangum_instance() -> None:
    wrapped = require_session(Mangum(FastAPI(), lifespan="off"))
    assert isinstance(wrapped.__wrapped__, Mangum)


# -- the FastAPI dependency -------------------------------------------------------------


def test_fastapi_dependency_under_mangum_without_the_decorator(auth: ClerkAuth, key: SigningKey) -> None:
    handler = Mangum(fastapi_app(auth), lifespan="off")

    def get(path: str, **request: Any) -> dict[str, Any]:
        event = make_event("http_v2", **request)
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        return handler(event, None)

    assert get("/me", bearer=mint(key))["statusCode"] == 200
    assert get("/me", cookies=[f"__session={mint(key)}"])["statusCode"] == 200  # cookies[] of the v2 event
    refused = get("/me", bearer=mint(key, exp=1, iat=0), origin=ORIGIN)
    assert refused["statusCode"] == 401
    assert refused["headers"]["x-clerk-auth-reason"] == "token-expired"
    assert refused["headers"]["access-control-allow-origin"] == ORIGIN
    assert get("/reports", bearer=mint(key))["statusCode"] == 403
    assert get("/reports", bearer=mint(key, **V2_ORG))["statusCode"] == 200
    assert get("/home")["body"] == '{"user_id":null}'


def test_fastapi_dependency_with_the_test_client(auth: ClerkAuth, key: SigningKey) -> None:
    client = TestClient(fastapi_app(auth))
    assert client.get("/me", headers={"Authorization": f"Bearer {mint(key)}"}).json() == {"user_id": "user_2abc"}
    client.cookies.set("__session", mint(key))
    assert client.get("/me").status_code == 200
    client.cookies.clear()
    refused = client.get("/me")
    assert refused.status_code == 401
    assert refused.headers["x-clerk-auth-reason"] == "session-token-missing"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["detail"]["reason"] == "session-token-missing"
    forbidden = client.get("/reports", headers={"Authorization": f"Bearer {mint(key)}"})
    assert forbidden.status_code == 403 and forbidden.headers["x-clerk-auth-reason"] == "missing-permission"


def test_default_dependencies_use_the_environment(monkeypatch: pytest.MonkeyPatch, jwks: Any, key: SigningKey) -> None:
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    app = FastAPI()

    @app.get("/me")
    def me(session: Any = Depends(clerk_session)) -> Any:
        return session.user_id

    @app.get("/maybe")
    def maybe(session: Any = Depends(optional_clerk_session)) -> Any:
        return session and session.user_id

    client = TestClient(app)
    assert client.get("/me", headers={"Authorization": f"Bearer {mint(key)}"}).json() == "user_2abc"
    assert client.get("/me").status_code == 401
    assert client.get("/maybe").json() is None


def test_same_app_under_a_real_uvicorn_server(auth: ClerkAuth, key: SigningKey) -> None:
    with uvicorn_serving(fastapi_app(auth)) as port:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/me", headers={"Authorization": f"Bearer {mint(key)}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.read() == b'{"user_id":"user_2abc"}'
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/me", timeout=5)
        assert info.value.code == 401 and info.value.headers["x-clerk-auth-reason"] == "session-token-missing"


# -- the Starlette middleware --------------------------------------------------------------


def starlette_app(auth: ClerkAuth, **options: Any) -> Starlette:
    def me(request: Any) -> JSONResponse:
        session = request.state.session
        return JSONResponse({"user_id": session.user_id if session else None})

    app = Starlette(routes=[Route("/me", me, methods=["GET", "OPTIONS"]), Route("/health", lambda r: JSONResponse("ok"))])
    app.add_middleware(ClerkMiddleware, auth=auth, **options)
    return app


def test_middleware_required(auth: ClerkAuth, key: SigningKey) -> None:
    client = TestClient(starlette_app(auth, exclude_paths=["/health"]))
    assert client.get("/me", headers={"Authorization": f"Bearer {mint(key)}"}).json() == {"user_id": "user_2abc"}
    refused = client.get("/me", headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.json() == {"error": "unauthorized", "reason": "session-token-missing", "message": refused.json()["message"]}
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert refused.headers["access-control-allow-credentials"] == "true"
    assert client.get("/health").status_code == 200
    assert client.options("/me").status_code == 401  # an OPTIONS that is no preflight is authenticated
    preflight = client.options("/me", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == ORIGIN
    # preflight headers on another method make no preflight: authenticated (cors.is_preflight's method test)
    looks_like = client.get("/me", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert looks_like.status_code == 401 and looks_like.json()["reason"] == "session-token-missing"


@pytest.mark.parametrize("lines", [["theme=dark", "__session={token}"], ["__session={token}", "theme=dark"]])
def test_middleware_under_mangum_reads_every_cookie_line(auth: ClerkAuth, key: SigningKey, lines: list[str]) -> None:
    """A REST API event whose ``Cookie`` came in two lines (``curl -H`` twice,
    serverless-offline): Mangum joins them with ", " into one header, which
    hid the session after the first line (RFC 6265 joins with "; ") and glued
    the next line onto the session's value. The middleware reads the lines of
    the event, as the decorator does."""
    token = mint(key)
    event = routed("rest_v1", headers={"Cookie": [line.format(token=token) for line in lines]})
    assert call(auth.require_session(Mangum(starlette_app(auth), lifespan="off")), "rest_v1", dict(event)).status == 200
    answer = Mangum(starlette_app(auth), lifespan="off")(event, None)
    assert answer["statusCode"] == 200 and answer["body"] == '{"user_id":"user_2abc"}'


@pytest.mark.parametrize("field, value", [
    ("query_string", "a=1"),
    ("query_string", 7),
    ("headers", [("authorization", "Bearer x")]),
    ("headers", [(b"authorization",)]),
])
def test_middleware_answers_a_malformed_scope_400(auth: ClerkAuth, field: str, value: Any) -> None:
    """A scope a server built wrongly (a str query string, str header pairs)
    is a 400 from the middleware, never an exception out of it (a 500)."""
    import asyncio

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app must not run")

    scope = {"type": "http", "method": "GET", "path": "/me", "headers": [], "query_string": b""}
    scope[field] = value
    # A loop of its own: asyncio.run would leave the thread's loop unset, which
    # Mangum 0.17 (the lowest supported) reads with get_event_loop() later.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ClerkMiddleware(app, auth=auth)(scope, receive, send))
    finally:
        loop.close()
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400


def test_middleware_optional_and_permissions(auth: ClerkAuth, key: SigningKey) -> None:
    optional = TestClient(starlette_app(auth, required=False))
    assert optional.get("/me").json() == {"user_id": None}
    assert optional.get("/me", headers={"Authorization": "Bearer x.y.z"}).json() == {"user_id": None}
    strict = TestClient(starlette_app(auth, permissions=["org:reports:read"]))
    assert strict.get("/me", headers={"Authorization": f"Bearer {mint(key)}"}).status_code == 403
    assert strict.get("/me", headers={"Authorization": f"Bearer {mint(key, **V2_ORG)}"}).status_code == 200


def test_middleware_keeps_keys_off_the_event_loop_during_a_fetch(auth: ClerkAuth, key: SigningKey, jwks: Any) -> None:
    jwks.set("slow", delay=0.3)
    client = TestClient(starlette_app(auth))
    assert client.get("/me", headers={"Authorization": f"Bearer {mint(key)}"}).status_code == 200


# -- one verdict everywhere ---------------------------------------------------------------

VERDICTS = [
    ("valid", lambda k, a: mint(k), 200, ""),
    ("expired", lambda k, a: mint(k, exp=1, iat=0), 401, "token-expired"),
    ("wrong-azp", lambda k, a: mint(k, azp="https://evil.example"), 401, "token-invalid-authorized-parties"),
    ("forged", lambda k, a: mint(a, {"kid": k.kid}), 401, "token-invalid-signature"),
    ("garbage", lambda k, a: "a.b.c", 401, "token-invalid"),
    ("no-org", lambda k, a: mint(k, sid="sess_x"), 403, "missing-permission"),
]


@pytest.mark.parametrize("name,factory,status,reason", VERDICTS, ids=[v[0] for v in VERDICTS])
def test_decorator_middleware_and_dependency_agree(auth: ClerkAuth, signing_keys: Any, name: str, factory: Any, status: int, reason: str) -> None:
    token = factory(signing_keys["current"], signing_keys["attacker"])
    options = {"permissions": ["org:reports:read"]} if name == "no-org" else {}
    if status == 200:
        token = mint(signing_keys["current"], **V2_ORG) if options else token

    @auth.require_session(**options)
    def decorated(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": ""}

    decorator = call(decorated, "http_v2", bearer=token)
    middleware = TestClient(starlette_app(auth, **options)).get("/me", headers={"Authorization": f"Bearer {token}"})
    app = FastAPI()

    @app.get("/me")
    def me(session: Any = Depends(require_clerk_session(auth=auth, **options))) -> Any:
        return session.user_id

    dependency = TestClient(app).get("/me", headers={"Authorization": f"Bearer {token}"})
    for got_status, got_reason in (
        (decorator.status, decorator.reason or ""),
        (middleware.status_code, middleware.headers.get("x-clerk-auth-reason", "")),
        (dependency.status_code, dependency.headers.get("x-clerk-auth-reason", "")),
    ):
        assert (got_status, got_reason) == (status, reason)


@pytest.mark.parametrize("module, dependency, extra", [
    ("clerk_serverless.integrations.fastapi", "fastapi", "fastapi"),
    ("clerk_serverless.integrations.powertools", "aws_lambda_powertools", "powertools"),
])
def test_an_integration_without_its_extra_names_the_extra(module: str, dependency: str, extra: str) -> None:
    # As after `pip install clerk-serverless` alone: the dependency cannot be imported.
    script = f"import sys; sys.modules[{dependency!r}] = None\nimport {module}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ModuleNotFoundError:"), last
    assert f"pip install 'clerk-serverless[{extra}]'" in last


# -- a FastAPI app as users write one: module-level dependencies, every form -------------------

CurrentSession = Annotated[Session, Depends(clerk_session)]
reports_reader = require_clerk_session(permissions=["org:reports:read"])
streamed: list[str] = []


def users_app() -> FastAPI:
    """Dependencies on the default ``ClerkAuth`` (the environment), as an app
    module declares them: ``Annotated``, ``Security``, a router's
    ``dependencies=[…]``, sync and async routes, background tasks, streaming."""
    app = FastAPI()
    admin = APIRouter(prefix="/admin", dependencies=[Depends(reports_reader)])

    @admin.get("/stats")
    async def stats(request: Request) -> dict[str, Any]:
        return {"org_id": request.state.session.org_id}

    app.include_router(admin)

    @app.get("/me")
    async def me(session: CurrentSession) -> dict[str, Any]:
        return {"user_id": session.user_id}

    @app.get("/reports")
    def reports(session: Session = Security(reports_reader)) -> dict[str, Any]:
        return {"org_id": session.org_id}

    @app.post("/later", status_code=202)
    def later(session: CurrentSession, tasks: BackgroundTasks) -> None:
        tasks.add_task(streamed.append, f"task for {session.user_id}")

    @app.get("/stream")
    async def stream(session: CurrentSession) -> StreamingResponse:
        async def chunks() -> AsyncIterator[str]:
            yield "hello "
            yield session.user_id

        return StreamingResponse(chunks(), media_type="text/plain")

    return app


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, jwks: Any) -> None:
    monkeypatch.setenv("CLERK_JWKS_URL", jwks.url)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", ORIGIN)


def test_users_app_with_the_test_client(environment: None, key: SigningKey) -> None:
    client = TestClient(users_app())
    user, org = {"Authorization": f"Bearer {mint(key)}"}, {"Authorization": f"Bearer {mint(key, **V2_ORG)}"}
    streamed.clear()
    assert client.get("/me", headers=user).json() == {"user_id": "user_2abc"}
    assert client.get("/reports", headers=org).json() == {"org_id": "org_1"}
    assert client.get("/admin/stats", headers=org).json() == {"org_id": "org_1"}
    assert client.post("/later", headers=user).status_code == 202 and streamed == ["task for user_2abc"]
    assert client.get("/stream", headers=user).text == "hello user_2abc"
    for method, path, headers, status in [
        ("GET", "/me", {}, 401), ("GET", "/reports", user, 403), ("GET", "/admin/stats", user, 403),
        ("GET", "/admin/stats", {}, 401), ("POST", "/later", {}, 401), ("GET", "/stream", {}, 401),
    ]:
        assert client.request(method, path, headers=headers).status_code == status, path
    assert streamed == ["task for user_2abc"]  # refused requests queue no task

    spec = client.get("/openapi.json").json()
    both = [{"ClerkBearer": []}, {"ClerkSessionCookie": []}]
    for path, method in (("/me", "get"), ("/reports", "get"), ("/admin/stats", "get"), ("/stream", "get"), ("/later", "post")):
        assert spec["paths"][path][method]["security"] == both, path
    assert spec["components"]["securitySchemes"]["ClerkBearer"] == {
        "type": "http", "scheme": "bearer", "description": BEARER_DESCRIPTION,
    }


@pytest.mark.parametrize("shape", ["rest_v1", "http_v2"])
def test_users_app_under_mangum_with_a_base_path(environment: None, key: SigningKey, shape: str) -> None:
    handler = Mangum(users_app(), lifespan="off", api_gateway_base_path="/prod")

    def get(path: str, **request: Any) -> dict[str, Any]:
        event = make_event(shape, **request)
        if shape == "http_v2":
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
        else:
            event["path"] = path
        return handler(event, None)

    answer = get("/prod/stream", bearer=mint(key))
    body = answer["body"] if not answer.get("isBase64Encoded") else base64.b64decode(answer["body"]).decode()
    assert answer["statusCode"] == 200 and body == "hello user_2abc"
    assert get("/prod/admin/stats", bearer=mint(key, **V2_ORG))["statusCode"] == 200
    refused = get("/prod/me", origin=ORIGIN)
    headers = {k.lower(): v for k, v in refused["headers"].items()} | {
        k.lower(): v[0] for k, v in (refused.get("multiValueHeaders") or {}).items()
    }
    assert refused["statusCode"] == 401 and headers["x-clerk-auth-reason"] == "session-token-missing"
    assert headers["access-control-allow-origin"] == ORIGIN


def fake_session(user_id: str = "user_test", **claims: Any) -> Session:
    """What a user's own tests put in place of the dependency: a Session of
    the claims they choose (no token, no keys)."""
    return Session(SessionClaims({"sub": user_id, "sid": "sess_test", "exp": 4102444800, **claims}), token="")


def test_dependency_overrides_in_the_users_tests(environment: None) -> None:
    app = users_app()
    app.dependency_overrides[clerk_session] = lambda: fake_session()  # no parameters: FastAPI would solve them
    app.dependency_overrides[reports_reader] = lambda: fake_session(**V2_ORG)
    client = TestClient(app)
    assert client.get("/me").json() == {"user_id": "user_test"}
    assert client.get("/reports").json() == {"org_id": "org_1"}
    assert client.post("/later").status_code == 202
    app.dependency_overrides.clear()
    assert client.get("/me").status_code == 401


@pytest.mark.parametrize("outermost", ["clerk", "cors"])
def test_cors_middleware_in_either_order(auth: ClerkAuth, key: SigningKey, outermost: str) -> None:
    from fastapi.middleware.cors import CORSMiddleware

    app = FastAPI()

    @app.get("/me")
    def me(request: Request) -> dict[str, Any]:
        return {"user_id": request.state.session.user_id}

    cors = {"allow_origins": [ORIGIN], "allow_credentials": True, "allow_methods": ["*"], "allow_headers": ["*"]}
    if outermost == "clerk":  # the last added runs first
        app.add_middleware(CORSMiddleware, **cors)
        app.add_middleware(ClerkMiddleware, auth=auth, preflight="handler")
    else:
        app.add_middleware(ClerkMiddleware, auth=auth)
        app.add_middleware(CORSMiddleware, **cors)
    client = TestClient(app)
    preflight = client.options("/me", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization",
    })
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ORIGIN
    refused = client.get("/me", headers={"Origin": ORIGIN})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ORIGIN
    assert refused.headers["access-control-allow-credentials"] == "true"
    ok = client.get("/me", headers={"Origin": ORIGIN, "Authorization": f"Bearer {mint(key)}"})
    assert ok.json() == {"user_id": "user_2abc"} and ok.headers["access-control-allow-origin"] == ORIGIN
