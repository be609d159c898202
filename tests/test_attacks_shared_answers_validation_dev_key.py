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
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from fastapi import Depends, FastAPI, Request
from mangum import Mangum
from pydantic import BaseModel, field_validator
from support.events import make_event, response_headers, routed
from support.powertools import body_models_unsupported
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.integrations.fastapi import require_clerk_session
from clerk_serverless.integrations.powertools import ClerkMiddleware as PowertoolsClerkMiddleware

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


# =========================================================================================
# 2. What a framework runs before our middleware: Powertools' request validation
# =========================================================================================


class Todo(BaseModel):
    """A body model whose validator is app code (it could query a database)."""

    title: str

    @field_validator("title")
    @classmethod
    def looked_up(cls, title: str) -> str:
        VALIDATED.append(title)
        return title


#: The titles Todo's validator saw.
VALIDATED: list[str] = []


@pytest.fixture
def body_validation() -> None:
    """Skip where this Powertools cannot validate a JSON body model at all:
    the behaviour the next tests pin is that of the Powertools versions that can."""
    reason = body_models_unsupported()
    if reason:
        pytest.skip(reason)


def validating_app(auth: ClerkAuth) -> APIGatewayHttpResolver:
    """A Powertools resolver with ``enable_validation=True``, every route
    behind ClerkMiddleware, and one route whose own ClerkMiddleware requires
    a permission."""
    VALIDATED.clear()
    app = APIGatewayHttpResolver(enable_validation=True)
    app.use(middlewares=[PowertoolsClerkMiddleware(auth=auth)])

    @app.post("/todos", middlewares=[PowertoolsClerkMiddleware(auth=auth, permissions=["org:todos:write"])])
    def add(todo: Todo) -> dict[str, Any]:
        return {"user_id": app.context["session"].user_id, "title": todo.title}

    return app


def post_todo(handler: Any, body: str, token: str | None = None, path: str = "/todos") -> tuple[int, Any]:
    event = routed("http_v2", path, method="POST", bearer=token, headers={"content-type": "application/json"})
    event.update(body=body, isBase64Encoded=False)
    answer = handler(event, None)
    return answer["statusCode"], json.loads(answer["body"] or "null")


def test_powertools_validates_before_any_middleware_as_the_readme_warns(make_auth: Any, body_validation: None) -> None:
    """HIGH for apps that rely on it (information, app code before
    authentication). With ``enable_validation=True`` Powertools puts its
    request validation first in every route's middleware stack, before
    ``app.use`` middlewares and the route's own: an unauthenticated caller
    gets the 422 naming the fields it got wrong, and the app's validators run
    on its input. No middleware can go before it, so the README says to
    authenticate around ``app.resolve`` (next test); this pins the Powertools
    behaviour that advice rests on."""
    app = validating_app(make_auth())
    assert post_todo(app.resolve, '{"title": 5}')[0] == 422
    assert post_todo(app.resolve, '{"title": "probe"}')[0] == 401
    assert VALIDATED == ["probe"]  # app code ran on a request that was then refused


def test_authenticating_around_resolve_refuses_before_anything_is_parsed(make_auth: Any, key: SigningKey, body_validation: None) -> None:
    """The README's pattern: ``require_session(app.resolve)`` decides before
    Powertools reads the body; the routes' own middlewares still apply
    their whole policy inside, and validation still answers signed-in callers."""
    auth = make_auth()
    app = validating_app(auth)
    handler = auth.require_session(app.resolve)
    for body in ('{"title": 5}', '{"title": "probe"}', "not json"):
        assert post_todo(handler, body)[0] == 401
    assert VALIDATED == []
    member = mint(key, org_id="org_1", org_role="org:member", org_permissions=["org:todos:write"])
    assert post_todo(handler, '{"title": 5}', member)[0] == 422
    assert post_todo(handler, '{"title": "milk"}', member) == (200, {"user_id": "user_2abc", "title": "milk"})
    outsider = mint(key, org_id="org_1", org_role="org:member", org_permissions=[])
    assert post_todo(handler, '{"title": "milk"}', outsider)[0] == 403


