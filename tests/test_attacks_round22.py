"""Red-team probes, round 22: the corners fewer people looked at.

Configuration bounds of the key cache, an ``async def`` hidden behind a
synchronous ``functools.wraps`` wrapper, the ASGI integration outside
Lambda, the Backend API client, webhooks and the local dev server. Tests
named ``test_finding_*`` are attacks that succeeded on the code as
reviewed, kept with their fixes.

Real parts only: generated RS256 keys, the loopback JWKS server,
real-shaped events, real HTTP servers on 127.0.0.1.
"""

from __future__ import annotations

import functools
import json
import logging
import warnings
from typing import Any

import pytest
from support.calls import run_async
from support.events import make_event
from support.json_depth import parses
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth, ClerkConfigError

# =========================================================================================
# 1. Key-cache settings, and an async handler behind a sync wrapper
# =========================================================================================


@pytest.mark.parametrize(("setting", "value", "why"), [
    ("jwks_stale_ttl", 86_400_000, "milliseconds"),  # a day in ms: 1000 days of revoked keys verifying
    ("jwks_stale_ttl", 10**12, "milliseconds"),
    ("unknown_kid_cooldown", 30_000, "rotated in"),  # 30 s in ms: a rotated-in key refused for 8 hours
    ("unknown_kid_cooldown", 0, "forged kid"),  # every forged kid a fetch against Clerk
    ("unknown_kid_cooldown", 0.001, "forged kid"),
])
def test_finding_key_cache_windows_took_any_value(key: SigningKey, setting: str, value: float, why: str) -> None:
    """``jwks_stale_ttl`` and ``unknown_kid_cooldown`` were taken unbounded:
    a cooldown given in milliseconds refused the tokens of a newly rotated-in
    key with 401 (users signed out) for hours; a zero cooldown let a stream
    of forged kids cost one fetch each. Both are bounded, and the error says why."""
    with pytest.raises(ClerkConfigError) as info:
        ClerkAuth(jwt_key=key.public_pem, **{setting: value})
    assert setting in str(info.value) and why in str(info.value)
    ClerkAuth(jwt_key=key.public_pem, jwks_stale_ttl=7 * 86400, unknown_kid_cooldown=300)
    ClerkAuth(jwt_key=key.public_pem, jwks_stale_ttl=86400, unknown_kid_cooldown=1)


