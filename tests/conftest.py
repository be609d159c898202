"""Fixtures: generated RSA keys, a loopback JWKS server, fresh key caches,
a headless Chromium per module for the browser tests."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.jwks_server import JwksServer  # noqa: E402
from support.tokens import SigningKey, auth_factory  # noqa: E402

from clerk_serverless.decorators import reset_default_auth  # noqa: E402
from clerk_serverless.keys import reset_key_stores  # noqa: E402


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    """Three RSA-2048 keys generated for this run: the instance's current key,
    its next key (rotation) and an attacker's key."""
    return {name: SigningKey.generate(f"ins_{name}") for name in ("current", "next", "attacker")}


@pytest.fixture
def key(signing_keys: dict[str, SigningKey]) -> SigningKey:
    return signing_keys["current"]


@pytest.fixture
def jwks(signing_keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    """A JWKS server on 127.0.0.1 publishing the current key."""
    server = JwksServer().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CLERK_* variable leaks in from the machine; no key cache or default
    ClerkAuth leaks from one test into the next."""
    for name in list(os.environ):
        if name.startswith("CLERK_"):
            monkeypatch.delenv(name)
    reset_key_stores()
    reset_default_auth()
    yield
    reset_key_stores()
    reset_default_auth()


@pytest.fixture
def make_auth(jwks: JwksServer) -> Any:
    """Build a ``ClerkAuth`` on the loopback JWKS with test defaults."""
    return auth_factory(jwks.url)


@pytest.fixture
def caplog_all(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


from support.clerk_api import ClerkBackendApi, fail_on_violations  # noqa: E402


@pytest.fixture
def clerk_api(signing_keys: dict[str, SigningKey]) -> Iterator[ClerkBackendApi]:
    """A loopback Clerk Backend API (``support.clerk_api.ClerkBackendApi``) that
    checks every request and answer against Clerk's published OpenAPI spec;
    ``/v1/jwks`` publishes the current key. The test fails at teardown if a
    violation is left (take expected ones with ``take_violations()``)."""
    server = ClerkBackendApi().start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()
    fail_on_violations(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium under Playwright, one per test module (the browser tests)."""
    from support.browser import launch_browser

    with launch_browser() as context:
        yield context
