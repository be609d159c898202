"""Red-team probes, round 20: the request path as an outside attacker sees it.

Every test states the secure behaviour. Tests named ``test_finding_*`` are
attacks that succeeded on the code as reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server and Clerk
Backend API, real-shaped events, real FastAPI/Mangum/Powertools apps.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.jwks_server import JwksServer
from support.tokens import Clock, SigningKey, fresh, mint

from clerk_serverless import ClerkConfigError

# =========================================================================================
# 1. Time: clock_skew in milliseconds
# =========================================================================================


@pytest.mark.parametrize("skew", [5000, 1000, 61, 1e9])
def test_finding_a_clock_skew_in_milliseconds_admits_long_expired_tokens(
    make_auth: Any, key: SigningKey, skew: float
) -> None:
    """Clerk's SDKs take the leeway in milliseconds (``clockSkewInMs: 5000``,
    clerk-backend-api's ``clock_skew_in_ms=5000``); a team porting a route
    wrote ``clock_skew=5000`` and every token stayed good for 83 minutes past
    its ``exp`` (a stolen 60-second session token became a long-lived one).
    More than a session token's lifetime of leeway is a configuration mistake,
    refused at cold start naming the option."""
    with pytest.raises(ClerkConfigError) as info:
        make_auth(clock_skew=skew)
    assert "clock_skew" in str(info.value) and "milliseconds" in str(info.value)


def test_a_minute_of_leeway_is_still_a_minute(make_auth: Any, key: SigningKey) -> None:
    now = int(time.time())
    handler = recording_handler(make_auth(clock_skew=60).require_session)
    assert call(handler, "http_v2", bearer=mint(key, iat=now - 100, nbf=now - 100, exp=now - 50)).status == 200
    late = call(handler, "http_v2", bearer=mint(key, iat=now - 200, nbf=now - 200, exp=now - 70))
    assert (late.status, late.reason, late.session) == (401, "token-expired", NOT_CALLED)


# =========================================================================================
# 2. Keys: a removed key must stop verifying
# =========================================================================================


def test_finding_a_cache_ttl_in_milliseconds_keeps_a_removed_key_for_weeks(
    make_auth: Any, jwks: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    """@clerk/backend's ``jwksCacheTtlInMs`` (and jose's ``cacheMaxAge``) are
    milliseconds; ``jwks_cache_ttl=3_600_000`` kept the key set 41 days
    without asking again, so a key Clerk removed after a compromise kept
    verifying the attacker's tokens in every warm process (a week later: 200).
    Now a ClerkConfigError naming the option; a day is the most."""
    with pytest.raises(ClerkConfigError) as info:
        make_auth(jwks_cache_ttl=3_600_000)
    assert "jwks_cache_ttl" in str(info.value) and "milliseconds" in str(info.value)
    # the longest allowed TTL: the removed key stops verifying once it has passed
    stolen, current = signing_keys["attacker"], signing_keys["current"]
    jwks.keys = [stolen.jwk, current.jwk]
    clock = Clock()
    handler = recording_handler(make_auth(jwks_cache_ttl=86_400, clock=clock).require_session)
    assert call(handler, "http_v2", bearer=fresh(stolen, clock)).status == 200
    jwks.keys = [current.jwk]  # Clerk removes the compromised key
    clock.advance(86_401)
    out = call(handler, "http_v2", bearer=fresh(stolen, clock))
    assert out.status == 401 and out.session is NOT_CALLED
    assert call(handler, "http_v2", bearer=fresh(current, clock)).status == 200
