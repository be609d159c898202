"""Token lookup and answers on every event shape."""

from __future__ import annotations

import json
import time
from http.cookies import SimpleCookie
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler, send_token
from support.events import SHAPES, base, make_event
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless.config import cookie_suffix
from clerk_serverless.sources import parse_cookies

PK = "pk_test_Y2xlcmsudGVzdC1pbnN0YW5jZS5leGFtcGxlJA"  # clerk.test-instance.example


@pytest.fixture
def guarded(make_auth: Any) -> Any:
    return recording_handler(make_auth().require_session)


# -- the Authorization header ---------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "aUtHoRiZaTiOn"])
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_header_name_and_scheme_are_case_insensitive(guarded: Any, key: SigningKey, shape: str, name: str, scheme: str) -> None:
    event = make_event(shape, headers={name: f"{scheme} {mint(key)}"})
    if shape == "rest_v1":  # API Gateway keeps the client's casing in both maps
        assert name in event["headers"] and name in event["multiValueHeaders"]
    assert call(guarded, shape, event).status == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_other_scheme_does_not_hide_a_valid_cookie(guarded: Any, key: SigningKey, shape: str) -> None:
    out = call(guarded, shape, headers={"Authorization": "Basic dXNlcjpwYXNz"}, cookies=[f"__session={mint(key)}"])
    assert out.status == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_empty_bearer_falls_back_to_the_cookie(guarded: Any, key: SigningKey, shape: str) -> None:
    out = call(guarded, shape, headers={"Authorization": "Bearer "}, cookies=[f"__session={mint(key)}"])
    assert out.status == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_bearer_takes_precedence_over_the_cookie(guarded: Any, key: SigningKey, signing_keys: Any, shape: str) -> None:
    forged = mint(signing_keys["attacker"], {"kid": key.kid})
    out = call(guarded, shape, bearer=forged, cookies=[f"__session={mint(key)}"])
    assert out.status == 401 and out.reason == "token-invalid-signature"


@pytest.mark.parametrize("shape", SHAPES)
def test_no_token_is_401_session_token_missing(guarded: Any, shape: str) -> None:
    out = call(guarded, shape, cookies=["theme=dark"])
    assert out.status == 401
    assert out.reason == "session-token-missing"
    assert out.headers["www-authenticate"] == "Bearer"
    assert out.session is NOT_CALLED


# -- cookies ------------------------------------------------------------------------


def test_simplecookie_would_lose_the_session_next_to_a_bad_pair(key: SigningKey) -> None:
    header = f'theme="dark; bad\\x; __session={mint(key)}; a=b'
    assert "__session" not in SimpleCookie(header)  # why we parse cookies ourselves
    assert parse_cookies([header])["__session"].count(".") == 2


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "neighbours",
    [
        ['bad"cookie', "novalue", "=nameless"],
        ["a=b=c", "x=\x01\x02", "ünï=cödé"],
        ["__session=", "__sessionx=junk"],
        ['quoted="v;al"'],
    ],
)
def test_malformed_cookie_pairs_do_not_hide_the_session(guarded: Any, key: SigningKey, shape: str, neighbours: list[str]) -> None:
    token = mint(key)
    cookies = neighbours[:1] + [f"__session={token}"] + neighbours[1:]
    if neighbours[0].startswith("__session="):  # an empty __session must not win either
        cookies = [f"__session={token}"] + neighbours
    assert call(guarded, shape, cookies=cookies).status == 200


def test_cookie_values_keep_their_quotes(key: SigningKey) -> None:
    """As the ``cookie`` package 1.x @clerk/backend 3.x parses them (found by
    tests/test_differential_clerk_backend.py): quotes are part of the value,
    so a quoted session cookie is no token, and a quoted ``__client_uat``
    reads as 0 (``Number.parseInt('"1"')`` is NaN)."""
    token = mint(key)
    assert parse_cookies([f'__session="{token}"'])["__session"] == f'"{token}"'
    assert parse_cookies(['__client_uat="1700000000"'])["__client_uat"] == '"1700000000"'
    # only spaces and tabs are trimmed, around names and values
    assert parse_cookies([" \t__session \t= \tabc\t ;x=\x0b1\x0b"]) == {"__session": "abc", "x": "\x0b1\x0b"}


