"""Other people's Lambda events, unchanged, through the decorators.

The events (tests/fixtures/events/public, one folder per project with its
SOURCES.md) are the test events of AWS's SDKs and runtimes, Powertools, the
SAM CLI, Mangum, serverless-http, Zappa and middy, a few captures, and the
events the local emulators developers run build (serverless-offline,
LocalStack, Architect's sandbox, ``chalice local``). ``manifest.json`` says
which source AWS sends each from, judged by AWS's documented shapes, not by
this package: WebSocket, Lambda@Edge, TOKEN-authorizer and non-HTTP events
are unsupported (400); REST REQUEST-authorizer and HTTP API payload 1.0 events
read as REST; the SDKs' REST events that carry WebSocket fields (their types
share one request context) may read either way.

For every event:

* it is recognised as that source, or refused as unsupported;
* unchanged, ``require_session`` answers 401 (400 when unsupported) and
  ``with_session`` runs the handler signed out, in the source's own answer
  format, without an exception or a hidden one (logged and turned into 401);
* with a freshly minted token added the way its source would carry it
  (``Authorization`` in ``headers``/``multiValueHeaders``/list values, or the
  ``__session`` cookie in a ``Cookie`` header or v2's ``cookies[]``), the
  handler runs, and its answer keeps the shape the source needs (ALB
  multi-value mode: ``multiValueHeaders`` only, even with CORS headers added);
* made a preflight, a cross-site cookie write, or sent while the keys are
  unavailable, it is answered 204, 403 or 503 in that format too;
* authorizer events get an Allow with a token and a refusal without;
* through Mangum, the ASGI middleware gives the same verdicts.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from support.clerk_api import ClerkBackendApi, fail_on_violations
from support.jwks_server import JwksServer
from support.tokens import ORIGIN, SigningKey, auth_factory, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.authorizer import Unauthorized, make_authorizer
from clerk_serverless.errors import UnsupportedEventError
from clerk_serverless.sources import source_of

PUBLIC = Path(__file__).resolve().parent / "fixtures" / "events" / "public"
MANIFEST = json.loads((PUBLIC / "manifest.json").read_text())["events"]
SUPPORTED = ("rest_api_v1", "http_api_v2", "function_url", "alb", "vpc_lattice")
SAFE = ("GET", "HEAD", "OPTIONS")
AUTHORIZER_KINDS = ("rest-request-authorizer", "rest-token-authorizer", "http-api-authorizer-v2", "websocket-authorizer")

_events: dict[str, Any] = {}


def load(entry: dict[str, Any]) -> Any:
    """A fresh copy of the event (some .NET fixtures start with a BOM)."""
    name = entry["file"]
    if name not in _events:
        _events[name] = json.loads((PUBLIC / name).read_text(encoding="utf-8-sig"))
    return copy.deepcopy(_events[name])


def cases(kinds: tuple[str, ...] | None = None, *, http_only: bool = False) -> list[Any]:
    """The manifest's events (of ``kinds``; ``http_only``: those AWS sends from a supported source)."""
    return [
        pytest.param(e, id=e["file"])
        for e in MANIFEST
        if (kinds is None or e["kind"] in kinds) and (not http_only or set(e["expect"]) & set(SUPPORTED))
    ]


def recognised(event: Any) -> str:
    try:
        return source_of(copy.deepcopy(event)).name
    except UnsupportedEventError:
        return "unsupported"


# -- reading an event as its source would have sent it -----------------------------


def _ci_keys(mapping: Any, name: str) -> list[str]:
    return [k for k in mapping if isinstance(k, str) and k.lower() == name] if isinstance(mapping, dict) else []


def header_values(event: dict[str, Any], source: str, name: str) -> list[str]:
    """Every value of header ``name`` (lowercase) in the event, whatever its layout."""
    values: list[str] = []
    for field in ("headers", "multiValueHeaders"):
        mapping = event.get(field)
        for key in _ci_keys(mapping, name):
            value = mapping[key]
            values.extend(value if isinstance(value, list) else [value])
    return [v for v in values if isinstance(v, str)]


