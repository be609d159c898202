"""Red-team probes, seventh pass (issue #10, on b8d6f44): where the earlier
passes did not look — the secret key's AWS read under a trickling endpoint,
what configuration errors echo, and the local gateway's log line.

Tests named ``test_finding_*`` are holes that were open on the code as
reviewed, kept with their fixes; every other test is a probe the library
withstood, kept as a regression test.

Real parts only: generated RS256 keys, real-shaped events, boto3 and
Powertools Parameters against a loopback HTTP endpoint that answers the real
SSM and Secrets Manager JSON protocol (slowly), the real local gateway.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.aws import clear_powertools_parameters, use_aws_endpoint
from support.loopback import TcpListener

from clerk_serverless import ClerkAuth, ClerkConfigError, aws_secrets

SECRET = "sk_test_trickled0123456789abcdefghijklmnop"

# =========================================================================================
# 1. The secret key's AWS read: bounded in wall time, not per socket read
# =========================================================================================


class TricklingAws(TcpListener):
    """A loopback endpoint speaking the AWS JSON protocol for SSM
    ``GetParameter`` and Secrets Manager ``GetSecretValue``: it reads the whole
    request, sends the status line and headers at once, then the body one byte
    every ``delay`` seconds — each socket read well inside botocore's 3 s read
    timeout, the whole answer far past any budget."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connected(self, conn: socket.socket) -> None:
        threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                fields = dict(
                    line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line
                )
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                length = int(fields.get(b"content-length", b"0"))
                while len(body) < length:
                    body += conn.recv(65536)
                self.requests += 1
                target = fields.get(b"x-amz-target", b"")
                if target.endswith(b"GetParameter"):
                    answer = {"Parameter": {"Name": "/app/clerk", "Type": "SecureString", "Value": SECRET,
                                            "Version": 1, "DataType": "text"}}
                else:
                    answer = {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:clerk-AbCdEf",
                              "Name": "clerk", "SecretString": SECRET, "VersionId": "v1"}
                payload = json.dumps(answer).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    b"Content-Length: %d\r\n\r\n" % len(payload)
                )
                for i in range(len(payload)):
                    if self.stopped:
                        return
                    conn.sendall(payload[i : i + 1])
                    time.sleep(self.delay)
            except OSError:
                return


@pytest.fixture
def trickling_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[TricklingAws]:
    server = TricklingAws(delay=0.25).start()
    use_aws_endpoint(monkeypatch, server.url)
    yield server
    server.stop()
    clear_powertools_parameters()


def _build_within(seconds: float, **settings: Any) -> tuple[bool, float, list[BaseException]]:
    """Build a ClerkAuth in a thread; ``(finished, elapsed, raised)``."""
    raised: list[BaseException] = []

    def build() -> None:
        try:
            ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", **settings)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            raised.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=build, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive(), time.monotonic() - started, raised


@pytest.mark.parametrize(
    "settings",
    [{"secret_key_parameter": "/app/clerk"},
     {"secret_key_secret_id": "arn:aws:secretsmanager:us-east-1:123456789012:secret:clerk-AbCdEf"}],
    ids=["ssm", "secrets-manager"],
)
def test_finding_a_trickling_aws_endpoint_holds_the_secret_key_read_unbounded(
    trickling_aws: TricklingAws, monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]
) -> None:
    """MEDIUM (issue #10 (4): every network wait bounded in wall time, SSM and
    Secrets Manager included). botocore's ``connect_timeout``/``read_timeout``
    bound each connect and each socket *read*; an endpoint (a brownout, a
    misbehaving VPC endpoint or proxy) that sends its answer a byte at a time,
    each byte inside the 3 s read timeout, held ``ClerkAuth(...)`` for as long
    as it liked: ~45 s for a 200-byte answer at 0.2 s a byte, measured — past
    the Lambda init phase's 10 s, and inside the first request for the lazily
    built default instance. Name resolution (``getaddrinfo``) had no deadline
    at all. Now the read as a whole has one (``TOTAL_TIMEOUT``, 12 s: the
    documented two attempts of 3 + 3 s), then a ``ClerkConfigError`` naming
    the setting — never the secret. The budget is shortened here so the test
    is quick; its default is checked below."""
    default = getattr(aws_secrets, "TOTAL_TIMEOUT", None)
    monkeypatch.setattr(aws_secrets, "TOTAL_TIMEOUT", 1.5, raising=False)
    finished, elapsed, raised = _build_within(10.0, **settings)
    assert finished, f"ClerkAuth() still reading the secret key after {elapsed:.1f} s"
    assert elapsed < 4.0, f"the read took {elapsed:.1f} s against a 1.5 s budget"
    assert trickling_aws.requests >= 1  # it did reach the endpoint: the deadline, not an early failure, ended it
    assert raised and isinstance(raised[0], ClerkConfigError)
    message = str(raised[0])
    assert next(iter(settings)) in message and "timed out" in message
    assert SECRET not in message and "sk_test_" not in message
    assert default == 12.0  # 2 attempts x (3 s connect + 3 s read), as documented


