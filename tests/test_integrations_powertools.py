"""Powertools: Event Handler middleware on every resolver, the Logger audit
trail and Metrics, with the real Powertools library."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import (
    ALBResolver,
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    LambdaFunctionUrlResolver,
    Response,
)
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import (
    ALBEvent,
    APIGatewayProxyEvent,
    APIGatewayProxyEventV2,
    LambdaFunctionUrlEvent,
    event_source,
)
from aws_lambda_powertools.utilities.parser import BaseModel, envelopes, event_parser
from support.events import response_headers, routed
from support.powertools import body_models_unsupported
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, require_session
from clerk_serverless.integrations.openapi import BEARER_DESCRIPTION, COOKIE_DESCRIPTION
from clerk_serverless.integrations.powertools import ClerkMiddleware, clerk_security, clerk_security_schemes

RESOLVERS = {
    "rest_v1": APIGatewayRestResolver,
    "http_v2": APIGatewayHttpResolver,
    "function_url": LambdaFunctionUrlResolver,
    "alb": ALBResolver,
    "alb_multi": ALBResolver,
}
V2_ORG = {"v": 2, "fea": "o:reports", "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}


class Ctx:
    function_name = "fn"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    aws_request_id = "req-1"



def build_app(shape: str, auth: ClerkAuth, **global_options: Any) -> Any:
    app = RESOLVERS[shape]()
    app.use(middlewares=[ClerkMiddleware(auth=auth, **global_options)])

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"user_id": app.context["session"].user_id}

    @app.get("/reports", middlewares=[ClerkMiddleware(auth=auth, permissions=["org:reports:read"])])
    def reports() -> dict[str, Any]:
        return {"org_id": app.context["session"].org_id}

    return app


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


@pytest.mark.parametrize("shape", list(RESOLVERS))
def test_middleware_on_every_resolver(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    app = build_app(shape, auth)
    ok = app.resolve(routed(shape, bearer=mint(key)), Ctx())
    assert ok["statusCode"] == 200 and json.loads(ok["body"]) == {"user_id": "user_2abc"}
    cookie = app.resolve(routed(shape, cookies=[f"__session={mint(key)}"]), Ctx())
    assert cookie["statusCode"] == 200
    refused = app.resolve(routed(shape, origin=ORIGIN, bearer=mint(key, exp=1, iat=0)), Ctx())
    headers = response_headers(shape, refused)  # ALB multi-value answers carry multiValueHeaders only
    assert refused["statusCode"] == 401
    assert headers["x-clerk-auth-reason"] == "token-expired"
    assert headers["access-control-allow-origin"] == ORIGIN
    assert json.loads(refused["body"])["reason"] == "token-expired"
    assert app.resolve(routed(shape, "/reports", bearer=mint(key)), Ctx())["statusCode"] == 403
    assert app.resolve(routed(shape, "/reports", bearer=mint(key, **V2_ORG)), Ctx())["statusCode"] == 200


def test_optional_middleware_passes_none(auth: ClerkAuth) -> None:
    app = APIGatewayHttpResolver()
    app.use(middlewares=[ClerkMiddleware(auth=auth, required=False)])

    @app.get("/me")
    def me() -> dict[str, Any]:
        return {"session": app.context["session"]}

    assert json.loads(app.resolve(routed("http_v2"), Ctx())["body"]) == {"session": None}


def test_middleware_reuses_a_session_verified_by_require_session(auth: ClerkAuth, key: SigningKey, jwks: Any) -> None:
    app = build_app("http_v2", auth)
    handler = auth.require_session(app.resolve)
    assert handler(routed("http_v2", bearer=mint(key)), Ctx())["statusCode"] == 200
    assert handler(routed("http_v2", "/reports", bearer=mint(key)), Ctx())["statusCode"] == 403


# -- Logger: the audit trail -------------------------------------------------------------------


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_logger_audit_trail(jwks: Any, key: SigningKey) -> None:
    stream = io.StringIO()
    logger = Logger(service="audit-test", logger_handler=logging.StreamHandler(stream))
    auth = ClerkAuth(jwks_url=jwks.url, authorized_parties=[ORIGIN], logger=logger)

    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        logger.info("doing the work")
        return {"statusCode": 200, "body": ""}

    token = mint(key, **V2_ORG)
    event = routed("http_v2", bearer=token, headers={"User-Agent": "Mozilla/5.0 (Test)"})
    event["requestContext"]["http"]["sourceIp"] = "198.51.100.7"
    handler(event, Ctx())
    handler(routed("http_v2", bearer=mint(key, exp=1, iat=0)), Ctx())
    logger.info("after the invocation")

    lines = _lines(stream)
    audit = [line["clerk_audit"] for line in lines if "clerk_audit" in line]
    assert audit[0] == {
        "outcome": "signed-in", "status": 200, "reason": None, "method": "GET", "route": "/me",
        "token_type": "session_token", "user_id": "user_2abc", "session_id": "sess_2xyz", "org_id": "org_1",
        "source_ip": "198.51.100.7", "user_agent": "Mozilla/5.0 (Test)",
    }
    assert audit[1]["outcome"] == "refused" and audit[1]["status"] == 401 and audit[1]["reason"] == "token-expired"
    work = next(line for line in lines if line["message"] == "doing the work")
    assert (work["user_id"], work["session_id"], work["org_id"], work["source_ip"]) == ("user_2abc", "sess_2xyz", "org_1", "198.51.100.7")
    after = next(line for line in lines if line["message"] == "after the invocation")
    assert "user_id" not in after and "token_type" not in after  # removed when the handler returned: warm containers never mix users
    assert token not in stream.getvalue()


def test_audit_in_the_powertools_middleware(jwks: Any, key: SigningKey) -> None:
    stream = io.StringIO()
    logger = Logger(service="audit-middleware-test", logger_handler=logging.StreamHandler(stream))
    auth = ClerkAuth(jwks_url=jwks.url, logger=logger)
    app = APIGatewayRestResolver()
    app.use(middlewares=[ClerkMiddleware(auth=auth)])

    @app.get("/me")
    def me() -> dict[str, Any]:
        logger.info("route")
        return {}

    app.resolve(routed("rest_v1", bearer=mint(key)), Ctx())
    lines = _lines(stream)
    assert any(line.get("clerk_audit", {}).get("route") == "/me" for line in lines)
    assert next(line for line in lines if line["message"] == "route")["user_id"] == "user_2abc"


# -- Metrics -------------------------------------------------------------------------------------


def test_metrics_count_outcomes_and_key_fetches(jwks: Any, key: SigningKey, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics(namespace="ClerkTest", service="metrics-test")
    now = [__import__("time").time()]
    auth = ClerkAuth(jwks_url=jwks.url, metrics=metrics, clock=lambda: now[0])

    @metrics.log_metrics
    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        return {"statusCode": 200, "body": ""}

    handler(routed("http_v2", bearer=mint(key)), Ctx())
    handler(routed("http_v2", bearer=mint(key, exp=1, iat=0)), Ctx())
    handler(routed("http_v2"), Ctx())
    jwks.set("status", status=500)
    now[0] += 301
    handler(routed("http_v2", bearer=mint(key, exp=int(now[0]) + 60, iat=int(now[0]))), Ctx())
    emitted: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        for definition in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            value = record[name]
            emitted[name] = emitted.get(name, 0) + (sum(value) if isinstance(value, list) else value)
    assert emitted == {
        "clerk.jwks-fetch": 2,
        "clerk.signed-in": 2,
        "clerk.token-expired": 1,
        "clerk.session-token-missing": 1,
        "clerk.jwks-stale-served": 1,
    }


def test_module_level_require_session_wraps_resolve() -> None:
    app = APIGatewayHttpResolver()
    assert require_session(app.resolve).__wrapped__ == app.resolve


# -- Powertools' event data classes and Parser, stacked with the decorators ------------------

DATA_CLASSES = {
    "http_v2": APIGatewayProxyEventV2,
    "rest_v1": APIGatewayProxyEvent,
    "alb_multi": ALBEvent,
    "function_url": LambdaFunctionUrlEvent,
}


@pytest.mark.parametrize("shape", list(DATA_CLASSES))
def test_event_source_above_the_decorator(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    """``@event_source`` above ``@require_session`` hands the decorator a data
    class: the session is set on the dict it wraps, so ``event["session"]``
    reads it; refusals are in the event's own format (it used to be a 400)."""
    seen: list[Any] = []

    @event_source(data_class=DATA_CLASSES[shape])
    @auth.require_session
    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "body": event["session"].user_id}

    assert handler(routed(shape, bearer=mint(key)), Ctx())["body"] == "user_2abc"
    assert isinstance(seen[0], DATA_CLASSES[shape]) and seen[0].raw_event["session"].user_id == "user_2abc"
    refused = handler(routed(shape, origin=ORIGIN), Ctx())
    assert refused["statusCode"] == 401 and len(seen) == 1
    assert response_headers(shape, refused)["x-clerk-auth-reason"] == "session-token-missing"
    assert response_headers(shape, refused)["access-control-allow-origin"] == ORIGIN