def method_of(event: dict[str, Any], source: str) -> str | None:
    if source in ("http_api_v2", "function_url"):
        return ((event.get("requestContext") or {}).get("http") or {}).get("method")
    if source == "vpc_lattice":
        return event.get("method")
    return event.get("httpMethod")


def is_preflight(event: dict[str, Any], source: str) -> bool:
    return (
        method_of(event, source) == "OPTIONS"
        and any(header_values(event, source, "origin"))
        and any(header_values(event, source, "access-control-request-method"))
    )


def alb_multi_value(event: dict[str, Any]) -> bool:
    return "multiValueHeaders" in event and "headers" not in event


# -- adding a header, a cookie, as the source would carry it ----------------------


def _header_name(event: dict[str, Any], source: str, name: str) -> str:
    """REST APIs keep the client's casing (payload 1.0 of HTTP APIs lowercases);
    everything else lowercases header names."""
    if source != "rest_api_v1":
        return name.lower()
    keys = [k for k in (event.get("headers") or {}) if isinstance(k, str)]
    return name.lower() if keys and all(k == k.lower() for k in keys) else name


def drop_header(event: dict[str, Any], name: str) -> None:
    for field in ("headers", "multiValueHeaders"):
        mapping = event.get(field)
        for key in _ci_keys(mapping, name):
            del mapping[key]


def set_header(event: dict[str, Any], source: str, name: str, value: str) -> None:
    """Replace header ``name`` with one ``value``, in every field the source uses."""
    drop_header(event, name.lower())
    key = _header_name(event, source, name)
    if source in ("http_api_v2", "function_url"):
        if not isinstance(event.get("headers"), dict):
            event["headers"] = {}
        event["headers"][key] = value
    elif source == "vpc_lattice":
        if not isinstance(event.get("headers"), dict):
            event["headers"] = {}
        lists = event.get("version") == "2.0" and any(isinstance(v, list) for v in event["headers"].values())
        event["headers"][key] = [value] if lists else value
    else:  # rest_api_v1, alb: headers, multiValueHeaders or both, as the event has them
        single = "headers" in event or not alb_multi_value(event)
        multi = "multiValueHeaders" in event
        if single:
            if not isinstance(event.get("headers"), dict):
                event["headers"] = {}
            event["headers"][key] = value
        if multi:
            if not isinstance(event.get("multiValueHeaders"), dict):
                event["multiValueHeaders"] = {}
            event["multiValueHeaders"][key] = [value]


def add_cookie(event: dict[str, Any], source: str, pair: str) -> None:
    """Add a cookie the way a browser's request reaches the function."""
    if source in ("http_api_v2", "function_url"):
        cookies = event.get("cookies")
        event["cookies"] = (cookies if isinstance(cookies, list) else []) + [pair]
        return
    existing = header_values(event, source, "cookie")
    line = f"{existing[-1]}; {pair}" if existing else pair
    set_header(event, source, "Cookie", line)


def with_token(event: dict[str, Any], source: str, token: str, via: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    drop_header(event, "authorization")  # one Authorization header: ours
    if via == "bearer":
        set_header(event, source, "Authorization", f"Bearer {token}")
    else:
        add_cookie(event, source, f"__session={token}")
    return event


def cookie_write_refused(event: dict[str, Any], source: str) -> bool:
    """True when a browser's cookie-authenticated request must be refused
    (403 origin-invalid): a write from another site."""
    if method_of(event, source) in SAFE:
        return False
    origins = {o.strip() for v in header_values(event, source, "origin") for o in v.split(",")}
    if origins:
        return not origins <= {ORIGIN}
    return any(v.strip().lower() == "cross-site" for v in header_values(event, source, "sec-fetch-site"))


# -- the answers ------------------------------------------------------------------


def ok_answer(event: dict[str, Any], source: str) -> dict[str, Any]:
    """What a handler returns for this source (200, JSON)."""
    body = json.dumps({"user_id": event["session"].user_id if event.get("session") else None})
    if source == "alb":
        answer: dict[str, Any] = {"statusCode": 200, "statusDescription": "200 OK", "body": body, "isBase64Encoded": False}
        if alb_multi_value(event):
            answer["multiValueHeaders"] = {"Content-Type": ["application/json"]}
        else:
            answer["headers"] = {"Content-Type": "application/json"}
        return answer
    if source == "vpc_lattice":
        return {"statusCode": 200, "statusDescription": "200 OK", "headers": {"Content-Type": "application/json"},
                "body": body, "isBase64Encoded": False}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body, "isBase64Encoded": False}