@pytest.mark.parametrize("shape", ["rest_v1", "alb_multi"])
def test_session_cookie_on_a_second_cookie_header_line(guarded: Any, key: SigningKey, shape: str) -> None:
    event = make_event(shape, cookies=["theme=dark"])
    name = "Cookie" if shape == "rest_v1" else "cookie"
    event["multiValueHeaders"][name] = ["theme=dark", f"__session={mint(key)}"]
    if shape == "rest_v1":
        event["headers"][name] = "theme=dark"  # API Gateway keeps only one line here
    assert call(guarded, shape, event).status == 200


@pytest.mark.parametrize("shape", ["http_v2", "function_url"])
def test_v2_cookies_arrive_in_their_own_array(guarded: Any, key: SigningKey, shape: str) -> None:
    event = make_event(shape, cookies=["theme=dark", f"__session={mint(key)}"])
    assert "cookie" not in event["headers"]
    assert call(guarded, shape, event).status == 200


@pytest.mark.parametrize("shape", SHAPES)
def test_suffixed_session_cookie_is_preferred(make_auth: Any, key: SigningKey, signing_keys: Any, shape: str) -> None:
    handler = recording_handler(make_auth(publishable_key=PK).require_session)
    iat = int(time.time()) - 5  # one iat: a plain cookie newer than the suffixed one would be chosen over it
    good, bad = mint(key, iat=iat), mint(signing_keys["attacker"], {"kid": key.kid}, iat=iat)
    suffix = cookie_suffix(PK)
    uats = [f"__client_uat_{suffix}=1", "__client_uat=1"]
    assert call(handler, shape, cookies=[f"__session={bad}", f"__session_{suffix}={good}", *uats]).status == 200
    assert call(handler, shape, cookies=[f"__session_{suffix}={bad}", f"__session={good}", *uats]).status == 401
    assert call(handler, shape, cookies=[f"__session={good}"]).status == 200  # older instances: plain name
    # A suffixed session without its suffixed __client_uat: Clerk reads the plain pair.
    assert call(handler, shape, cookies=[f"__session={bad}", f"__session_{suffix}={good}"]).status == 401


def test_cookie_suffix_matches_clerk_shared() -> None:
    # Vectors from @clerk/shared's keys tests.
    assert cookie_suffix("pk_live_Y2xlcmsuY2xlcmsuZGV2JA") == "1Z8AzTQD"
    assert cookie_suffix("pk_test_Y2xlcmsuY2xlcmsuZGV2JA") == "QvfNY2dr"


# -- __client_uat ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "uat,status",
    [
        ("0", "session-token-but-no-client-uat"),  # signed out in another tab
        ("garbage", "session-token-but-no-client-uat"),  # read as Number.parseInt does: 0
        (lambda iat: str(iat + 30), "session-token-iat-before-client-uat"),  # signed in again after this token
        (lambda iat: f"{iat + 30}abc", "session-token-iat-before-client-uat"),  # parseInt keeps the digits
        (lambda iat: str(iat - 30), None),
        (lambda iat: str(iat), None),
        (None, None),  # cross-origin APIs often never receive it: tolerated (deliberately)
    ],
)
def test_client_uat_on_the_cookie_path(guarded: Any, key: SigningKey, shape: str, uat: Any, status: Any) -> None:
    iat = int(time.time()) - 60
    token = mint(key, iat=iat)
    cookies = [f"__session={token}"]
    if uat is not None:
        cookies.append(f"__client_uat={uat(iat) if callable(uat) else uat}")
    out = call(guarded, shape, cookies=cookies)
    reason = status
    assert out.status == (200 if reason is None else 401)
    if reason is not None:
        assert out.reason == reason


