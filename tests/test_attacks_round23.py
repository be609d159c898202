"""Red-team probes, round 23: the code merged this session.

The awaitable-answer check of the decorators and ``require_webhook``, the
local gateway's function logs and ``--spa`` fallback, and ``token
--scope``. Tests named ``test_finding_*`` are attacks that succeeded on the
code as reviewed, kept with their fixes.

Real parts only: generated RS256 keys, real-shaped events, the local
gateway on 127.0.0.1 running a real function in a child process.
"""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path
from typing import Any

import pytest
from support.events import make_event
from support.tokens import SigningKey, mint

from clerk_serverless import ClerkAuth

# =========================================================================================
# 1. What counts as an awaitable answer
# =========================================================================================


class AttrDict(dict[str, Any]):
    """An attribute-access dict as addict's ``Dict`` is: every missing name
    answers (an empty one), so it "has" ``__await__`` per instance."""

    def __getattr__(self, name: str) -> Any:
        return self[name] if name in self else AttrDict()


class Exploding:
    """An answer whose attribute lookups raise something other than AttributeError."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("lookup")


class Awaitable:
    """An awaitable that is not a coroutine: its ``close`` is its own code."""

    closed = False

    def __await__(self) -> Any:
        yield None

    def close(self) -> None:
        Awaitable.closed = True
        raise SystemExit("close ran")  # what a blocking or exiting close would do to the invocation


@pytest.mark.parametrize("shape", ["http_v2", "rest_v1", "alb_multi"])
def test_finding_an_attribute_dict_answer_was_refused_as_an_awaitable(key: SigningKey, shape: str) -> None:
    """The awaitable check asked the instance (``hasattr(response,
    "__await__")``): an attribute-access dict, which answers every name,
    turned a handler's good 200 into a 500 ``handler-async``; an answer whose
    ``__getattr__`` raised sent that exception out of the wrapper; and any
    awaitable's own ``close`` was run (an exiting or blocking one took the
    invocation with it). Now the type is asked, as ``await`` does, a dict is
    an answer, and only a coroutine is closed."""
    auth = ClerkAuth(jwt_key=key.public_pem)
    answers: list[Any] = [AttrDict(statusCode=200, body="ok"), Exploding(), Awaitable()]

    @auth.require_session
    def handler(event: Any, context: Any) -> Any:
        return answers.pop(0)

    def call() -> Any:
        return handler(make_event(shape, headers={"Authorization": f"Bearer {mint(key)}"}), None)

    first = call()
    assert isinstance(first, AttrDict) and first["statusCode"] == 200 and first["body"] == "ok"
    assert isinstance(call(), Exploding)  # not ours to judge: handed back as any other answer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = call()
    assert third["statusCode"] == 500 and json.loads(third["body"])["reason"] == "handler-async"
    assert Awaitable.closed is False


# =========================================================================================
# 2. The local gateway: what functions print, the --spa fallback
# =========================================================================================

_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function: {Runtime: python3.11, Timeout: 10}
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Events:
        Post: {Type: HttpApi, Properties: {Path: /api/items, Method: POST}}
"""

_ECHO = """
def handler(event, context):
    print("got " + (event.get("body") or ""))
    return {"statusCode": 200, "body": "ok"}
"""


def _project(tmp_path: Path) -> Any:
    from clerk_serverless_local.template import Template

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(_ECHO)
    (tmp_path / "template.yaml").write_text(_TEMPLATE)
    return Template(tmp_path / "template.yaml")


