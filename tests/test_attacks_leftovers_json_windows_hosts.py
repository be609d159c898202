"""Red-team probes: a reviewer's leftovers (issues #10/#13).

JSON nested past the parser's depth in a trusted authorizer context, the
low-level key store's windows, and ``serve --allowed-host`` with a port.
Tests named ``test_finding_*`` are attacks that succeeded on the code as
reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server and Backend
API, real-shaped events, the authorizer's own context, the local gateway on
127.0.0.1.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from support.calls import NOT_CALLED, call, recording_handler
from support.events import authorizer_event, behind_authorizer
from support.json_depth import parses
from support.jwks_server import JwksServer
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError
from clerk_serverless.authorizer import make_authorizer
from clerk_serverless.keys import JwksKeyStore, fetch_jwks, parse_jwks
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
    # Too deep for this interpreter's json: no actor; parsed (3.14 parses deep objects): the actor it is.
    assert out.session.actor is None if not parses(deep) else out.session.actor is not None


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
    if not parses(deep):  # read as none, as any other unreadable value (a parsed one is what it says)
        assert (machine.scopes if field == "scopes" else machine.claims) in ([], None)
    route = recording_handler(trusting.require_auth(accepts_token="api_key"))
    assert call(route, "http_v2", event).status == 200


# =========================================================================================
# 2. The low-level key store's windows
# =========================================================================================


@pytest.mark.parametrize(("argument", "value", "why"), [
    ("stale_ttl", 86_400_000, "milliseconds"),  # a day in ms: a revoked key verifying for years of failed refreshes
    ("stale_ttl", 60, "finite number >= 86400"),
    ("cooldown", 30_000, "rotated in"),  # 30 s in ms: a rotated-in key refused for 8 hours
    ("cooldown", 0, "forged kid"),  # every forged kid a fetch against Clerk
    ("cooldown", float("nan"), "forged kid"),
    ("ttl", 300_000, "milliseconds"),
    ("ttl", 0, "finite number >= 1"),
    ("fetch_timeout", float("inf"), "finite number"),  # a key fetch with no deadline
    ("fetch_timeout", "3", "number of seconds"),
])
def test_finding_the_key_store_took_windows_clerk_auth_refuses(
    jwks: JwksServer, argument: str, value: Any, why: str
) -> None:
    """``JwksKeyStore`` (public, in ``clerk_serverless.keys``) took any
    ``stale_ttl``/``cooldown``/``ttl``/``fetch_timeout``, where ClerkAuth
    refuses the same mistakes in ``jwks_stale_ttl``/``unknown_kid_cooldown``/
    ``jwks_cache_ttl``/``fetch_timeout``. Now it checks them against the same
    bounds (one table) and names its own argument."""
    load = lambda prev: parse_jwks(fetch_jwks(jwks.url), prev)  # noqa: E731
    with pytest.raises(ClerkConfigError) as info:
        JwksKeyStore(load, label="hand-built", **{argument: value})
    assert info.value.setting == argument and why in str(info.value)
    for lowest, highest in ((86_400, 1), (7 * 86_400, 300)):
        store = JwksKeyStore(load, label="hand-built", stale_ttl=lowest, cooldown=highest, ttl=highest,
                             fetch_timeout=0.05 if highest == 1 else 3)
        assert store.keys() and store.stale_ttl == lowest and store.cooldown == highest


# =========================================================================================
# 3. serve --allowed-host with a port
# =========================================================================================


def _get(base: str, host: str) -> int:
    address, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=20) as sock:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_finding_an_allowed_host_with_a_port_never_matched(tmp_path: Path) -> None:
    """``serve --allowed-host dev.example.test:5173`` (how the page's address
    bar shows it) kept the port in the allowed name while the ``Host`` was
    judged by its name alone: the developer's own host got 403 however it
    was spelt. Now a port (and IPv6 brackets) is stripped from the allowed
    name as from the ``Host``; other names stay 403, and a value naming no
    host (a URL, a bad port) is refused when serve starts."""
    from clerk_serverless_local.gateway import LocalGateway
    from clerk_serverless_local.template import Template

    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("PAGE")
    (tmp_path / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources: {}\n")
    allowed = ["dev.example.test:5173", "[fe80::1]:8443", "Other.Test.:80"]
    with LocalGateway(Template(tmp_path / "template.yaml"), port=0, static_dir=tmp_path / "static",
                      log=lambda line: None, warn=lambda message: None, allowed_hosts=allowed) as gateway:
        base = gateway.urls["api"]
        for host in ("dev.example.test:5173", "dev.example.test", "DEV.example.test.:3000", "other.test",
                     "other.test:80", "[fe80::1]:8443"):
            assert _get(base, host) == 200, host
        for host in ("evil.test:5173", "dev.example.test.evil.test", "5173", "example.test:5173"):
            assert _get(base, host) == 403, host
    for bad in ("http://dev.example.test:5173", "dev.example.test:http", "[::1", "dev.example.test/app"):
        with pytest.raises(ValueError, match="--allowed-host"):
            LocalGateway(Template(tmp_path / "template.yaml"), port=0, allowed_hosts=[bad],
                         log=lambda line: None, warn=lambda message: None)