def test_a_fastapi_route_with_the_clerk_dependency_first_runs_nothing_else_for_a_refusal(
    make_auth: Any, key: SigningKey
) -> None:
    """FastAPI solves a route's dependencies in order, its ``dependencies=[…]``
    first, then its parameters' (and validates the body after them): with the
    Clerk dependency there, a refused request runs no other dependency and no
    body validator. Only a body that is no JSON at all is answered (422)
    before it."""
    auth = make_auth()
    looked_up: list[str] = []

    def project(project_id: str = "p1") -> str:
        looked_up.append(project_id)
        return project_id

    VALIDATED.clear()
    app = FastAPI()

    @app.post("/todos", dependencies=[Depends(require_clerk_session(auth=auth))])
    def add(todo: Todo, project_id: str = Depends(project)) -> dict[str, Any]:
        return {"title": todo.title, "project": project_id}

    handler = Mangum(app, lifespan="off")
    assert post_todo(handler, '{"title": "probe"}')[0] == 401
    assert post_todo(handler, '{"title": 5}')[0] == 401
    assert looked_up == [] and VALIDATED == []
    assert post_todo(handler, '{"title": "milk"}', mint(key)) == (200, {"title": "milk", "project": "p1"})


# =========================================================================================
# 3. Method confusion: we judge the method field the routers inside route on
# =========================================================================================


def _with_methods(shape: str, token: str, routed_on: str, other: str) -> dict[str, Any]:
    """A cookie request from a foreign origin whose method fields disagree:
    ``routed_on`` in the field Mangum and Powertools route on, ``other`` in
    the event's other method field."""
    event = routed("http_v2" if shape == "http_v2" else "rest_v1", "/me", method=routed_on,
                   cookies=[f"__session={token}"], origin=EVIL)
    if shape == "http_v2":
        event["httpMethod"] = other  # a stray payload 1.0 field
    else:
        event["requestContext"]["httpMethod"] = other
        if shape == "http_v1":
            event["version"] = "1.0"  # HTTP API, payload format 1.0
    return event


@pytest.mark.parametrize("shape", ["rest_v1", "http_v1", "http_v2"])
@pytest.mark.parametrize("router", ["mangum", "powertools"])
def test_the_cookie_write_rule_reads_the_method_the_inner_router_routes_on(
    make_auth: Any, key: SigningKey, shape: str, router: str
) -> None:
    """Held. An event's method fields can disagree (REST's ``httpMethod`` and
    ``requestContext.httpMethod``, an HTTP API's payload 1.0, a stray
    ``httpMethod`` on payload 2.0): the cookie-write rule reads the field
    Mangum and Powertools route on, so a write they route as POST is never
    judged a safe GET, and what passes as GET is routed as GET."""
    auth, token = make_auth(), mint(key)
    routed_methods: list[str] = []
    if router == "mangum":
        app = FastAPI()

        @app.api_route("/me", methods=["GET", "POST"])
        def me(request: Request) -> dict[str, str]:
            routed_methods.append(request.method)
            return {}

        inner: Any = Mangum(app, lifespan="off")
    else:
        resolver = APIGatewayHttpResolver() if shape == "http_v2" else APIGatewayRestResolver()

        @resolver.route("/me", method=["GET", "POST"])
        def me_pt() -> dict[str, str]:
            routed_methods.append(resolver.current_event.http_method)
            return {}

        inner = resolver.resolve
    handler = auth.require_session(inner)
    refused = handler(_with_methods(shape, token, "POST", "GET"), None)
    assert refused["statusCode"] == 403 and routed_methods == []
    admitted = handler(_with_methods(shape, token, "GET", "POST"), None)
    assert admitted["statusCode"] == 200 and routed_methods == ["GET"]


# =========================================================================================
# 4. The repository's development key, whose private half is published
# =========================================================================================

REPO = Path(__file__).resolve().parent.parent