def _sync_wraps(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)
    return wrapper


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi", "function_url"])
def test_finding_an_async_handler_behind_a_sync_wraps_decorator_answered_a_coroutine(
    key: SigningKey, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``async def`` under a plain ``functools.wraps`` decorator slips past the
    decoration-time refusal (the outer wrapper is sync, and following
    ``__wrapped__`` would refuse wrappers that run the coroutine themselves):
    the handler's coroutine went back to Lambda (a 502 and a "never awaited"
    warning). Now it is closed, unrun, and the answer is a 500 saying why, in
    the source's format, with one log line per handler."""
    ran = []

    @ClerkAuth(jwt_key=key.public_pem).require_session
    @_sync_wraps
    async def handler(event: Any, context: Any) -> dict[str, Any]:
        ran.append(1)
        return {"statusCode": 200, "body": "secret"}

    event = make_event(shape, headers={"Authorization": f"Bearer {mint(key)}"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn
        with caplog.at_level(logging.WARNING):
            first, second = handler(event, None), handler(make_event(shape, headers={
                "Authorization": f"Bearer {mint(key)}"}), None)
    for answer in (first, second):
        assert answer["statusCode"] == 500
        assert json.loads(answer["body"])["reason"] == "handler-async"
        headers = answer.get("headers") or {k: v[-1] for k, v in answer["multiValueHeaders"].items()}
        assert headers["x-clerk-auth-reason"] == "handler-async"  # the README: every reason code is in it
    assert ran == []
    assert sum("does not await" in r.getMessage() for r in caplog.records) == 1


def test_finding_an_async_webhook_receiver_behind_a_sync_wraps_decorator_answered_a_coroutine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same hole in ``require_webhook``, which shares the decoration-time
    refusal: a verified webhook's handler returned its coroutine to Lambda."""
    import base64
    import hashlib
    import hmac
    import time

    from clerk_serverless.webhooks import require_webhook

    key = b"k" * 32
    ran = []

    @require_webhook(signing_secret="whsec_" + base64.b64encode(key).decode())
    @_sync_wraps
    async def receiver(event: Any, context: Any) -> dict[str, Any]:
        ran.append(1)
        return {"statusCode": 204}

    body, stamp = '{"type": "user.created", "data": {}}', str(int(time.time()))
    signature = base64.b64encode(hmac.new(key, f"msg_1.{stamp}.{body}".encode(), hashlib.sha256).digest()).decode()
    event = make_event("rest_v1", method="POST", headers={
        "svix-id": "msg_1", "svix-timestamp": stamp, "svix-signature": f"v1,{signature}"})
    event["body"], event["isBase64Encoded"] = body, False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            answer = receiver(event, None)
    assert answer["statusCode"] == 500 and json.loads(answer["body"])["reason"] == "handler-async"
    assert ran == [] and any("does not await" in r.getMessage() for r in caplog.records)


# =========================================================================================
# 2. The ASGI middleware outside Lambda
# =========================================================================================


@pytest.mark.parametrize("kind", ["webtransport", "HTTP", "", None])
def test_finding_an_asgi_scope_of_another_type_reached_the_app_unauthenticated(key: SigningKey, kind: Any) -> None:
    """``ClerkMiddleware`` passed every scope that is not ``http`` or
    ``websocket`` straight to the app, as it must lifespan events: an
    extension type (``webtransport``) or a server's misspelling reached a
    protected app with no token at all. Now only ``lifespan`` passes; another
    type raises, as the ASGI spec has apps do."""

    from clerk_serverless.integrations.asgi import ClerkMiddleware

    reached: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    middleware = ClerkMiddleware(app, auth=ClerkAuth(jwt_key=key.public_pem))

    async def receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        return None

    scope = {"type": kind, "path": "/me", "headers": [], "query_string": b""}
    with pytest.raises(ValueError, match="cannot authenticate"):
        run_async(middleware(scope, receive, send))
    run_async(middleware({"type": "lifespan"}, receive, send))
    assert reached == ["lifespan"]


# =========================================================================================
# 3. The Backend API client against a hostile Backend API
# =========================================================================================


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"id":' * 50_000 + b"1" + b"}" * 50_000])
def test_finding_a_deeply_nested_user_answer_raised_recursion_error(key: SigningKey, clerk_api: Any, body: bytes) -> None:
    """``session.user()`` parsed the Backend API's answer catching only
    ``ValueError``: JSON nested past the parser's depth (a hostile API URL,
    a broken proxy in front of Clerk) raised ``RecursionError`` into the
    handler instead of the documented ``ClerkUnavailableError`` (the machine
    token verify path already caught it)."""
    from clerk_serverless.errors import ClerkAPIError, ClerkUnavailableError

    clerk_api.fault("GetUser", "status", status=200, body=body, headers={"Content-Type": "application/json"})
    auth = ClerkAuth(jwt_key=key.public_pem, secret_key=clerk_api.secret_key, api_url=clerk_api.url)
    session = auth.verify_token(mint(key))
    # Too deep for this interpreter's json: unavailable; parsed (3.14 parses deep objects): no user object.
    expected = ClerkUnavailableError if not parses(body) else ClerkAPIError
    with pytest.raises(expected) as info:
        session.user()
    assert clerk_api.secret_key not in str(info.value)
    clerk_api.take_violations()


# =========================================================================================
# 5. The local dev server (serve)
# =========================================================================================

_GATEWAY_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Timeout: 5}
Resources:
  Open:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Events:
        Get: {Type: HttpApi, Properties: {Path: /config, Method: GET}}
"""


def _get(base: str, path: str, host: str | None) -> tuple[int, bytes]:
    import socket

    address, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=20) as sock:
        head = f"GET {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host is not None else "")
        sock.sendall((head + "Connection: close\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_finding_serve_answered_a_dns_rebinding_page(tmp_path: Any) -> None:
    """``serve`` answered any ``Host``: a page on ``http://evil.test:3001``
    whose name the attacker re-points at 127.0.0.1 is same-origin with the
    gateway to the browser, and read the developer's static files and the
    answers of functions that need no token (here one echoing its
    environment). Now only loopback names, IP addresses and names given with
    ``--allowed-host`` are answered; others get 403 before any function runs."""
    from clerk_serverless_local.gateway import LocalGateway
    from clerk_serverless_local.template import Template

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ENV-SECRET'}\n")
    (tmp_path / "template.yaml").write_text(_GATEWAY_TEMPLATE)
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("PAGE-SECRET")
    with LocalGateway(Template(tmp_path / "template.yaml"), port=0, static_dir=static, log=lambda line: None,
                      warn=lambda message: None) as gateway:
        base = gateway.urls["api"]
        port = base.rsplit(":", 1)[1]
        for host in (f"evil.test:{port}", "evil.test", "EVIL.test.", "localhost.evil.test", "x"):
            for path in ("/config", "/"):
                status, body = _get(base, path, host)
                assert status == 403 and b"SECRET" not in body and b"--allowed-host" in body, (host, path)
        for host in (f"localhost:{port}", "app.localhost", f"127.0.0.1:{port}", "[::1]", None):
            assert _get(base, "/", host) == (200, b"PAGE-SECRET"), host
        assert _get(base, "/config", f"localhost:{port}") == (200, b"ENV-SECRET")
    with LocalGateway(Template(tmp_path / "template.yaml"), port=0, static_dir=static, log=lambda line: None,
                      warn=lambda message: None, allowed_hosts=["dev.example.test"]) as gateway:
        assert _get(gateway.urls["api"], "/", "dev.example.test:3001") == (200, b"PAGE-SECRET")
        assert _get(gateway.urls["api"], "/", "evil.test")[0] == 403


def test_finding_a_deeply_nested_secrets_manager_value_raised_recursion_error(
    jwks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Secrets Manager value that starts like JSON and nests past the
    parser's depth raised ``RecursionError`` out of ``ClerkAuth(...)`` at
    cold start; a configuration mistake is a ``ClerkConfigError`` naming the
    setting, and never quotes the value."""
    import boto3
    from support.aws import use_aws_endpoint
    from test_aws_secrets import MotoServer

    server = MotoServer()
    try:
        use_aws_endpoint(monkeypatch, server.url, "testing", "testing")
        stored = '{"CLERK_SECRET_KEY": "sk_test_nested0123456789", "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
        arn = boto3.client("secretsmanager").create_secret(Name="nested", SecretString=stored)["ARN"]
        if parses(stored):  # this interpreter's json reads it (3.14 goes deeper): the key in it is used
            ClerkAuth(secret_key_secret_id=arn, api_url=jwks.base_url)
            return
        with pytest.raises(ClerkConfigError) as info:
            ClerkAuth(secret_key_secret_id=arn, api_url=jwks.base_url)
        assert "secret_key_secret_id" in str(info.value) and "sk_test_nested" not in str(info.value)
    finally:
        server.stop()
