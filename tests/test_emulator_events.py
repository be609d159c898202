"""Tokens as the local emulators carry them, through every entry point.

tests/fixtures/events/emulators holds the events ``sam local start-api``,
serverless-offline, Architect's sandbox, LocalStack (Function URLs) and
``chalice local`` built themselves — their
own event builders run on real HTTP requests (SOURCES.md says how) — for the
requests of ``requests.json``: a Bearer token (header name in any case), the
``__session`` cookie (one ``Cookie`` line, or two with the session in the first
or the second), cookie writes from an authorized and a foreign origin,
``_clerk_session_id`` in the query, a binary body, a preflight. Each request
carried a placeholder token, which each test replaces with a freshly minted one:
so the token sits exactly where the emulator put it (``headers`` in the client's
casing or lowercased, ``multiValueHeaders``, v2's ``cookies[]``, a ``cookie``
header of a v2 event, the last ``Cookie`` line only…).

Where the emulator kept the token whole (anywhere a gateway carries one:
``headers``, ``multiValueHeaders``, ``cookies``) the handler runs; where it
dropped it (two ``Cookie`` lines folded into a dict, last wins) or glued it to
another cookie (werkzeug's ``,`` join under ``sam local``) the answer is 401,
never an exception, a 400 or a token read from anywhere else. serverless-offline's own
custom-authorizer events go through ``make_authorizer``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from support.clerk_api import ClerkBackendApi, fail_on_violations
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.sources import source_of

HERE = Path(__file__).resolve().parent / "fixtures" / "events" / "emulators"
MANIFEST = json.loads((HERE / "manifest.json").read_text())
PLACEHOLDER = MANIFEST["placeholder"]
REQUESTS = {r["name"]: r for r in json.loads((HERE / "requests.json").read_text())}
EVENTS = MANIFEST["events"]


def event_with_token(entry: dict[str, Any], token: str) -> dict[str, Any]:
    return json.loads((HERE / entry["file"]).read_text().replace(PLACEHOLDER, token))


def _values(event: dict[str, Any], name: str) -> list[str]:
    """Every value of header ``name`` (lowercase) in ``headers`` and ``multiValueHeaders``."""
    values: list[str] = []
    for field in ("headers", "multiValueHeaders"):
        for key, value in (event.get(field) or {}).items():
            if key.lower() == name:
                values.extend(value if isinstance(value, list) else [value])
    return values


def carried(event: dict[str, Any], token: str) -> bool:
    """The emulator kept the token whole where a gateway carries one: an
    ``Authorization: Bearer`` value, or a ``__session`` pair of a ``Cookie``
    line or of v2's ``cookies`` (pairs separated by ";", RFC 6265). A token
    an emulator glued to the next cookie (werkzeug joins two ``Cookie`` lines
    with ",") is not carried."""
    if f"Bearer {token}" in _values(event, "authorization"):
        return True
    lines = [*(event.get("cookies") or []), *_values(event, "cookie")]
    return f"__session={token}" in {pair.strip() for line in lines for pair in line.split(";")}


ANY_401 = "session-token-missing or token-invalid"


def verdict(answer: dict[str, Any], reason: str | None) -> tuple[int, str | None]:
    """The answer's (status, reason), a reason matching ``ANY_401`` read as it."""
    got = answer_headers(answer).get("x-clerk-auth-reason")
    return answer["statusCode"], ANY_401 if reason == ANY_401 and got in ANY_401.split(" or ") else got


def expected(entry: dict[str, Any], event: dict[str, Any], token: str) -> tuple[int, str | None]:
    """(status, reason) ``require_session`` must answer."""
    request = entry["request"]
    if request == "preflight":
        return 204, None
    if not carried(event, token):
        glued = token in json.dumps([event.get(f) for f in ("headers", "multiValueHeaders", "cookies")])
        return 401, ANY_401 if glued else "session-token-missing"  # glued: missing, or read as a bad token
    if request == "bearer-query-other-session-id":
        return 401, "session-id-mismatch"
    if request == "cookie-post-foreign-origin":
        return 403, "origin-invalid"
    return 200, None