def test_a_quick_endpoint_still_yields_the_secret_key(trickling_aws: TricklingAws) -> None:
    """The deadline does not get in the way: the same endpoint answering at
    once (and a byte at a time, but quickly) gives the key."""
    trickling_aws.delay = 0.0
    auth = ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", secret_key_parameter="/app/clerk")
    assert auth.settings.secret_key == SECRET


# =========================================================================================
# 2. Configuration errors never echo a credential put in the wrong setting
# =========================================================================================

LIVE_KEY = "sk_live_" + "Zx9" * 12
MACHINE_KEY = "ak_" + "Qw7" * 12
A_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18xIn0.eyJzdWIiOiJ1c2VyXzJhYmMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"


@pytest.mark.parametrize("secret", [LIVE_KEY, MACHINE_KEY, A_TOKEN, f"https://app.example.com,{LIVE_KEY}"])
@pytest.mark.parametrize("via", ["env", "argument"])
def test_finding_a_credential_in_authorized_parties_is_echoed_into_the_error(
    monkeypatch: pytest.MonkeyPatch, secret: str, via: str
) -> None:
    """LOW-MEDIUM (a misconfiguration away: values swapped between variables
    in a template, a token pasted into the wrong field). ``ClerkConfigError``
    quoted the offending authorized party whole (``'sk_live_…' is not an
    origin``); raised at cold start or on the first request, Lambda writes it
    to CloudWatch with the traceback, so the secret key (or a session token)
    lands in the logs. Keys in their own settings are refused without being
    echoed already; an origin that merely is not one (``'app.example.com'``)
    is still quoted, as documented."""
    monkeypatch.setenv("CLERK_JWKS_URL", "https://clerk.example.com/.well-known/jwks.json")
    if via == "env":
        monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", secret)
        build = ClerkAuth
    else:
        parties = secret.split(",")

        def build() -> ClerkAuth:
            return ClerkAuth(authorized_parties=parties)

    with pytest.raises(ClerkConfigError) as caught:
        build()
    message = str(caught.value)
    assert ("CLERK_AUTHORIZED_PARTIES" if via == "env" else "authorized_parties") in message
    for part in secret.split(","):
        if not part.startswith("https://"):
            assert part not in message
            assert part[:12] not in message
    assert "not shown" in message


@pytest.mark.parametrize(
    "value,shown",
    [("app.example.com", "'app.example.com' is not an origin"),
     ("https://App.Example.com", "write it as https://app.example.com")],
)
def test_a_mistyped_origin_is_still_quoted(value: str, shown: str) -> None:
    with pytest.raises(ClerkConfigError) as caught:
        ClerkAuth(jwks_url="https://clerk.example.com/.well-known/jwks.json", authorized_parties=[value])
    assert shown in str(caught.value)


# =========================================================================================
# 3. The local gateway's log line: no query string, nothing unprintable, bounded
# =========================================================================================


@pytest.fixture
def logging_gateway(tmp_path: Any) -> Iterator[tuple[Any, list[str]]]:
    from clerk_serverless_local.gateway import LocalGateway
    from clerk_serverless_local.template import Template

    (tmp_path / "template.yaml").write_text("Transform: AWS::Serverless-2016-10-31\nResources: {}\n")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("<h1>hello</h1>")
    lines: list[str] = []
    with LocalGateway(Template(tmp_path / "template.yaml"), port=0, static_dir=tmp_path / "static",
                      log=lines.append, warn=lambda m: None) as gateway:
        yield gateway, lines


def _raw(base: str, data: bytes) -> bytes:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer


def test_finding_the_gateway_log_line_echoes_query_tokens_and_control_characters(
    logging_gateway: tuple[Any, list[str]],
) -> None:
    """LOW (dev tool). ``serve`` logged the request target whole: the query
    string — where a page puts what cannot go in a header (an EventSource's
    ``?token=``, a development instance's ``__clerk_db_jwt``, Clerk's
    ``__clerk_handshake``) — and whatever bytes the request line held (ANSI
    escapes rewrite the developer's terminal), up to the 64 KiB request line.
    Now query values that may be credentials (by the parameter's name, or
    the value's look) show as ``…`` — other parameters stay, so a line can
    still be told apart (``?probe=3``) — unprintable characters are escaped,
    and at most 200 characters are kept. And a path too long for
    a file name (or holding a NUL) under ``--static`` raised ``OSError`` out
    of the handler: a traceback, no answer, no log line; now a 404."""
    gateway, lines = logging_gateway
    base = gateway.origin()
    secret = A_TOKEN
    _raw(base, f"GET /nothing?token={secret}&__clerk_db_jwt=dvb_2abcSECRET&probe=3&t={secret} HTTP/1.1\r\nHost: localhost\r\n"
               "Connection: close\r\n\r\n".encode())
    _raw(base, b"GET /a\x1b[2J\x1b]0;pwned\x07b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert _raw(base, b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 404 ")
    _raw(base, b"POST /up?token=" + secret.encode() + b" HTTP/1.1\r\nHost: localhost\r\nContent-Length: nope\r\n"
               b"Connection: close\r\n\r\n")  # refused: the refusal's line too
    deadline = time.monotonic() + 5
    while len(lines) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(lines) == 4, lines
    joined = "\n".join(lines)
    assert secret not in joined and "dvb_2abcSECRET" not in joined and secret[:12] not in joined
    assert lines[0].startswith("GET /nothing?token=…&__clerk_db_jwt=…&probe=3&t=… -> ")
    assert all(line.isprintable() for line in lines)
    assert max(len(line) for line in lines) < 300
    assert lines[3].startswith("POST /up?token=… -> refused 400")


def test_the_gateway_log_line_judges_query_and_path_after_percent_decoding(
    logging_gateway: tuple[Any, list[str]],
) -> None:
    """A server decodes ``%6B`` as ``k`` and ``%65yJ`` as ``eyJ``: the log
    line judged the raw spelling, so ``?to%6Ben=<token>`` and a token with
    its first letter percent-encoded were printed whole. A token in the path
    (``/sessions/<token>``) was printed too. Both are judged decoded now."""
    gateway, lines = logging_gateway
    base = gateway.origin()
    secret = A_TOKEN
    encoded = "%65" + secret[1:]
    for target in (f"/a?to%6Ben={secret}&probe=1", f"/a?x={encoded}&probe=2", f"/sessions/{encoded}/probe3",
                   f"/keys/sk_test_{'x' * 20}"):
        _raw(base, f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    deadline = time.monotonic() + 5
    while len(lines) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(lines) == 4, lines
    joined = "\n".join(lines)
    assert secret[1:20] not in joined and "sk_test_" not in joined
    assert lines[0].startswith("GET /a?to%6Ben=…&probe=1 -> ")
    assert lines[1].startswith("GET /a?x=…&probe=2 -> ")
    assert lines[2].startswith("GET /sessions/…/probe3 -> ")
    assert lines[3].startswith("GET /keys/… -> ")


# =========================================================================================
# 4. Probes that held
# =========================================================================================


@pytest.mark.parametrize("method", ["post", "Post", "pOST"])
def test_lowercase_methods_a_resolver_uppercases_still_meet_the_cookie_rule(
    make_auth: Any, key: Any, method: str
) -> None:
    """Powertools' resolvers upper-case the method before routing, so an
    event saying ``post`` runs the POST route. The cookie-write origin rule
    reads the method as sent (RFC 9110: case-sensitive) and treats anything
    but exactly GET/HEAD/OPTIONS as a write: a cross-site ``post`` with the
    session cookie is refused before the route, behind ``require_session``
    and in the middleware alike."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from support.events import routed
    from support.tokens import mint

    from clerk_serverless.integrations.powertools import ClerkMiddleware

    auth = make_auth()
    app = APIGatewayRestResolver()
    ran: list[str] = []

    @app.post("/me", middlewares=[ClerkMiddleware(auth=auth)])
    def write() -> dict[str, str]:
        ran.append("route")
        return {"ok": "yes"}

    token = mint(key)
    for handler in (auth.require_session(app.resolve), app.resolve):
        event = routed("rest_v1", "/me", method=method, cookies=[f"__session={token}"], origin="https://evil.example")
        answer = handler(event, None)
        assert answer["statusCode"] == 403, answer
        assert "origin-invalid" in json.dumps(answer)
    assert ran == []


def test_a_credential_given_as_accepts_token_is_not_quoted() -> None:
    """accepts_token=<a secret key> by mistake: the ClerkConfigError (logged at
    cold start) names the setting, never the key; a typo is still quoted."""
    from clerk_serverless import ClerkConfigError
    from clerk_serverless.policy import Policy

    secret = "sk_live_" + "Z" * 40
    with pytest.raises(ClerkConfigError) as info:
        Policy.build(accepts_token=[secret])
    assert secret not in str(info.value) and "accepts_token" in str(info.value)
    with pytest.raises(ClerkConfigError, match="'api_keys' is not a token type"):
        Policy.build(accepts_token="api_keys")