@pytest.mark.parametrize("shape", SHAPES)
def test_client_uat_does_not_apply_to_bearer_tokens(guarded: Any, key: SigningKey, shape: str) -> None:
    assert call(guarded, shape, bearer=mint(key), cookies=["__client_uat=0"]).status == 200


def test_suffixed_client_uat_is_preferred(make_auth: Any, key: SigningKey) -> None:
    handler = recording_handler(make_auth(publishable_key=PK).require_session)
    iat = int(time.time()) - 60
    token, suffix = mint(key, iat=iat), cookie_suffix(PK)
    cookies = [f"__session_{suffix}={token}", "__client_uat=0", f"__client_uat_{suffix}={iat - 10}"]
    assert call(handler, "http_v2", cookies=cookies).status == 200
    cookies = [f"__session_{suffix}={token}", f"__client_uat={iat - 10}", f"__client_uat_{suffix}=0"]
    assert call(handler, "http_v2", cookies=cookies).status == 401


# -- multi-session -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("via", ["bearer", "cookie"])
def test_clerk_session_id_must_match_sid(guarded: Any, key: SigningKey, shape: str, via: str) -> None:
    token = mint(key, sid="sess_active")
    assert send_token(guarded, shape, token, via, query={"_clerk_session_id": "sess_active"}).status == 200
    out = send_token(guarded, shape, token, via, query={"_clerk_session_id": "sess_other"})
    assert out.status == 401 and out.reason == "session-id-mismatch"


def _repeat_in_query(shape: str, event: dict[str, Any], name: str, values: list[str]) -> dict[str, Any]:
    """``?name=v1&name=v2…`` as each source carries a repeated parameter."""
    if shape in ("http_v2", "function_url"):  # one value, the repeats joined by commas
        event["queryStringParameters"] = {name: ",".join(values)}
        event["rawQueryString"] = "&".join(f"{name}={v}" for v in values)
    elif shape == "rest_v1":  # the last value, and all of them
        event["queryStringParameters"] = {name: values[-1]}
        event["multiValueQueryStringParameters"] = {name: list(values)}
    elif shape == "alb_multi":
        event["multiValueQueryStringParameters"] = {name: list(values)}
    elif shape == "vpc_lattice_v2":
        event["queryStringParameters"] = {name: list(values)}
    return event


@pytest.mark.parametrize("shape", ["rest_v1", "http_v2", "function_url", "alb_multi", "vpc_lattice_v2"])
def test_repeated_clerk_session_id_is_judged_alike_on_every_source(guarded: Any, key: SigningKey, shape: str) -> None:
    """A page appending _clerk_session_id twice passes everywhere; another
    session among the values is refused everywhere, first or not."""
    token = mint(key, sid="sess_active")
    for values, status in ((["sess_active", "sess_active"], 200), (["sess_active", ""], 200),
                           (["sess_active", "sess_other"], 401), (["sess_other", "sess_active"], 401)):
        out = call(guarded, shape, _repeat_in_query(shape, make_event(shape, bearer=token), "_clerk_session_id", values))
        assert out.status == status, (values, out)
        if status == 401:
            assert out.reason == "session-id-mismatch"


# -- answers in each source's format ---------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_refusals_use_the_source_format(guarded: Any, shape: str) -> None:
    out = call(guarded, shape)
    response = out.response
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"])["reason"] == "session-token-missing"
    if shape.startswith("alb"):
        assert response["statusDescription"] == "401 Unauthorized"
    if shape == "alb_multi":
        assert set(response) == {"statusCode", "statusDescription", "multiValueHeaders", "body", "isBase64Encoded"}
        assert all(isinstance(v, list) for v in response["multiValueHeaders"].values())
    else:
        assert "multiValueHeaders" not in response and isinstance(response["headers"], dict)