def test_finding_the_published_dev_key_verifies_forged_tokens_on_aws_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    """HIGH where it happens (full authentication bypass). ``dev/clerk-dev-key.pem``
    is committed, private half included, and ``env.json`` hands its public
    half to the functions as ``CLERK_JWT_KEY``: one copy of that value into a
    deployed stack (``--parameter-overrides ClerkJwtKey=…``, a
    ``samconfig.toml``, a console edit) and anyone with the repository signs
    session tokens for any user — the sample events under ``events/`` even
    carry ready ones valid until 2100. Fixed: on AWS Lambda (outside ``sam
    local`` and our local runner, which set ``AWS_SAM_LOCAL``) that key is a
    ``ClerkConfigError`` naming the setting, at cold start."""
    import jwt

    from clerk_serverless import ClerkConfigError
    from clerk_serverless_local.devkeys import DEV_ISSUER, DEV_KID, DevKey

    public = json.loads((REPO / "env.json").read_text())["Parameters"]["CLERK_JWT_KEY"]
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "MeFunction")
    monkeypatch.delenv("AWS_SAM_LOCAL", raising=False)
    monkeypatch.setenv("CLERK_JWT_KEY", public)
    with pytest.raises(ClerkConfigError) as refused:
        ClerkAuth()
    assert "CLERK_JWT_KEY" in str(refused.value) and "BEGIN" not in str(refused.value)
    with pytest.raises(ClerkConfigError):
        ClerkAuth(jwt_key=public.replace("\n", "\\n"))  # the spelling env vars carry
    monkeypatch.delenv("CLERK_JWT_KEY")
    with pytest.raises(ClerkConfigError):
        ClerkAuth(jwt_key="".join(public.splitlines()[1:-1]))  # the base64 body alone
    # sam local and our runner say so: local runs keep working, and so does any other key.
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    forged = jwt.encode({"sub": "user_victim", "sid": "sess_1", "iss": DEV_ISSUER, "exp": 4102444800, "iat": 1},
                        DevKey.load(REPO / "dev" / "clerk-dev-key.pem").private_key, algorithm="RS256",
                        headers={"kid": DEV_KID})
    assert ClerkAuth(jwt_key=public, issuer=DEV_ISSUER).verify_token(forged).user_id == "user_victim"
    monkeypatch.delenv("AWS_SAM_LOCAL")
    other = SigningKey.generate("ins_other")
    ClerkAuth(jwt_key=other.public_pem)



# =========================================================================================
# 5. Probes that held
# =========================================================================================


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi"])
@pytest.mark.parametrize("requested", ["PROPFIND", "get", "GET\r\nSet-Cookie: s=1", "DELETE, PATCH", "X" * 9000, ""])
def test_a_preflights_requested_method_is_never_echoed(make_auth: Any, shape: str, requested: str) -> None:
    """The grant lists the methods we allow, whatever the preflight asks for:
    a method outside them is refused by the browser, and nothing of
    ``Access-Control-Request-Method`` reaches the answer (an empty one is no
    preflight at all: authenticated, 401)."""
    handler = make_auth().require_session(lambda event, context: {"statusCode": 200, "body": "handler"})
    answer = handler(make_event(shape, method="OPTIONS", origin=ORIGIN, headers={ACRM: requested}), None)
    headers = response_headers(shape, answer)
    if not requested:
        assert answer["statusCode"] == 401
        return
    assert answer["statusCode"] == 204 and answer["body"] == ""
    assert headers["access-control-allow-methods"] == "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    assert all(requested not in value and "\r" not in value for value in headers.values())


def test_a_token_authorizer_never_takes_a_cookie_header_for_a_token(make_auth: Any, key: SigningKey) -> None:
    """A REST TOKEN authorizer sees one header value, with no method and no
    ``Origin``: the cookie-write rule cannot be applied there, so a session
    cookie handed to it (identity source ``Cookie``) must never pass as a
    header token."""
    from clerk_serverless.authorizer import Unauthorized, make_authorizer

    authorize = make_authorizer(make_auth())
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/POST/me"
    token = mint(key)
    for value in (f"__session={token}", f"theme=dark; __session={token}", f"__session={token}; __client_uat=1"):
        with pytest.raises(Unauthorized):
            authorize({"type": "TOKEN", "authorizationToken": value, "methodArn": arn}, None)
    allowed = authorize({"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": arn}, None)
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert allowed["context"]["token_carrier"] == "header"
