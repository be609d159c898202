"""The bounded HTTP client against real loopback servers: what it reads
correctly, what it refuses, and that one wall-time budget holds whatever the
server does — trickled status line, headers, chunk framing or body, a server
that accepts and never answers, a TLS handshake that stalls or trickles.

Asserting ``elapsed < timeout + margin`` is the behaviour under test here (an
upper bound), not a speed claim."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.jwks_server import JwksServer, SilentServer, TrickleRelay, tls_files
from support.tokens import SigningKey

from clerk_serverless.errors import JwksFetchError
from clerk_serverless.httpget import MAX_BYTES, HttpResponse, http_get, http_request, retry_after_seconds
from clerk_serverless.keys import parse_jwks

BUDGET = 1.0
MARGIN = 1.0  # thread scheduling and teardown; the old client took the budget per byte
SECRET = "sk_test_supersecret"


def document(key: SigningKey) -> bytes:
    return json.dumps({"keys": [key.jwk]}).encode()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    return tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_jwks(tls: tuple[Path, Any], signing_keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    server = JwksServer(tls=tls[1]).start()
    server.keys = [signing_keys["current"].jwk]
    yield server
    server.stop()


# -- what it reads -------------------------------------------------------------------------


def test_get_returns_status_lowercase_headers_and_body(jwks: JwksServer, key: SigningKey) -> None:
    response = http_request("GET", jwks.url)
    assert isinstance(response, HttpResponse)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.body == document(key)
    sent = jwks.requests[-1]
    assert sent[":method"] == "GET" and sent[":path"] == "/jwks"
    assert sent["host"] == f"127.0.0.1:{jwks.port}" and sent["connection"] == "close"
    assert sent["accept"] == "application/json" and sent["accept-encoding"] == "identity"


@pytest.mark.parametrize("mode", ["chunked", "interim", "oversized-chunked"])
def test_other_framings(jwks: JwksServer, key: SigningKey, mode: str) -> None:
    jwks.set(mode)
    if mode == "oversized-chunked":  # read to the end of the connection, within the cap
        assert len(http_request("GET", jwks.url, max_bytes=2 * MAX_BYTES).body) == 20 * 65536
    else:
        assert http_request("GET", jwks.url).body == document(key)


def test_post_with_a_json_body_and_any_status(jwks: JwksServer) -> None:
    body = json.dumps({"token": "mt_secret_token"}).encode()
    headers = (("Authorization", f"Bearer {SECRET}"), ("Content-Type", "application/json"))
    jwks.set("status", status=422)
    response = http_request("POST", f"{jwks.base_url}/v1/m2m_tokens/verify", headers, body)
    assert response.status == 422 and response.body == b'{"error":"x"}'
    sent = jwks.requests[-1]
    assert sent[":method"] == "POST" and sent[":path"] == "/v1/m2m_tokens/verify"
    assert sent[":body"] == body.decode() and sent["content-length"] == str(len(body))
    assert sent["authorization"] == f"Bearer {SECRET}" and sent["content-type"] == "application/json"


def test_redirects_are_returned_not_followed(jwks: JwksServer) -> None:
    jwks.set("redirect")
    response = http_request("GET", jwks.url)
    assert response.status == 302 and response.headers["location"] == "https://evil.example/jwks"
    assert jwks.count == 1
    with pytest.raises(JwksFetchError) as info:
        http_get(jwks.url)
    assert info.value.status == 302 and "redirect refused" in str(info.value)


def test_http_get_raises_with_status_and_retry_after(jwks: JwksServer) -> None:
    jwks.set("status", status=429, headers={"Retry-After": "17"})
    with pytest.raises(JwksFetchError) as info:
        http_get(jwks.url)
    assert info.value.status == 429 and info.value.retry_after == 17


@pytest.mark.parametrize("value,seconds", [
    ("17", 17.0), (" 17 ", 17.0), ("0.5", 0.5), ("0", 0.0),  # delta-seconds
    ("-5", -5.0), ("1e999", float("inf")), ("999999999", 999999999.0),  # negative, huge: the callers bound them
    ("Wed, 21 Oct 2015 07:28:00 GMT", None),  # HTTP-date: not read, as @clerk/backend's parseInt does not
    ("7, 8", None), ("abc", None), ("0x10", None), ("nan", None), ("", None), (None, None),  # garbage, missing
])
def test_retry_after_seconds_reads_delta_seconds_only(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


@pytest.mark.parametrize("headers,hint", [
    ({"Retry-After": "17"}, 17.0), ({"Retry-After": "0"}, 0.0), ({"Retry-After": "86399"}, 86399.0),
    ({"Retry-After": "86400"}, None), ({"Retry-After": "1e999"}, None), ({"Retry-After": "-5"}, None),  # a day or more, negative
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None), ({"Retry-After": "abc"}, None), ({}, None),
])
def test_http_get_retry_after_hint_is_none_outside_a_day(jwks: JwksServer, headers: dict[str, str], hint: float | None) -> None:
    """A JWKS fetch's hint is the header's seconds from 0 up to a day; else
    None, and the key store falls back to its own back-off."""
    jwks.set("status", status=503, headers=headers)
    with pytest.raises(JwksFetchError) as info:
        http_get(jwks.url)
    assert info.value.status == 503 and info.value.retry_after == hint


def test_plain_http_to_localhost_by_name(jwks: JwksServer, key: SigningKey) -> None:
    assert http_get(f"http://localhost:{jwks.port}/jwks") == document(key)  # resolved off-thread


# -- what it refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://example.com/jwks", "ftp://127.0.0.1/jwks", "https:///jwks", "http://127.0.0.1:99999/x",
     "http://127.0.0.1/a b", "http://127.0.0.1/\r\nX-Injected: 1"],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(JwksFetchError):
        http_request("GET", url)


@pytest.mark.parametrize(
    "headers",
    [(("Authorization", f"Bearer {SECRET}\r\nX-Injected: 1"),), (("Authorization", f"Bearer {SECRET}\n"),),
     (("Bad Name", "v"),), (("Content-Length", "5"),), (("Host", "evil.example"),)],
)
def test_refused_request_headers_never_echo_their_value(jwks: JwksServer, headers: Any) -> None:
    with pytest.raises(JwksFetchError) as info:
        http_request("GET", jwks.url, headers)
    assert SECRET not in str(info.value)
    assert jwks.count == 0


@pytest.mark.parametrize(
    "mode,kw,problem",
    [("oversized", {}, "larger than"), ("oversized-chunked", {}, "larger than"), ("chunked", {"max_bytes": 100}, "larger than"),
     ("truncated", {}, "truncated"), ("refuse", {}, "")],
)
def test_bad_answers_raise(jwks: JwksServer, mode: str, kw: dict[str, Any], problem: str) -> None:
    jwks.set(mode)
    with pytest.raises(JwksFetchError) as info:
        http_request("POST", jwks.url, (("Authorization", f"Bearer {SECRET}"),), b'{"token":"t0ken"}', **kw)
    assert problem in str(info.value) and info.value.status is None
    assert SECRET not in str(info.value) and "t0ken" not in str(info.value)


def test_untrusted_certificate_is_refused(https_jwks: JwksServer) -> None:
    with pytest.raises(JwksFetchError) as info:
        http_get(https_jwks.url)
    assert "SSLCertVerificationError" in str(info.value)


def test_https_end_to_end_with_a_trusted_ca(https_jwks: JwksServer, tls: tuple[Path, Any], key: SigningKey) -> None:
    """In a child process trusting our throwaway CA (``SSL_CERT_FILE``): GET by
    IP and by name, a POST, and the chunked framing, all over TLS; none of it
    loads the idna codec (hosts go to getaddrinfo and TLS as ASCII bytes: its
    import is a cold start's loss)."""
    script = textwrap.dedent(
        """
        import json, sys
        from clerk_serverless.httpget import http_get, http_request
        from clerk_serverless.keys import parse_jwks
        port = int(sys.argv[1])
        out = {
            "ip": list(parse_jwks(http_get(f"https://127.0.0.1:{port}/jwks"))),
            "name": list(parse_jwks(http_get(f"https://localhost:{port}/jwks"))),
            "post": http_request("POST", f"https://127.0.0.1:{port}/v1/api_keys/verify",
                                 (("Content-Type", "application/json"),), b'{"token":"x"}').status,
            "idna": "encodings.idna" in sys.modules,
        }
        print(json.dumps(out))
        """
    )
    env = {**os.environ, "SSL_CERT_FILE": str(tls[0])}
    env.pop("SSL_CERT_DIR", None)
    for mode in ("ok", "chunked"):
        https_jwks.set(mode)
        run = subprocess.run([sys.executable, "-c", script, str(https_jwks.port)], env=env, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {"ip": [key.kid], "name": [key.kid], "post": 200, "idna": False}
    assert https_jwks.requests[-1][":body"] == '{"token":"x"}'


# -- one budget, whatever the server does ---------------------------------------------------

TRICKLES = [
    ("trickle-status", 0.2),  # 17 bytes: 3.4 s if each byte reset the timeout
    ("trickle-headers", 0.1),
    ("trickle-chunked", 0.05),
    ("trickle-chunks", 0.02),
    ("trickle", 0.05),
    ("stall", 0.0),
]


@pytest.mark.parametrize("mode,delay", TRICKLES, ids=[m for m, _ in TRICKLES])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_trickling_or_stalling_server_is_cut_at_the_budget(jwks: JwksServer, mode: str, delay: float, method: str) -> None:
    jwks.set(mode, delay=delay)
    started = time.monotonic()
    with pytest.raises(JwksFetchError) as info:
        http_request(method, jwks.url, (("Authorization", f"Bearer {SECRET}"),), b"{}" if method == "POST" else None,
                     timeout=BUDGET)
    elapsed = time.monotonic() - started
    assert "timed out" in str(info.value) and SECRET not in str(info.value)
    assert elapsed < BUDGET + MARGIN
    assert jwks.count == 1


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_server_that_accepts_and_never_answers(scheme: str) -> None:
    """Over https this is a TLS handshake that never gets its ServerHello."""
    silent = SilentServer().start()
    try:
        started = time.monotonic()
        with pytest.raises(JwksFetchError) as info:
            http_get(silent.url(scheme), timeout=BUDGET)
        assert "timed out" in str(info.value)
        assert time.monotonic() - started < BUDGET + MARGIN
        assert silent.accepted == 1
    finally:
        silent.stop()


def test_trickled_tls_handshake(https_jwks: JwksServer) -> None:
    relay = TrickleRelay(https_jwks.port, delay=0.01).start()  # ServerHello + certificate: ~10 s at this pace
    try:
        started = time.monotonic()
        with pytest.raises(JwksFetchError) as info:
            http_get(relay.url("https"), timeout=BUDGET)
        assert "timed out" in str(info.value)
        assert time.monotonic() - started < BUDGET + MARGIN
    finally:
        relay.stop()


def test_a_trickle_within_the_budget_still_succeeds(jwks: JwksServer, key: SigningKey) -> None:
    jwks.set("trickle-status", delay=0.01)
    assert parse_jwks(http_get(jwks.url, timeout=3.0))[key.kid] is not None
