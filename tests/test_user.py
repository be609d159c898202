"""session.user(): the Rack middleware's lazy user, against a loopback Backend API
that answers as Clerk's spec says (support.clerk_api, the ``clerk_api`` fixture)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.calls import recording_handler, send_token
from support.clerk_api import ClerkBackendApi
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.errors import ClerkAPIError, ClerkUnavailableError, UserNotFoundError


@pytest.fixture
def user(clerk_api: ClerkBackendApi) -> dict[str, Any]:
    # the subject of mint()'s tokens
    return clerk_api.add_user("user_2abc", first_name="Ada", last_name="Lovelace", public_metadata={"plan": "pro"})


@pytest.fixture
def auth(key: SigningKey, clerk_api: ClerkBackendApi) -> ClerkAuth:
    # Networkless verification with the PEM; the secret key only serves user().
    return ClerkAuth(jwt_key=key.public_pem, secret_key=clerk_api.secret_key, api_url=clerk_api.url, fetch_timeout=1.0)


def test_user_is_fetched_on_first_access_only(auth: ClerkAuth, key: SigningKey, clerk_api: ClerkBackendApi, user: dict[str, Any]) -> None:
    seen: dict[str, Any] = {}

    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        session = event["session"]
        seen["first"], seen["again"] = session.user(), session.user()
        return {"statusCode": 200, "body": ""}

    token = mint(key)
    assert send_token(handler, "http_v2", token).status == 200
    assert seen["first"] == user and seen["again"] is seen["first"]
    assert clerk_api.paths() == ["/v1/users/user_2abc"]
    send_token(handler, "http_v2", token)  # the next invocation fetches again (cached per invocation)
    assert clerk_api.count("GetUser") == 2


def test_requests_that_never_ask_cost_nothing(auth: ClerkAuth, key: SigningKey, clerk_api: ClerkBackendApi, user: dict[str, Any]) -> None:
    handler = recording_handler(auth.require_session)
    assert send_token(handler, "http_v2", mint(key)).status == 200
    assert clerk_api.calls == []


@pytest.mark.parametrize(
    "mode,settings,error",
    [
        ("status", {"status": 503}, ClerkUnavailableError),
        ("status", {"status": 429}, ClerkUnavailableError),
        ("status", {"status": 403}, ClerkAPIError),
        ("garbage", {}, ClerkUnavailableError),
        ("slow", {"delay": 2.0}, ClerkUnavailableError),
    ],
)
def test_backend_api_failures_are_typed_errors(auth: ClerkAuth, key: SigningKey, clerk_api: ClerkBackendApi, user: dict[str, Any], mode: str, settings: dict[str, Any], error: type[Exception]) -> None:
    clerk_api.fault("GetUser", mode, **settings)
    session = auth.verify_token(mint(key))
    started = time.monotonic()
    with pytest.raises(error) as info:
        session.user()
    assert time.monotonic() - started < 1.8  # fetch_timeout=1.0 is honoured
    assert clerk_api.secret_key not in str(info.value)


def test_unknown_user_and_unreachable_api(key: SigningKey, clerk_api: ClerkBackendApi) -> None:
    # no user registered
    auth = ClerkAuth(jwt_key=key.public_pem, secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    with pytest.raises(UserNotFoundError):
        auth.verify_token(mint(key)).user()
    clerk_api.stop()
    with pytest.raises(ClerkUnavailableError):
        auth.verify_token(mint(key, sid="sess_other")).user()


def test_user_needs_the_secret_key(key: SigningKey) -> None:
    session = ClerkAuth(jwt_key=key.public_pem).verify_token(mint(key))
    with pytest.raises(ClerkConfigError) as info:
        session.user()
    assert info.value.setting == "secret_key"