def test_event_source_below_the_decorator(auth: ClerkAuth, key: SigningKey) -> None:
    @auth.require_session
    @event_source(data_class=APIGatewayProxyEventV2)
    def handler(event: APIGatewayProxyEventV2, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": event["session"].user_id + " " + event.raw_path}

    assert handler(routed("http_v2", bearer=mint(key)), Ctx())["body"] == "user_2abc /me"
    assert handler(routed("http_v2"), Ctx())["statusCode"] == 401


def test_parser_below_the_decorator_and_the_hint_when_above(
    auth: ClerkAuth, key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    @auth.require_session
    @event_parser(model=Todo, envelope=envelopes.ApiGatewayV2Envelope)
    def below(event: Todo, context: Any) -> dict[str, Any]:
        return {"statusCode": 201, "body": event.title}

    @event_parser(model=Todo, envelope=envelopes.ApiGatewayV2Envelope)
    @auth.require_session
    def above(event: Any, context: Any) -> dict[str, Any]:
        raise AssertionError("a parsed body holds no token: never admitted")

    def post(**request: Any) -> dict[str, Any]:
        event = routed("http_v2", method="POST", **request)
        event["body"], event["isBase64Encoded"] = json.dumps({"title": "milk"}), False
        return event

    assert below(post(bearer=mint(key)), Ctx()) == {"statusCode": 201, "body": "milk"}
    assert below(post(), Ctx())["statusCode"] == 401
    caplog.set_level(logging.WARNING, logger="clerk_serverless")
    assert above(post(bearer=mint(key)), Ctx())["statusCode"] == 400
    assert "put the Clerk decorator above @event_parser" in caplog.text


# -- a resolver as Powertools users write one: Routers, validation, OpenAPI, error handlers ----


class Todo(BaseModel):  # at module level: the annotations are strings, resolved from here
    title: str


@pytest.mark.parametrize("shape", ["rest_v1", "http_v2", "function_url", "alb"])
def test_validated_app_with_a_router_under_a_prefix(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    reason = body_models_unsupported()  # Powertools 3.0 (lowest deps) validates otherwise: a bare model is a query
    if reason:
        pytest.skip(reason)
    app = RESOLVERS[shape](enable_validation=True)
    app.use(middlewares=[ClerkMiddleware(auth=auth, required=False)])
    router = Router()

    @router.get("/todos/<todo_id>", middlewares=[ClerkMiddleware(auth=auth)], security=clerk_security())
    def todo(todo_id: int) -> dict[str, Any]:
        return {"id": todo_id, "user": router.context["session"].user_id}

    @router.post("/todos", middlewares=[ClerkMiddleware(auth=auth)], security=clerk_security())
    def add(item: Todo) -> dict[str, Any]:
        return {"title": item.title, "user": router.context["session"].user_id}

    app.include_router(router, prefix="/v1")

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("the route's own error")

    @app.exception_handler(ValueError)
    def teapot(error: ValueError) -> Response[str]:
        return Response(status_code=418, content_type="text/plain", body="teapot")

    @app.not_found
    def missing(error: Exception) -> Response[str]:
        session = app.context.get("session")
        return Response(status_code=404, content_type="text/plain", body=session.user_id if session else "anonymous")

    def post(**request: Any) -> dict[str, Any]:
        event = routed(shape, "/v1/todos", method="POST", **request)
        event["body"], event["isBase64Encoded"] = json.dumps({"title": "milk"}), False
        return event

    token = mint(key)
    ok = app.resolve(routed(shape, "/v1/todos/7", bearer=token), Ctx())
    assert ok["statusCode"] == 200 and json.loads(ok["body"]) == {"id": 7, "user": "user_2abc"}
    assert json.loads(app.resolve(post(bearer=token), Ctx())["body"]) == {"title": "milk", "user": "user_2abc"}
    assert app.resolve(routed(shape, "/v1/todos/7"), Ctx())["statusCode"] == 401
    assert app.resolve(post(), Ctx())["statusCode"] == 401
    assert app.resolve(routed(shape, "/boom"), Ctx())["statusCode"] == 418
    assert app.resolve(routed(shape, "/nowhere", bearer=token), Ctx())["body"] == "user_2abc"
    assert app.resolve(routed(shape, "/nowhere"), Ctx())["body"] == "anonymous"

    schema = json.loads(app.get_openapi_json_schema(security_schemes=clerk_security_schemes()))
    assert schema["components"]["securitySchemes"] == {
        "ClerkBearer": {"type": "http", "scheme": "bearer", "description": BEARER_DESCRIPTION},
        "ClerkSessionCookie": {"type": "apiKey", "in": "cookie", "name": "__session", "description": COOKIE_DESCRIPTION},
    }
    assert schema["paths"]["/v1/todos/{todo_id}"]["get"]["security"] == [{"ClerkBearer": []}, {"ClerkSessionCookie": []}]
    assert "security" not in schema["paths"]["/boom"]["get"]


def test_swagger_declares_clerk_for_every_route(auth: ClerkAuth, key: SigningKey) -> None:
    app = APIGatewayHttpResolver(enable_validation=True)
    app.enable_swagger(path="/swagger", security_schemes=clerk_security_schemes(), security=clerk_security(cookie=False))  # as for a Bearer-only API
    app.use(middlewares=[ClerkMiddleware(auth=auth)])

    @app.get("/jobs")
    def jobs() -> list[str]:
        return []

    page = app.resolve(routed("http_v2", "/swagger", bearer=mint(key)), Ctx())
    assert page["statusCode"] == 200
    spec = "".join(page["body"].split())  # the schema Swagger UI is given, inline
    assert '"security":[{"ClerkBearer":[]}]' in spec
    assert '"ClerkBearer":{"type":"http","description":' in spec and '"scheme":"bearer"' in spec
    assert '"in":"cookie","name":"__session"' in spec
    assert app.resolve(routed("http_v2", "/swagger"), Ctx())["statusCode"] == 401  # global middleware: the docs too


def test_powertools_decorators_above_ours(jwks: Any, key: SigningKey, capsys: pytest.CaptureFixture[str]) -> None:
    """The order the README gives: Logger, Tracer and Metrics decorators above
    ``require_session``. ``clear_state=True`` then runs before our keys are
    appended (below it, it would wipe them), the audit line carries the
    invocation's context, and a refusal's metric is flushed by
    ``log_metrics`` in its own invocation (it never reaches a
    ``log_metrics`` below us)."""
    stream = io.StringIO()
    logger = Logger(service="stacked-test", logger_handler=logging.StreamHandler(stream))
    metrics = Metrics(namespace="ClerkTest", service="stacked-test")
    tracer = Tracer(service="stacked-test", disabled=True)
    auth = ClerkAuth(jwks_url=jwks.url, logger=logger, metrics=metrics)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.info("work")
        return {"statusCode": 200, "body": event["session"].user_id}

    token = mint(key)
    assert handler(routed("http_v2", bearer=token), Ctx())["body"] == "user_2abc"
    capsys.readouterr()
    assert handler(routed("http_v2"), Ctx())["statusCode"] == 401
    flushed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [record.get("clerk.session-token-missing") for record in flushed] == [[1.0]]  # this invocation's own flush
    lines = _lines(stream)
    work = next(line for line in lines if line["message"] == "work")
    assert (work["user_id"], work["correlation_id"], work["function_request_id"]) == ("user_2abc", "id", "req-1")
    audits = [line for line in lines if "clerk_audit" in line]
    assert [a["clerk_audit"]["outcome"] for a in audits] == ["signed-in", "refused"]
    assert all(a["function_request_id"] == "req-1" for a in audits)
    assert token not in stream.getvalue()


def test_router_use_guards_the_whole_app(auth: ClerkAuth, key: SigningKey) -> None:
    """What the README warns of: Powertools merges a Router's ``use()``
    middlewares into the app's global ones at ``include_router``, so a rule
    meant for the router's routes applies to every route of the app."""
    app = APIGatewayHttpResolver()
    admin = Router()
    admin.use(middlewares=[ClerkMiddleware(auth=auth, permissions=["org:reports:read"])])

    @admin.get("/stats")
    def stats() -> dict[str, Any]:
        return {}

    @app.get("/public")
    def public() -> dict[str, Any]:
        return {}

    app.include_router(admin, prefix="/admin")
    assert app.resolve(routed("http_v2", "/public"), Ctx())["statusCode"] == 401
    assert app.resolve(routed("http_v2", "/public", bearer=mint(key)), Ctx())["statusCode"] == 403
