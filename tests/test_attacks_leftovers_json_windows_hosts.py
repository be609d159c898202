"""Red-team probes: a reviewer's leftovers (issues #10/#13).

JSON nested past the parser's depth in a trusted authorizer context, the
low-level key store's windows, and ``serve --allowed-host`` with a port.
Tests named ``test_finding_*`` are attacks that succeeded on the code as
reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server and Backend
API, real-shaped events, the authorizer's own context.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.events import authorizer_event, behind_authorizer
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth
from clerk_serverless.authorizer import make_authorizer
from clerk_serverless.machine import MachineAuth
from clerk_serverless.policy import Policy

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 50_000 + "1" + "}" * 50_000

# =========================================================================================
# 1. JSON nested past the parser's depth in a trusted authorizer context
# =========================================================================================


@pytest.mark.parametrize("deep", [DEEP, DEEP_OBJECT])
def test_finding_a_deep_act_in_a_trusted_context_raised_recursion_error(
    make_auth: Any, key: SigningKey, deep: str
) -> None:
    """``trust_authorizer`` reads ``act`` from the authorizer context as JSON,
    catching only ``ValueError``: a context whose ``act`` nests past the
    parser's depth (a hand-built event, an authorizer of someone else's)
    raised ``RecursionError`` out of the handler. Now such an ``act`` is no
    actor, as any other unreadable one, and the route answers."""
    token = mint(key)
    context = make_authorizer(make_auth())(authorizer_event(bearer=token), None)["context"]
    route = recording_handler(make_auth(trust_authorizer=True).require_session)
    out = call(route, "http_v2", behind_authorizer({**context, "act": deep}, bearer=token))
    assert out.status == 200 and out.session is not NOT_CALLED
    assert out.session.actor is None


@pytest.mark.parametrize("field", ["scopes", "claims"])
@pytest.mark.parametrize("deep", [DEEP, DEEP_OBJECT])
def test_finding_deep_machine_scopes_or_claims_in_a_trusted_context_raised_recursion_error(
    clerk_api: Any, signing_keys: Any, field: str, deep: str
) -> None:
    """The same for a machine identity's ``scopes`` and ``claims``: nested
    past the parser's depth, ``authenticate_request`` raised
    ``RecursionError`` to its caller, and a decorated route logged an
    "unexpected" error and answered 401. Now they read as none, as any
    other unreadable value does."""
    clerk_api.keys = [signing_keys["current"].jwk]
    api_key = clerk_api.add_api_key(scopes=["read"], claims={"team": "a"})
    build = lambda trust: ClerkAuth(  # noqa: E731
        secret_key=clerk_api.secret_key, api_url=clerk_api.url, trust_authorizer=trust
    )
    context = make_authorizer(build(False), accepts_token="api_key")(authorizer_event(bearer=api_key.secret), None)
    event = behind_authorizer({**context["context"], field: deep}, bearer=api_key.secret)
    trusting = build(True)
    machine = trusting.authenticate_request(event, Policy(accepts=frozenset({"api_key"})))
    assert isinstance(machine, MachineAuth) and machine.subject
    assert (machine.scopes if field == "scopes" else machine.claims) in ([], None)
    route = recording_handler(trusting.require_auth(accepts_token="api_key"))
    assert call(route, "http_v2", event).status == 200