def _send(base: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    address, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((address, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def test_finding_a_request_forged_gateway_log_lines_through_a_functions_output(tmp_path: Path) -> None:
    """``serve`` shows what functions print, but printed it raw: a function
    logging what a request carried (any page can POST a body to localhost)
    wrote CR and ANSI sequences to the developer's terminal, erasing its own
    line and printing a forged gateway line in its place. Now a function's
    lines are escaped as the gateway's request lines are (tabs kept)."""
    from clerk_serverless_local.gateway import LocalGateway

    lines: list[str] = []
    forged = "\rGET /admin -> Echo (http) 200 1.0 ms\x1b[2K\x1b[1A\x1b[31m\u202e\tend"
    body = forged.encode()
    with LocalGateway(_project(tmp_path), port=0, log=lines.append, warn=lambda message: None,
                      function_logs=True) as gateway:
        status, _ = _send(gateway.urls["api"], f"POST /api/items HTTP/1.1\r\nHost: localhost\r\n"
                                               f"Content-Length: {len(body)}\r\n", body)
    assert status == 200
    printed = [line for line in lines if line.startswith("  Echo| got ")]
    assert printed == ["  Echo| got \\x0dGET /admin -> Echo (http) 200 1.0 ms\\x1b[2K\\x1b[1A\\x1b[31m\\x202e\tend"]
    assert not any(c in line for line in lines for c in "\r\x1b\u202e")


def test_finding_spa_answered_an_api_route_with_the_apps_page(tmp_path: Path) -> None:
    """``--spa`` answered ``index.html`` to any GET no route matched: a
    browser opening an API path that takes only POST (a link, a typed URL,
    a form's redirect) got the app's page with 200 where API Gateway answers
    404 — the route looked served. A path a route serves under another
    method is now the API's 404; unknown pages still get the app."""
    from clerk_serverless_local.gateway import LocalGateway

    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("APP-PAGE")
    with LocalGateway(_project(tmp_path), port=0, static_dir=static, spa=True, log=lambda line: None,
                      warn=lambda message: None) as gateway:
        base = gateway.urls["api"]
        navigate = "Host: localhost\r\nAccept: text/html,*/*;q=0.8\r\n"
        for method in ("GET", "HEAD"):
            status, body = _send(base, f"{method} /api/items HTTP/1.1\r\n{navigate}")
            assert status == 404 and b"APP-PAGE" not in body, method
        assert _send(base, f"GET /orders/7 HTTP/1.1\r\n{navigate}") == (200, b"APP-PAGE")



def test_finding_static_served_the_projects_secrets(tmp_path: Path) -> None:
    """``serve --static .`` (a page at the project's root) served the SAM
    project itself: ``/env.json`` with ``CLERK_SECRET_KEY``,
    ``/dev/clerk-dev-key.pem`` (the dev signing key), ``.env`` and the code —
    to anyone reaching the port, the whole LAN with ``--host 0.0.0.0``, under
    an IP-literal ``Host`` the rebinding rule admits. A ``--static`` directory
    holding the template is refused at start, and no directory serves
    ``.env*``, ``*.pem``, ``*.crt`` or ``*.key`` (Vite's ``server.fs.deny``)."""
    from clerk_serverless_local.gateway import LocalGateway

    template = _project(tmp_path)
    (tmp_path / "env.json").write_text('{"Parameters": {"CLERK_SECRET_KEY": "sk_test_SECRET"}}')
    with pytest.raises(ValueError, match="holds the SAM project"):
        LocalGateway(template, port=0, static_dir=tmp_path, log=lambda line: None, warn=lambda message: None)
    with pytest.raises(ValueError, match="holds the SAM project"):
        LocalGateway(template, port=0, static_dir=tmp_path.parent, log=lambda line: None, warn=lambda m: None)
    web = tmp_path / "web"
    (web / "certs").mkdir(parents=True)
    (web / "index.html").write_text("APP-PAGE")
    for name in (".env", ".env.local", "certs/dev.pem", "certs/dev.KEY", "certs/site.crt"):
        (web / name).write_text("SECRET")
    (web / "alias.txt").symlink_to(web / ".env.local")
    with LocalGateway(template, port=0, static_dir=web, log=lambda line: None, warn=lambda message: None) as gateway:
        base = gateway.urls["api"]
        for path in ("/.env", "/.env.local", "/certs/dev.pem", "/certs/dev.KEY", "/certs/site.crt", "/alias.txt",
                     "/%2eenv", "/certs/dev%2epem"):
            status, body = _send(base, f"GET {path} HTTP/1.1\r\nHost: 192.168.1.20:3000\r\n")
            assert status == 404 and b"SECRET" not in body, path
        assert _send(base, "GET / HTTP/1.1\r\nHost: 192.168.1.20:3000\r\n") == (200, b"APP-PAGE")


def test_finding_a_browser_could_take_a_functions_next_event_from_its_runtime_api(tmp_path: Path) -> None:
    """Each local function's Runtime API (127.0.0.1, an ephemeral port)
    answered anyone: a page rebinding its name to 127.0.0.1 could long-poll
    ``/invocation/next`` and take the next request's event — its
    ``Authorization`` token — and any page could fail the runtime with a
    blind ``no-cors`` POST to ``/init/error``. Requests a runtime client
    never sends (``Origin``, ``Sec-Fetch-Site``, a ``Host`` not loopback) are
    refused 403 before any event is handed out."""
    import urllib.request

    from clerk_serverless_local.runtime_api import RuntimeApi

    api = RuntimeApi("arn:aws:lambda:us-east-1:123456789012:function:Echo")
    try:
        base = f"http://{api.address}"
        invocation = api.submit({"headers": {"authorization": "Bearer SECRET-TOKEN"}}, 30)
        port = api.address.rsplit(":", 1)[1]
        for head in (f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: evil.test:{port}\r\n",
                     f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api.address}\r\n"
                     "Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\n",
                     f"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api.address}\r\n"
                     "Origin: http://evil.test\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"):
            status, body = _send(base, head, b"{}" if head.startswith("POST") else b"")
            assert status == 403 and b"SECRET" not in body, head
        assert not api.init_failed.is_set()
        with urllib.request.urlopen(f"{base}/2018-06-01/runtime/invocation/next", timeout=30) as answer:
            assert json.loads(answer.read())["headers"]["authorization"] == "Bearer SECRET-TOKEN"
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        assert request_id == invocation.request_id
    finally:
        api.close()

# =========================================================================================
# 3. token --scope
# =========================================================================================


@pytest.mark.parametrize("scope", ["read admin", "", "jobs:write\n"])
def test_finding_token_scope_minted_other_scopes_than_asked(scope: str) -> None:
    """``token --type m2m_token --scope "read admin"`` minted a token whose
    space-separated ``scopes`` claim granted two scopes (a ``scopes=["admin"]``
    route admitted it) and an ``aud`` naming one that does not exist;
    ``--scope ""`` granted none. Scopes are single words: anything else is
    refused with a one-line error, and no token is printed."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    for kind in ("m2m_token", "oauth_token"):
        done = subprocess.run([sys.executable, "-m", "clerk_serverless_local", "token", "--type", kind,
                               "--scope", "jobs:read", "--scope", scope], cwd=root, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode != 0 and "eyJ" not in done.stdout and "--scope" in done.stderr, (kind, done)


# =========================================================================================
# 4. Retry-After from the JWKS endpoint
# =========================================================================================


@pytest.mark.parametrize("value", ["0.001", "1e-3", "0.5"])
def test_finding_a_fractional_retry_after_turned_the_key_stores_backoff_off(key: SigningKey, value: str) -> None:
    """``retry_after_seconds`` reads ``0.001`` as a number (the parser leaves
    bounds to callers), and the key store took it as its back-off: during a
    JWKS outage answered with such a header every request was a fetch. The
    store now waits at least a second, as it answers ``Retry-After: 1`` at least."""
    from support.jwks_server import JwksServer
    from support.tokens import Clock, fresh

    from clerk_serverless.errors import KeysUnavailableError

    server = JwksServer().start()
    try:
        server.keys = [key.jwk]
        server.set("status", status=503, headers={"Retry-After": value})
        clock = Clock()
        auth = ClerkAuth(jwks_url=server.url, clock=clock)
        for _ in range(3):  # within the second after the failure: no fetch but the first
            with pytest.raises(KeysUnavailableError):
                auth.verify_token(fresh(key, clock))
            clock.advance(0.3)
        assert server.count == 1
        server.set("ok")
        clock.advance(0.2)
        assert auth.verify_token(fresh(key, clock)).user_id == "user_2abc"
        assert server.count == 2
    finally:
        server.stop()