def headers_of(answer: dict[str, Any]) -> dict[str, str]:
    out = {k.lower(): v[0] for k, v in (answer.get("multiValueHeaders") or {}).items() if v}
    out.update({k.lower(): v for k, v in (answer.get("headers") or {}).items()})
    return out


def check_shape(answer: Any, source: str, event: dict[str, Any], status: int) -> None:
    """The answer is one ``source`` accepts, with ``status``."""
    assert isinstance(answer, dict), answer
    assert answer.get("statusCode") == status, (answer.get("statusCode"), answer.get("body"))
    assert isinstance(answer.get("body"), str)
    assert isinstance(answer.get("isBase64Encoded", False), bool)
    single, multi = answer.get("headers"), answer.get("multiValueHeaders")
    if single is not None:
        assert isinstance(single, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in single.items()), single
    if multi is not None:
        assert isinstance(multi, dict)
        assert all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in multi.values()), multi
    if source == "alb":
        # ALB needs statusDescription, and in multi-value mode multiValueHeaders only (headers: 502).
        assert isinstance(answer.get("statusDescription"), str) and answer["statusDescription"].startswith(str(status))
        if alb_multi_value(event):
            assert "headers" not in answer and isinstance(multi, dict), answer
        else:
            assert "multiValueHeaders" not in answer and isinstance(single, dict), answer
    elif source == "vpc_lattice":
        assert isinstance(single, dict) and multi is None, answer
        assert isinstance(answer.get("statusDescription"), str) and answer["statusDescription"].startswith(str(status))
    elif source in ("http_api_v2", "function_url"):
        assert set(answer) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}, answer
    else:  # rest_api_v1, and a 400 for an unsupported event
        assert set(answer) <= {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}, answer
        assert isinstance(single, dict) or isinstance(multi, dict), answer


def refusal_reason(answer: dict[str, Any]) -> str | None:
    return headers_of(answer).get("x-clerk-auth-reason")


@pytest.fixture
def hidden_errors(caplog: pytest.LogCaptureFixture) -> Any:
    """Exceptions the gate turned into a 401 ("unexpected X while authenticating")."""
    caplog.set_level(logging.ERROR, logger="clerk_serverless")

    def found() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("clerk_serverless")]

    return found


def handler_for(decorator: Any, source: str, seen: dict[str, Any]) -> Any:
    @decorator
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["session"] = event["session"]
        return ok_answer(event, source)

    return handler


@pytest.fixture(scope="module")
def shared_jwks(signing_keys: dict[str, SigningKey]) -> Any:
    """One JWKS server for the module's thousands of cases (the key caches
    are still reset before each)."""
    server = JwksServer().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_clerk_api(signing_keys: dict[str, SigningKey]) -> Any:
    server = ClerkBackendApi().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()
    fail_on_violations(server)


@pytest.fixture
def make_auth(shared_jwks: JwksServer) -> Any:
    """``ClerkAuth`` on the shared JWKS, with the suite's test defaults."""
    return auth_factory(shared_jwks.url)


# -- 1. recognition ------------------------------------------------------------------


@pytest.mark.parametrize("entry", cases())
def test_recognised_as_the_source_aws_sends_it_from(entry: dict[str, Any]) -> None:
    assert recognised(load(entry)) in entry["expect"]


# -- 2. unchanged: 401 / 400, never an exception ----------------------------------------


