"""Red-team probes, round 21: this session's new code as an attacker sees it.

The ``Origin: null`` + ``Sec-Fetch-Site: same-origin`` cookie-write rule, the
async-def refusal at decoration, and the configuration errors' echo of what
was set. Tests named ``test_finding_*`` are attacks that succeeded on the
code as reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server,
real-shaped events, a real FastAPI app under Mangum, real boto3.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from mangum import Mangum
from support.calls import NOT_CALLED, call, recording_handler
from support.events import make_event, routed
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.integrations.fastapi import require_clerk_session

API_HOST = "api.example.com"  # the API's own origin; the app (ORIGIN) is the one authorized party


def _cookie_post(shape: str, token: str, host: str, origin: str = "null") -> dict[str, Any]:
    return routed(shape, method="POST", origin=origin, cookies=[f"__session={token}"],
                      headers={"Host": host, "X-Forwarded-Proto": "https", "Sec-Fetch-Site": "same-origin"})


# =========================================================================================
# 1. Origin: null + Sec-Fetch-Site: same-origin from an origin that is no authorized party
# =========================================================================================


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi", "function_url"])
def test_finding_a_page_of_an_unauthorized_api_origin_writes_by_hiding_its_origin(
    make_auth: Any, key: SigningKey, shape: str
) -> None:
    """The API is served from api.example.com, which the deployer did not
    list as an authorized party (only the app, https://app.example.com):
    anything on the API's origin (a user upload behind the same distribution,
    a docs page) that posts with its real ``Origin`` is refused. A form it
    posts under ``<meta name="referrer" content="no-referrer">`` reaches the
    API with ``Origin: null`` and ``Sec-Fetch-Site: same-origin`` (headless
    Chromium; its srcdoc frames too; fetch sends the real origin), and the new rule
    let it through with the victim's cookie. It now passes only when the
    request's own origin (``Host`` under ``X-Forwarded-Proto``) is an
    authorized party."""
    handler = recording_handler(make_auth().require_session)
    token = mint(key)
    hidden = call(handler, shape, _cookie_post(shape, token, API_HOST))
    assert (hidden.status, hidden.reason, hidden.session) == (403, "origin-invalid", NOT_CALLED)
    told = call(handler, shape, _cookie_post(shape, token, API_HOST, origin=f"https://{API_HOST}"))
    assert (told.status, told.session) == (403, NOT_CALLED)
    # served from the authorized origin itself, the no-referrer form post still runs
    same = call(handler, shape, _cookie_post(shape, token, "app.example.com"))
    assert same.status == 200 and same.session is not NOT_CALLED
    # a scheme the party does not name is another origin
    plain = _cookie_post(shape, token, "app.example.com")
    for headers in (plain.get("headers") or {}, plain.get("multiValueHeaders") or {}):
        for name in list(headers):
            if name.lower() == "x-forwarded-proto":
                headers[name] = ["http"] if isinstance(headers[name], list) else "http"
    assert call(handler, shape, plain).status == 403


def test_finding_the_unauthorized_api_origin_through_fastapi_under_mangum(make_auth: Any, key: SigningKey) -> None:
    """The same write through a FastAPI dependency under Mangum."""
    ran: list[str] = []
    app = FastAPI()
    clerk_session = require_clerk_session(auth=make_auth())

    @app.post("/me")
    def me(session: Any = Depends(clerk_session)) -> dict[str, str]:
        ran.append(session.user_id)
        return {"user_id": session.user_id}

    handler = Mangum(app, lifespan="off")
    token = mint(key)
    refused = handler(_cookie_post("http_v2", token, API_HOST), None)
    assert refused["statusCode"] == 403 and json.loads(refused["body"])["detail"]["reason"] == "origin-invalid"
    assert ran == []
    assert handler(_cookie_post("http_v2", token, "app.example.com"), None)["statusCode"] == 200 and ran


def test_without_authorized_parties_a_same_origin_null_write_still_runs(make_auth: Any, key: SigningKey) -> None:
    """With no parties every origin may call; the no-referrer form post runs
    whatever the Host."""
    handler = recording_handler(make_auth(authorized_parties=None).require_session)
    out = call(handler, "http_v2", _cookie_post("http_v2", mint(key, azp=None), API_HOST))
    assert out.status == 200 and out.session is not NOT_CALLED


# =========================================================================================
# 2. async handlers the decoration-time check did not see
# =========================================================================================


async def _async_handler(event: Any, context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": "{}"}


class _AsyncCallable:
    async def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "{}"}


class _SyncCallable:
    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "{}"}


@pytest.mark.parametrize("name", ["partial", "partial of a partial", "callable object", "staticmethod"])
def test_finding_async_handlers_behind_a_wrapper_answered_unawaited_coroutines(
    make_auth: Any, key: SigningKey, name: str
) -> None:
    """``functools.partial(async_handler, …)``, an instance with ``async def
    __call__`` and a ``staticmethod`` object have no ``__code__`` of their
    own: they were decorated, and every admitted request answered an
    unawaited coroutine (a 502 from Lambda's runtime). Refused at decoration."""
    fn = {
        "partial": functools.partial(_async_handler),
        "partial of a partial": functools.partial(functools.partial(_async_handler)),
        "callable object": _AsyncCallable(),
        "staticmethod": staticmethod(_async_handler),
    }[name]
    auth = make_auth()
    for decorator in (auth.require_session, auth.with_session, auth.require_auth, auth.with_auth):
        with pytest.raises(TypeError, match="synchronous handler"):
            decorator(fn)


def test_synchronous_wrappers_still_decorate_and_run(make_auth: Any, key: SigningKey) -> None:
    auth = make_auth()
    for fn in (_SyncCallable(), functools.partial(_SyncCallable())):
        handler = auth.require_session(fn)
        assert handler(make_event("http_v2", bearer=mint(key)), None)["statusCode"] == 200


# =========================================================================================
# 3. configuration errors that echoed a secret, or raised something else
# =========================================================================================


WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize("setting", ["authorized_parties", "issuer"])
def test_finding_a_webhook_signing_secret_is_echoed_by_config_errors(
    key: SigningKey, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook signing secret pasted into the wrong setting (or variable)
    was quoted whole in the ClerkConfigError, which reaches the logs; the
    other secrets (sk_…, ak_…, tokens) were already withheld."""
    from clerk_serverless.config import ENV

    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwt_key=key.public_pem, **{setting: WEBHOOK_SECRET})
    assert "MfKQ9r8" not in str(info.value) and setting in str(info.value)
    monkeypatch.setenv(ENV[setting], WEBHOOK_SECRET)
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwt_key=key.public_pem)
    assert "MfKQ9r8" not in str(info.value) and ENV[setting] in str(info.value)


@pytest.mark.parametrize("setting", ["secret_key_parameter", "secret_key_secret_id"])
def test_finding_a_secret_in_the_aws_name_settings_is_echoed(
    key: SigningKey, setting: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The SSM parameter / Secrets Manager secret name is quoted in the error
    when boto3 cannot read it; a webhook secret or a token set there (only
    sk_/ak_ keys were caught before) was quoted whole."""
    pytest.importorskip("boto3")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    token = mint(key)
    for value in (WEBHOOK_SECRET, token):
        with pytest.raises(ClerkConfigError) as info:
            ClerkAuth(**{setting: value})
        text = str(info.value)
        assert setting in text and "MfKQ9r8" not in text and token.split(".")[1][:20] not in text


@pytest.mark.parametrize("setting", ["clock_skew", "jwks_cache_ttl", "fetch_timeout", "unknown_kid_cooldown"])
def test_finding_an_int_beyond_a_float_raises_overflow_error(key: SigningKey, setting: str) -> None:
    """``math.isfinite(10**400)`` raises OverflowError: a ClerkConfigError
    naming the option instead."""
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwt_key=key.public_pem, **{setting: 10**400})
    assert setting in str(info.value)
