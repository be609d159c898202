"""No token, secret key or cookie value in any log line, stdlib logging or
Powertools Logger, through the whole attack corpus on every shape."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from support.calls import call, recording_handler
from support.events import SHAPES
from support.tokens import ORIGIN, SigningKey, mint
from test_attacks import CORPUS

from clerk_serverless import ClerkAuth

SECRET = "sk_test_MUSTNEVERAPPEAR0123"
COOKIE_VALUE = "theme-value-NEVERLOGGED"


def _fragments(secret: str) -> list[str]:
    """Pieces long enough to recognise in a log line (JWT segments, or the whole value)."""
    parts = [p for p in secret.split(".") if len(p) >= 12]
    return parts or ([secret] if len(secret) >= 12 else [])


def test_no_secret_material_in_any_log(jwks: Any, signing_keys: dict[str, SigningKey], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    logger = Logger(service="no-secrets", level="DEBUG", logger_handler=logging.StreamHandler(stream))
    auth = ClerkAuth(jwks_url=jwks.url, secret_key=SECRET, authorized_parties=[ORIGIN], logger=logger, api_url=jwks.base_url)
    guarded = recording_handler(auth.require_session)
    maybe = recording_handler(auth.with_session)
    presented: list[str] = [SECRET, COOKIE_VALUE]
    for _, factory, _ in CORPUS:
        token = factory(signing_keys)
        presented.append(token)
        for shape in SHAPES:
            for handler in (guarded, maybe):
                call(handler, shape, bearer=token, origin=ORIGIN, cookies=[f"prefs={COOKIE_VALUE}"])
                call(handler, shape, cookies=[f"__session={token}", f"prefs={COOKIE_VALUE}", "__client_uat=0"])
    good = mint(signing_keys["current"])
    presented.append(good)
    for shape in SHAPES:
        call(guarded, shape, bearer=good, cookies=[f"prefs={COOKIE_VALUE}"])
    jwks.set("status", status=500)
    outage = ClerkAuth(jwks_url=jwks.url + "?other", secret_key=SECRET, logger=logger)
    call(recording_handler(outage.require_session), "http_v2", bearer=good)
    guarded({"Records": [{"body": good}]}, None)

    text = stream.getvalue() + caplog.text + repr([r.__dict__ for r in caplog.records])
    assert "clerk auth" in stream.getvalue() and "jwk-remote-failed-to-load" in text  # the logs did record things
    for secret in presented:
        for fragment in _fragments(secret):
            assert fragment not in text, f"a fragment of {secret[:12]}… was logged"
