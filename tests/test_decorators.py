"""The decorators' contract: forms, wrapping, with_session, the token cache, logs."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler, send_token
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, Session


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


def test_bare_and_called_forms(auth: ClerkAuth, key: SigningKey) -> None:
    for decorator in (auth.require_session, auth.require_session(), auth.require_session(authorized_parties=[ORIGIN])):
        handler = recording_handler(decorator)
        assert call(handler, "http_v2", bearer=mint(key)).status == 200


def test_wrapping_keeps_metadata(auth: ClerkAuth) -> None:
    def handler(event: Any, context: Any) -> Any:
        """Docs."""

    wrapped = auth.require_session(handler)
    assert wrapped.__name__ == "handler" and wrapped.__doc__ == "Docs." and wrapped.__wrapped__ is handler


def test_any_callable_is_accepted(auth: ClerkAuth, key: SigningKey) -> None:
    class AsgiAdapter:  # shaped like Mangum: a callable instance without __name__
        def __init__(self) -> None:
            self.seen: Any = None

        def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
            self.seen = event["session"]
            return {"statusCode": 200, "body": "ok"}

    adapter = AsgiAdapter()
    handler = auth.require_session(adapter)
    assert handler.__wrapped__ is adapter
    assert handler({"version": "2.0", "headers": {"authorization": f"Bearer {mint(key)}"}, "requestContext": {"http": {"method": "GET"}}}, None)["statusCode"] == 200
    assert isinstance(adapter.seen, Session)


def test_context_is_passed_through(auth: ClerkAuth, key: SigningKey) -> None:
    context = object()

    @auth.require_session
    def handler(event: Any, ctx: Any) -> Any:
        assert ctx is context
        return {"statusCode": 204, "body": ""}

    assert handler({"version": "2.0", "headers": {"authorization": f"Bearer {mint(key)}"}}, context)["statusCode"] == 204


def test_handler_exceptions_are_not_swallowed(auth: ClerkAuth, key: SigningKey) -> None:
    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        raise RuntimeError("the handler's own bug")

    with pytest.raises(RuntimeError):
        handler({"version": "2.0", "headers": {"authorization": f"Bearer {mint(key)}"}}, None)


def test_with_session_runs_the_handler_in_every_case(auth: ClerkAuth, key: SigningKey, signing_keys: Any, jwks: Any) -> None:
    handler = recording_handler(auth.with_session)
    assert call(handler, "http_v2", bearer=mint(key)).session.user_id == "user_2abc"
    assert call(handler, "http_v2").session is None
    assert call(handler, "http_v2", bearer=mint(signing_keys["attacker"], {"kid": key.kid})).session is None


def test_with_session_serves_signed_out_during_a_cold_outage(make_auth: Any, key: SigningKey, jwks: Any) -> None:
    jwks.set("status", status=503)
    out = call(recording_handler(make_auth().with_session), "http_v2", bearer=mint(key))
    assert out.status == 200 and out.session is None


# -- the verified-token cache ------------------------------------------------------------


def test_cache_hits_still_check_expiry(jwks: Any, key: SigningKey) -> None:
    now = [time.time()]
    auth = ClerkAuth(jwks_url=jwks.url, clock=lambda: now[0])
    handler = recording_handler(auth.require_session)
    token = mint(key, exp=int(now[0]) + 30)
    assert send_token(handler, "http_v2", token).status == 200
    now[0] += 40
    out = send_token(handler, "http_v2", token)
    assert out.status == 401 and out.reason == "token-expired"


def test_cache_hits_still_check_per_decorator_rules(auth: ClerkAuth, key: SigningKey) -> None:
    token = mint(key, azp=ORIGIN, sid="sess_1")
    open_handler = recording_handler(auth.require_session)
    admin_only = recording_handler(auth.require_session(authorized_parties=["https://admin.example.com"]))
    assert send_token(open_handler, "http_v2", token).status == 200
    assert send_token(admin_only, "http_v2", token).reason == "token-invalid-authorized-parties"
    assert send_token(open_handler, "http_v2", token, query={"_clerk_session_id": "sess_2"}).reason == "session-id-mismatch"
    assert send_token(open_handler, "http_v2", token, via="cookie", cookies=["__client_uat=0"]).status == 401


def test_cache_is_bounded(jwks: Any, key: SigningKey) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, token_cache_size=8)
    for i in range(50):
        auth.verify_token(mint(key, sid=f"sess_{i}"))
        assert len(auth.verifier.cache) <= 8


def test_cache_can_be_disabled(jwks: Any, key: SigningKey) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, token_cache_size=0)
    token = mint(key)
    assert auth.verify_token(token).user_id == auth.verify_token(token).user_id
    assert len(auth.verifier.cache) == 0


# -- logs never carry a token -------------------------------------------------------------


def test_logs_never_carry_tokens_or_cookies(make_auth: Any, key: SigningKey, signing_keys: Any, jwks: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    handler = recording_handler(make_auth().require_session)
    tokens = [mint(key), mint(signing_keys["attacker"], {"kid": key.kid}), mint(key, exp=1, iat=0), "garbage1.garbage2.garbage3"]
    for token in tokens:
        send_token(handler, "http_v2", token)
        send_token(handler, "rest_v1", token, via="cookie")
    jwks.set("status", status=500)
    send_token(recording_handler(ClerkAuth(jwks_url=jwks.url + "?x").require_session), "http_v2", tokens[0])
    handler({"Records": [{"body": tokens[0]}]}, None)
    text = caplog.text + json.dumps([r.args for r in caplog.records], default=str)
    for token in tokens:
        for part in token.split("."):
            assert len(part) < 5 or part not in text


def test_refused_requests_never_reach_the_handler(auth: ClerkAuth) -> None:
    handler = recording_handler(auth.require_session)
    assert call(handler, "http_v2", bearer="x.y.z").session is NOT_CALLED
