"""Red-team probes, round 21: this session's new code as an attacker sees it.

The ``Origin: null`` + ``Sec-Fetch-Site: same-origin`` cookie-write rule, the
async-def refusal at decoration, and the configuration errors' echo of what
was set. Tests named ``test_finding_*`` are attacks that succeeded on the
code as reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server,
real-shaped events, a real FastAPI app under Mangum, real boto3.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from mangum import Mangum
from support.calls import NOT_CALLED, call, recording_handler
from support.events import routed
from support.tokens import SigningKey, mint

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
    a docs page) that posts with its real ``Origin`` is refused. Under
    ``<meta name="referrer" content="no-referrer">`` (or ``fetch(…,
    {referrerPolicy: "no-referrer"})``) a browser sends the same write with
    ``Origin: null`` and ``Sec-Fetch-Site: same-origin``, and the new rule
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