def answer_headers(answer: dict[str, Any]) -> dict[str, str]:
    out = {k.lower(): v[0] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    out.update({k.lower(): v for k, v in (answer.get("headers") or {}).items()})
    return out


def run(decorator: Any, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    seen: dict[str, Any] = {}

    @decorator
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["auth"] = event["auth"]
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    return handler(event, None), seen


def ids(entry: dict[str, Any]) -> str:
    return str(entry["file"])


@pytest.fixture(scope="module")
def clerk_api(signing_keys: dict[str, SigningKey]) -> Any:
    server = ClerkBackendApi().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()
    fail_on_violations(server)


def test_the_fixtures() -> None:
    """Every file is in the manifest, every request built by every emulator variant."""
    files = {str(p.relative_to(HERE)) for p in HERE.glob("*/*.json")}
    assert files == {e["file"] for e in EVENTS} | {e["file"] for e in MANIFEST["authorizer_events"]}
    assert {e["request"] for e in EVENTS} == set(REQUESTS)
    assert all((HERE / p.split("/")[0] / "SOURCES.md").exists() for p in files)


@pytest.mark.parametrize("entry", EVENTS, ids=ids)
def test_recognised_as_the_source_emulated(entry: dict[str, Any]) -> None:
    assert source_of(event_with_token(entry, "t")).name == entry["source"]


@pytest.mark.parametrize("entry", EVENTS, ids=ids)
def test_require_and_with_session(
    make_auth: Any, key: SigningKey, caplog: pytest.LogCaptureFixture, entry: dict[str, Any]
) -> None:
    caplog.set_level(logging.ERROR, logger="clerk_serverless")  # no exception hidden in a 401
    token = mint(key)
    event = event_with_token(entry, token)
    status, reason = expected(entry, event, token)
    auth: ClerkAuth = make_auth()
    answer, seen = run(auth.require_session, event)
    assert verdict(answer, reason) == (status, reason), answer
    assert (seen["auth"].user_id if seen else None) == ("user_2abc" if status == 200 else None)
    if status == 204:
        assert answer_headers(answer)["access-control-allow-origin"] == ORIGIN
    answer, seen = run(auth.with_session, event_with_token(entry, token))
    assert answer["statusCode"] == (204 if status == 204 else 200), answer
    if status != 204:
        assert (seen["auth"].user_id if seen["auth"] else None) == ("user_2abc" if status == 200 else None)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("clerk_serverless")] == []


@pytest.mark.parametrize("entry", EVENTS, ids=ids)
def test_require_auth_any_token(make_auth: Any, key: SigningKey, clerk_api: Any, entry: dict[str, Any]) -> None:
    token = mint(key)
    event = event_with_token(entry, token)
    status, reason = expected(entry, event, token)
    auth: ClerkAuth = make_auth(secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    answer, seen = run(auth.require_auth(accepts_token="any"), event)
    assert verdict(answer, reason) == (status, reason), answer
    assert bool(seen) == (status == 200)


def _mangum_reads(event: dict[str, Any]) -> bool:
    from mangum.adapter import HANDLERS

    return any(h.infer(event, {}, {"api_gateway_base_path": "/"}) for h in HANDLERS)


@pytest.mark.parametrize("entry", EVENTS, ids=ids)
def test_asgi_middleware_behind_mangum(make_auth: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    """The same verdicts from ClerkMiddleware, on the scope Mangum builds from the event."""
    from mangum import Mangum

    from clerk_serverless.integrations.asgi import ClerkMiddleware

    token = mint(key)
    event = event_with_token(entry, token)
    if not _mangum_reads(event):
        pytest.skip("Mangum has no handler for this event")
    status, _ = expected(entry, event, token)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        session = scope.get("state", {}).get("session")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"user_id": session and session.user_id}).encode()})

    answer = Mangum(ClerkMiddleware(app, auth=make_auth()), lifespan="off")(event, None)
    assert answer["statusCode"] == status, answer
    if status == 200:
        assert json.loads(answer["body"]) == {"user_id": "user_2abc"}


POWERTOOLS = {  # the resolver of each emulated source
    "rest_api_v1": "APIGatewayRestResolver",
    "http_api_v2": "APIGatewayHttpResolver",
    "function_url": "LambdaFunctionUrlResolver",
    "alb": "ALBResolver",
}


@pytest.mark.parametrize("entry", EVENTS, ids=ids)
def test_powertools_middleware(make_auth: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    """ClerkMiddleware on the Powertools resolver of the emulated source."""
    from aws_lambda_powertools import event_handler

    from clerk_serverless.integrations.powertools import ClerkMiddleware

    token = mint(key)
    event = event_with_token(entry, token)
    status, reason = expected(entry, event, token)
    if status == 204:
        pytest.skip("preflights are the resolver's CORS configuration's to answer")
    def resolver(*middlewares: Any) -> Any:
        app = getattr(event_handler, POWERTOOLS[entry["source"]])()
        app.use(middlewares=list(middlewares))

        @app.route("/.+", method=["GET", "POST"])
        def anything() -> dict[str, Any]:
            session = app.context.get("session")
            return {"user_id": session.user_id if session else None}

        return app

    try:  # without our middleware: can Powertools route this emulator's event at all?
        routed = resolver().resolve(event_with_token(entry, token), None)["statusCode"] == 200
    except (KeyError, TypeError, AttributeError):
        routed = False
    if not routed:  # architect: no requestContext.stage; chalice: no httpMethod; serverless-offline v2: its stage in no path
        pytest.skip("Powertools itself cannot route this emulator's event")
    answer = resolver(ClerkMiddleware(auth=make_auth())).resolve(event, None)
    assert verdict(answer, reason) == (status, reason), answer


@pytest.mark.parametrize("entry", MANIFEST["authorizer_events"], ids=ids)
@pytest.mark.parametrize("simple_responses", [True, False])
def test_authorizer_on_serverless_offline_authorizer_events(
    make_auth: Any, key: SigningKey, entry: dict[str, Any], simple_responses: bool
) -> None:
    """serverless-offline runs a route's custom authorizer locally with events of
    its own making (a TOKEN event that also carries headers; payload 2.0 without
    ``cookies``, the cookie left in a ``Cookie`` header of the client's casing):
    ours allows the token there, and refuses a bad one as API Gateway expects."""
    from clerk_serverless.authorizer import Unauthorized, make_authorizer

    authorize = make_authorizer(make_auth(), simple_responses=simple_responses)
    allowed = authorize(event_with_token(entry, mint(key)), None)
    refused: Any
    try:
        refused = authorize(event_with_token(entry, "not-a-token"), None)
    except Unauthorized:
        refused = "Unauthorized"
    if entry["payload"] == "2.0" and simple_responses:
        assert allowed["isAuthorized"] is True and allowed["context"]["user_id"] == "user_2abc"
        assert refused == {"isAuthorized": False}
    else:
        assert allowed["principalId"] == "user_2abc"
        assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        if entry["payload"] == "2.0":
            assert refused["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        else:
            assert refused == "Unauthorized"