MODES = ["require_session", "with_session", "require_auth_any", "trusting_authorizer"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("entry", cases())
def test_unchanged_event(
    make_auth: Any, hidden_errors: Any, shared_clerk_api: Any, entry: dict[str, Any], mode: str
) -> None:
    event = load(entry)
    source = recognised(event)
    if mode == "require_auth_any":  # opaque machine tokens go to (a loopback) Clerk
        auth: ClerkAuth = make_auth(secret_key=shared_clerk_api.secret_key, api_url=shared_clerk_api.url)
        decorator = auth.require_auth(accepts_token="any")
    else:
        auth = make_auth(trust_authorizer=mode == "trusting_authorizer")
        decorator = auth.with_session if mode == "with_session" else auth.require_session
    seen: dict[str, Any] = {}
    answer = handler_for(decorator, source, seen)(copy.deepcopy(event), None)
    assert hidden_errors() == []
    if source == "unsupported":
        check_shape(answer, source, event, 400)
        assert refusal_reason(answer) == "event-unsupported" and seen == {}
        return
    if is_preflight(event, source):
        check_shape(answer, source, event, 204)
        return
    if mode == "with_session":
        check_shape(answer, source, event, 200)
        assert seen["session"] is None
        return
    check_shape(answer, source, event, 401)
    assert seen == {}
    assert headers_of(answer)["www-authenticate"].startswith("Bearer")


# -- 3. a valid token, as the source carries it: the handler runs --------------------------


@pytest.mark.parametrize("via", ["bearer", "cookie"])
@pytest.mark.parametrize("entry", cases())
def test_valid_token_reaches_the_handler(make_auth: Any, key: SigningKey, hidden_errors: Any, entry: dict[str, Any], via: str) -> None:
    event = load(entry)
    source = recognised(event)
    auth: ClerkAuth = make_auth()
    for decorator in (auth.require_session, auth.with_session):
        seen: dict[str, Any] = {}
        handler = handler_for(decorator, source, seen)
        if source == "unsupported":
            answer = handler(copy.deepcopy(event), None)
            check_shape(answer, source, event, 400)
            assert seen == {}
            continue
        sent = with_token(event, source, mint(key), via)
        answer = handler(copy.deepcopy(sent), None)
        assert hidden_errors() == []
        if is_preflight(sent, source):
            check_shape(answer, source, sent, 204)
        elif via == "cookie" and cookie_write_refused(sent, source):
            status = 403 if decorator == auth.require_session else 200
            check_shape(answer, source, sent, status)
            assert seen.get("session") is None
        else:
            check_shape(answer, source, sent, 200)
            assert seen["session"].user_id == "user_2abc"


@pytest.mark.parametrize("entry", cases(http_only=True))
def test_cors_headers_keep_the_answer_in_the_source_format(make_auth: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    """A browser on the app's origin: the CORS grant lands in the field the source
    reads (ALB multi-value mode: multiValueHeaders only)."""
    event, source = supported(entry)
    sent = with_token(event, source, mint(key), "bearer")
    set_header(sent, source, "Origin", ORIGIN)
    seen: dict[str, Any] = {}
    answer = handler_for(make_auth().require_session, source, seen)(copy.deepcopy(sent), None)
    if is_preflight(sent, source):
        check_shape(answer, source, sent, 204)
        return
    check_shape(answer, source, sent, 200)
    if source in ("rest_api_v1", "alb", "vpc_lattice"):
        assert headers_of(answer)["access-control-allow-origin"] == ORIGIN


def set_method(event: dict[str, Any], source: str, method: str) -> None:
    if source in ("http_api_v2", "function_url"):
        event["requestContext"].setdefault("http", {})["method"] = method
    elif source == "vpc_lattice":
        event["method"] = method
    else:
        event["httpMethod"] = method
        if source == "rest_api_v1" and isinstance(event["requestContext"].get("httpMethod"), str):
            event["requestContext"]["httpMethod"] = method


def supported(entry: dict[str, Any]) -> tuple[dict[str, Any], str]:
    event = load(entry)
    source = recognised(event)
    if source == "unsupported":
        pytest.skip("unsupported event")
    return event, source


@pytest.mark.parametrize("entry", cases(http_only=True))
def test_preflight_is_answered_in_the_source_format(make_auth: Any, entry: dict[str, Any]) -> None:
    event, source = supported(entry)
    drop_header(event, "authorization")
    set_method(event, source, "OPTIONS")
    set_header(event, source, "Origin", ORIGIN)
    set_header(event, source, "Access-Control-Request-Method", "POST")
    set_header(event, source, "Access-Control-Request-Headers", "authorization,content-type")
    seen: dict[str, Any] = {}
    answer = handler_for(make_auth().require_session, source, seen)(copy.deepcopy(event), None)
    check_shape(answer, source, event, 204)
    assert seen == {}
    assert headers_of(answer)["access-control-allow-origin"] == ORIGIN


@pytest.mark.parametrize("entry", cases(http_only=True))
def test_cross_site_cookie_write_is_refused_in_the_source_format(make_auth: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    event, source = supported(entry)
    sent = with_token(event, source, mint(key), "cookie")
    set_method(sent, source, "POST")
    set_header(sent, source, "Origin", "https://evil.example")
    auth = make_auth()
    seen: dict[str, Any] = {}
    answer = handler_for(auth.require_session, source, seen)(copy.deepcopy(sent), None)
    check_shape(answer, source, sent, 403)
    assert refusal_reason(answer) == "origin-invalid" and seen == {}
    assert "access-control-allow-origin" not in headers_of(answer)
    answer = handler_for(auth.with_session, source, seen)(copy.deepcopy(sent), None)
    check_shape(answer, source, sent, 200)
    assert seen["session"] is None


@pytest.mark.parametrize("entry", cases(http_only=True))
def test_keys_unavailable_is_503_in_the_source_format(make_auth: Any, jwks: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    event, source = supported(entry)
    jwks.set("status", status=500)
    sent = with_token(event, source, mint(key), "bearer")
    auth = make_auth(jwks_url=jwks.url)
    seen: dict[str, Any] = {}
    answer = handler_for(auth.require_session, source, seen)(copy.deepcopy(sent), None)
    if is_preflight(sent, source):
        check_shape(answer, source, sent, 204)
        return
    check_shape(answer, source, sent, 503)
    assert int(headers_of(answer)["retry-after"]) >= 1 and seen == {}
    answer = handler_for(auth.with_session, source, seen)(copy.deepcopy(sent), None)
    check_shape(answer, source, sent, 200)
    assert seen["session"] is None


# -- 4. authorizer events ----------------------------------------------------------------


def authorizer_request(event: dict[str, Any], token: str | None) -> dict[str, Any]:
    event = copy.deepcopy(event)
    if event.get("type") == "TOKEN":
        event["authorizationToken"] = f"Bearer {token}" if token else ""
        return event
    drop_header(event, "authorization")
    if token:
        source = "http_api_v2" if event.get("version") == "2.0" else "rest_api_v1"
        set_header(event, source, "Authorization", f"Bearer {token}")
    return event


@pytest.mark.parametrize("entry", cases(AUTHORIZER_KINDS))
def test_authorizer_events(make_auth: Any, key: SigningKey, entry: dict[str, Any]) -> None:
    event = load(entry)
    authorize = make_authorizer(make_auth())
    v2 = event.get("version") == "2.0"
    allowed = authorize(authorizer_request(event, mint(key)), None)
    if v2:
        assert allowed["isAuthorized"] is True and allowed["context"]["user_id"] == "user_2abc"
        assert authorize(authorizer_request(event, None), None) == {"isAuthorized": False}
    else:
        assert allowed["principalId"] == "user_2abc"
        assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        with pytest.raises(Unauthorized):
            authorize(authorizer_request(event, None), None)


def test_the_corpus() -> None:
    """Every vendored event is in the manifest, and the corpus covers every source."""
    files = {str(p.relative_to(PUBLIC)) for p in PUBLIC.glob("*/*.json")}
    assert files == {e["file"] for e in MANIFEST}
    kinds = {s for e in MANIFEST for s in e["expect"]}
    assert set(SUPPORTED) | {"unsupported"} <= kinds
    assert all((PUBLIC / p.split("/")[0] / "SOURCES.md").exists() for p in files)


# -- 5. the ASGI adapter, on the scopes Mangum builds from these events --------------------


def _edge_request(event: dict[str, Any]) -> dict[str, Any] | None:
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and records and isinstance(records[0], dict) and "cf" in records[0]:
        return records[0]["cf"].get("request")
    return None


def with_asgi_token(event: dict[str, Any], source: str, token: str, via: str) -> dict[str, Any]:
    """The token added as the source carries it; Lambda@Edge (CloudFront) as its ``[{key, value}]`` lists."""
    edge = _edge_request(event)
    if edge is None:
        return with_token(event, source, token, via)
    event = copy.deepcopy(event)
    headers = _edge_request(event)["headers"]  # type: ignore[index]
    headers.pop("authorization", None)
    if via == "bearer":
        headers["authorization"] = [{"key": "Authorization", "value": f"Bearer {token}"}]
    else:
        headers.setdefault("cookie", []).append({"key": "Cookie", "value": f"__session={token}"})
    return event


def asgi_app(auth: ClerkAuth) -> Any:
    """ClerkMiddleware around an app answering every path and method with the session's user."""
    from clerk_serverless.integrations.asgi import ClerkMiddleware

    async def whoami(scope: Any, receive: Any, send: Any) -> None:
        session = scope.get("state", {}).get("session")
        body = json.dumps({"user_id": session.user_id if session else None}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    return ClerkMiddleware(whoami, auth=auth)


def mangum_reads(event: Any) -> bool:
    """Mangum has a handler for this event (API Gateway, HTTP API, Function URL, ALB, Lambda@Edge)."""
    from mangum.adapter import HANDLERS

    return isinstance(event, dict) and any(h.infer(event, {}, {"api_gateway_base_path": "/"}) for h in HANDLERS)


@pytest.mark.parametrize("via", [None, "bearer", "cookie"])
@pytest.mark.parametrize("entry", [c for c in cases() if mangum_reads(load(c.values[0]))])
def test_asgi_middleware_behind_mangum(make_auth: Any, key: SigningKey, entry: dict[str, Any], via: str | None) -> None:
    from mangum import Mangum

    event = load(entry)
    source = recognised(event)
    if entry["kind"] == "hybrid-v1-with-http-context" and via == "cookie":
        pytest.skip("Mangum reads this version 1.0 event's headers, where this test adds no cookie")
    handler = Mangum(asgi_app(make_auth()), lifespan="off")
    sent = event if via is None else with_asgi_token(event, source, mint(key), via)
    try:
        answer = handler(copy.deepcopy(sent), None)
    except Exception as exc:  # noqa: BLE001 - Mangum's own limits, not the middleware's
        pytest.skip(f"Mangum cannot turn this event into a scope: {type(exc).__name__}")
    edge = _edge_request(sent)
    status = int(answer["status"]) if edge else answer["statusCode"]  # CloudFront: "status": "200"
    method = edge.get("method") if edge else method_of(sent, source)
    if via is None:
        assert status == 401
    elif via == "cookie" and edge is None and cookie_write_refused(sent, source):
        assert status == 403
    else:
        assert status == 200, answer
        if method != "HEAD":
            assert json.loads(answer["body"]) == {"user_id": "user_2abc"}


@pytest.mark.parametrize("entry", cases(("websocket-authorizer",)))
def test_websocket_connect_with_the_cookie_needs_an_authorized_origin(
    make_auth: Any, key: SigningKey, entry: dict[str, Any]
) -> None:
    """A $connect handshake carrying only the session cookie is a cookie write:
    from a foreign origin (cross-site WebSocket hijacking) it is refused; from
    an authorized one, allowed."""
    authorize = make_authorizer(make_auth())
    for origin, allowed in ((ORIGIN, True), ("https://evil.example", False)):
        event = authorizer_request(load(entry), None)
        for field in ("headers", "multiValueHeaders"):
            for name in [n for n in (event.get(field) or {}) if n.lower() in ("origin", "cookie")]:
                del event[field][name]
        set_header(event, "rest_api_v1", "Origin", origin)
        set_header(event, "rest_api_v1", "Cookie", f"__session={mint(key)}")
        if allowed:
            assert authorize(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        else:
            assert authorize(event, None)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