@pytest.mark.parametrize("shape", SHAPES)
def test_cors_on_refusals_for_authorized_origins_only(guarded: Any, shape: str) -> None:
    allowed = call(guarded, shape, origin=ORIGIN).headers
    assert allowed["access-control-allow-origin"] == ORIGIN
    assert allowed["access-control-allow-credentials"] == "true"
    assert allowed["vary"] == "Origin"
    assert "x-clerk-auth-reason" in allowed["access-control-expose-headers"]
    other = call(guarded, shape, origin="https://evil.example").headers
    assert "access-control-allow-origin" not in other
    assert all(v != "*" for v in allowed.values())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decorator", ["require_session", "with_session"])
def test_preflight_is_answered_without_calling_the_handler(make_auth: Any, shape: str, decorator: str) -> None:
    handler = recording_handler(getattr(make_auth(), decorator))
    out = call(handler, shape, method="OPTIONS", origin=ORIGIN, headers={"Access-Control-Request-Method": "GET"})
    assert out.status == 204 and out.session is NOT_CALLED
    assert out.headers["access-control-allow-origin"] == ORIGIN
    assert out.headers["access-control-allow-credentials"] == "true"


# -- events that are not HTTP requests, or are broken -------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": [{"eventSource": "aws:sqs", "body": "{}"}]},
        {"Records": [{"eventSource": "aws:s3"}]},
        {"detail-type": "Scheduled Event", "source": "aws.events"},
        # A WebSocket message as the .NET SDK serialises it: null for REST fields WebSocket events lack.
        {"httpMethod": None, "path": None, "headers": None, "body": "{}",
         "requestContext": {"eventType": "MESSAGE", "routeKey": "$default", "connectionId": "amJTNfeGLAMCLCQ=", "httpMethod": None}},
    ],
    ids=["empty", "sqs", "s3", "eventbridge", "websocket-null-httpmethod"],
)
def test_non_http_events_get_a_400(guarded: Any, event: dict[str, Any]) -> None:
    response = guarded(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["reason"] == "event-unsupported"
    assert "session" not in guarded.seen


@pytest.mark.parametrize("event", [None, [], "GET /", 42])
def test_non_object_events_get_a_400(guarded: Any, event: Any) -> None:
    response = guarded(event, None)
    assert response["statusCode"] == 400


@pytest.mark.parametrize(
    "shape,breakage",
    [
        ("http_v2", lambda e: e.update(headers=["authorization", "x"])),
        ("http_v2", lambda e: e.update(cookies="__session=x")),
        ("http_v2", lambda e: e.update(cookies=[1, 2])),
        ("http_v2", lambda e: e["headers"].update(authorization=42)),
        ("http_v2", lambda e: e.update(requestContext="nope")),
        ("rest_v1", lambda e: e.update(multiValueHeaders={"Authorization": "Bearer x"})),
        ("rest_v1", lambda e: e.update(headers="Authorization: Bearer x")),
        ("rest_v1", lambda e: e.update(httpMethod=7)),
        ("alb", lambda e: e.update(headers=None, multiValueHeaders=None, queryStringParameters=[1])),
        ("alb_multi", lambda e: e["multiValueHeaders"].update(cookie="__session=x")),
    ],
)
def test_malformed_http_events_get_a_400_in_their_format(guarded: Any, shape: str, breakage: Any) -> None:
    event = make_event(shape, query={"_clerk_session_id": "sess_1"})
    breakage(event)
    response = guarded(event, None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["reason"] == "event-malformed"
    if shape == "alb_multi":
        assert "multiValueHeaders" in response and "headers" not in response


@pytest.mark.parametrize("shape", SHAPES)
def test_null_fields_are_absent_not_malformed(guarded: Any, key: SigningKey, shape: str) -> None:
    event = base(shape)
    for field in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters", "stageVariables", "body"):
        if field in event:
            event[field] = None
    event = make_event(shape, bearer=mint(key)) | {k: v for k, v in event.items() if v is None}
    assert call(guarded, shape, event).status == 200


def test_alb_query_values_are_percent_decoded(guarded: Any, key: SigningKey) -> None:
    token = mint(key, sid="sess_a+b")
    event = make_event("alb", bearer=token, query={"_clerk_session_id": "sess_a%2Bb"})
    assert call(guarded, "alb", event).status == 200
