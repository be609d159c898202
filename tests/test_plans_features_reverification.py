"""Plans, features and reverification through the decorators: 403s with
their reason codes, and Clerk's reverification body that
``useReverification()`` recognises (@clerk/shared authorization-errors.ts:
``{"clerk_error": {"type": "forbidden", "reason": "reverification-error",
"metadata": {"reverification": <config>}}}``)."""

from __future__ import annotations

from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.events import SHAPES
from support.tokens import ORIGIN, SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError

BILLING = {"v": 2, "fea": "o:reservations,u:dashboard", "pla": "u:pro,o:business",
           "o": {"id": "org_1", "rol": "admin", "per": "read", "fpm": "1"}}


@pytest.fixture
def auth(make_auth: Any) -> ClerkAuth:
    return make_auth()


@pytest.mark.parametrize("shape", SHAPES)
def test_features_and_plans(auth: ClerkAuth, key: SigningKey, shape: str) -> None:
    token = mint(key, **BILLING)
    ok = recording_handler(auth.require_session(features=["org:reservations", "user:dashboard"], plans=["org:business", "org:enterprise"]))
    assert call(ok, shape, bearer=token).status == 200
    feature = recording_handler(auth.require_session(features=["org:dashboard"]))
    out = call(feature, shape, bearer=token)
    assert out.status == 403 and out.reason == "missing-feature" and out.session is NOT_CALLED
    plan = recording_handler(auth.require_session(plans=["user:business"]))
    assert call(plan, shape, bearer=token).reason == "missing-plan"


@pytest.mark.parametrize(
    "config,fva,status",
    [
        ("strict", [0, 5], 200),
        ("strict", [0, 10], 403),  # age == after_minutes is stale, as in @clerk/shared
        ("strict", [11, -1], 403),
        ("strict_mfa", [0, -1], 200),  # no second factor enrolled: the first one decides
        ("moderate", [59, 59], 200),
        ("lax", [1439, 2000], 403),
        ({"level": "first_factor", "after_minutes": 5}, [4, -1], 200),
        ({"level": "multi_factor", "after_minutes": 10}, [0, 11], 403),
        ("strict", None, 403),  # no fva: fails closed, as Clerk does
    ],
)
def test_reverification(auth: ClerkAuth, key: SigningKey, config: Any, fva: Any, status: int) -> None:
    handler = recording_handler(auth.require_session(reverification=config))
    token = mint(key, fva=fva) if fva is not None else mint(key)
    out = call(handler, "http_v2", bearer=token, origin=ORIGIN)
    assert out.status == status
    if status == 403:
        assert out.reason == "reverification-error"
        body = out.body
        assert body["clerk_error"]["type"] == "forbidden" and body["clerk_error"]["reason"] == "reverification-error"
        expected = config if isinstance(config, str) else {"level": config["level"], "afterMinutes": config["after_minutes"]}
        assert body["clerk_error"]["metadata"]["reverification"] == expected
        assert out.headers["content-type"] == "application/json"
        assert out.headers["access-control-allow-origin"] == ORIGIN  # the page can read it and prompt


def test_a_missing_permission_is_not_a_reverification_prompt(auth: ClerkAuth, key: SigningKey) -> None:
    handler = recording_handler(auth.require_session(permissions=["org:reports:read"], reverification="strict"))
    assert call(handler, "http_v2", bearer=mint(key, fva=[30, 30])).reason == "missing-permission"


@pytest.mark.parametrize("bad", ["strict-ish", {"level": "any level", "after_minutes": 10}, {"level": "first_factor", "after_minutes": 0},
                                 {"level": "first_factor", "afterMinutes": 10}, 10])
def test_bad_reverification_configs_fail_when_decorating(auth: ClerkAuth, bad: Any) -> None:
    with pytest.raises(ClerkConfigError) as info:
        auth.require_session(reverification=bad)
    assert info.value.setting == "reverification"


def test_machine_tokens_never_pass_session_requirements(make_auth: Any, key: SigningKey) -> None:
    # has() is always false for machines, so every one of these fails closed.
    import time

    from support.tokens import sign_raw

    auth = make_auth(secret_key="sk_test_unused")
    now = int(time.time())
    m2m = sign_raw(key, {"alg": "RS256", "kid": key.kid, "typ": "JWT"}, {"sub": "mch_1", "exp": now + 60, "iat": now})
    for options in ({"features": ["org:reservations"]}, {"plans": ["pro"]}, {"reverification": "lax"}):
        handler = recording_handler(auth.require_auth(accepts_token="m2m_token", **options))
        assert call(handler, "http_v2", bearer=m2m).status == 403, options
