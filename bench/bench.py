"""Per-request cost of verifying a Clerk session token, against peers, in one run.

    python bench/bench.py [--quick] [--markdown] [--update-readme]

Rows (µs per request, best of several rounds; ratio against a raw RSA verify):

* raw RSA-2048 PKCS#1 v1.5 verify with ``cryptography`` (the floor);
* the least any Python verifier of a new token does, by hand (split, base64,
  verify, the payload's JSON, ``exp``; no event, no other check, no cache);
* ``require_session`` on an HTTP API v2 event, first-seen token (the token
  cache is emptied before each request, so each one is fully verified and
  cached, as a token's first request is);
* the same with a distinct token and event object per request: the working
  set (thousands of tokens) no longer fits the CPU caches, so this row also
  measures memory latency that a Lambda request, whose event was just
  parsed, does not pay;
* ``require_session`` on the same event, repeated token (warm token cache);
* PyJWT ``jwt.decode`` (RS256, key given);
* clerk-backend-api ``authenticate_request(jwt_key=…)``;
* Powertools ``auth_alpha`` ``JWTVerifier`` (static key set; it insists on an
  ``aud`` claim, so its token carries one).

Numbers are for this machine and this run only; the ratios are what to
compare. ``--markdown`` prints the README's block (table and summary) for
this run; ``--update-readme`` writes it between the README's bench markers.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

ORIGIN = "https://app.example.com"
ISSUER = "https://clerk.example.com"


def _claims(i: int, now: int) -> dict[str, Any]:
    return {
        "sub": f"user_{i:06d}",
        "sid": f"sess_{i:06d}",
        "azp": ORIGIN,
        "iss": ISSUER,
        "iat": now - 1,
        "nbf": now - 6,
        "exp": now + 3600,
        "v": 2,
        "fea": "o:reports",
        "o": {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read,manage", "fpm": "3"},
    }


def _event(token: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "GET /me",
        "rawPath": "/me",
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "authorization": f"Bearer {token}",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "origin": ORIGIN,
            "user-agent": "Mozilla/5.0",
            "x-forwarded-for": "203.0.113.7",
        },
        "requestContext": {
            "http": {"method": "GET", "path": "/me", "sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"},
            "requestId": "id",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _minimum_verifier(public: Any, pad: Any, sha: Any) -> Callable[[str], dict[str, Any]]:
    """The least a Python verifier of a new token does, written by hand: split,
    two base64 decodes (the header's parse is remembered, as ours is), the
    RSA verify, the payload's JSON and ``exp``. No event, no other check, no
    cache: the floor under the first-seen row."""
    to_std = bytes.maketrans(b"-_", b"+/")
    headers: dict[bytes, Any] = {}
    decoder = json.JSONDecoder()

    def verify(token: str) -> dict[str, Any]:
        raw = token.encode("ascii")
        header, payload, sig = raw.split(b".")
        if header not in headers:
            headers[header] = json.loads(binascii.a2b_base64(header.translate(to_std) + b"=="))
        public.verify(binascii.a2b_base64(sig.translate(to_std) + b"=="), raw[: len(header) + len(payload) + 1], pad, sha)
        claims: dict[str, Any] = decoder.raw_decode(binascii.a2b_base64(payload.translate(to_std) + b"==").decode())[0]
        if claims["exp"] <= time.time():
            raise ValueError("expired")
        return claims

    return verify


def measure(cases: list[tuple[str, Callable[[], Any]]], n: int, rounds: int) -> list[tuple[str, float]]:
    """Best per-call time (µs) of each case over ``rounds`` rounds of ``n`` calls.

    Rounds are interleaved (every case once per round) so that a slow patch of
    a noisy machine hits all rows alike and the ratios stay comparable.
    """
    best = {name: float("inf") for name, _ in cases}
    for _ in range(rounds):
        for name, fn in cases:
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / n * 1e6)
    return [(name, best[name]) for name, _ in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--markdown", action="store_true", help="also print the README block (Markdown)")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the table in README.md")
    args = parser.parse_args()
    n, rounds = (300, 3) if args.quick else (1000, 21)

    from clerk_serverless import ClerkAuth

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    now = int(time.time())
    headers = {"kid": "ins_bench", "typ": "JWT"}
    print(f"minting {n * rounds + 1} tokens…", file=sys.stderr)
    tokens = [jwt.encode(_claims(i, now), key, algorithm="RS256", headers=headers) for i in range(n * rounds + 1)]
    token = tokens[0]
    h, p, s = token.split(".")
    signing_input, signature = f"{h}.{p}".encode(), base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    pad, sha = padding.PKCS1v15(), hashes.SHA256()

    auth = ClerkAuth(jwt_key=pem, authorized_parties=[ORIGIN], issuer=ISSUER)

    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": event["session"].user_id}

    event = _event(token)
    assert handler(event, None)["statusCode"] == 200
    fresh = iter([_event(t) for t in tokens[1:]])
    cache = auth.verifier.cache

    def first_seen() -> None:
        cache.discard(token)  # the token is new to the cache: full verification, then a put
        handler(event, None)

    def distinct() -> None:
        if handler(next(fresh), None)["statusCode"] != 200:
            raise SystemExit("a first-seen request failed")

    minimum = _minimum_verifier(public, pad, sha)
    assert minimum(token)["sub"] == "user_000000"
    cases: list[tuple[str, Callable[[], Any]]] = [
        (RAW, lambda: public.verify(signature, signing_input, pad, sha)),
        (MINIMUM, lambda: minimum(token)),
        (FIRST, first_seen),
        ("  same, a distinct token and event each time (cold CPU caches)", distinct),
        (REPEATED, lambda: handler(event, None)),
        (
            "PyJWT jwt.decode (RS256)",
            lambda: jwt.decode(token, public, algorithms=["RS256"], options={"verify_aud": False}),
        ),
    ]
    try:
        from clerk_backend_api.security import authenticate_request
        from clerk_backend_api.security.types import AuthenticateRequestOptions

        class _Req:
            def __init__(self, hdrs: dict[str, str]) -> None:
                self.headers = hdrs

        options = AuthenticateRequestOptions(jwt_key=pem, authorized_parties=[ORIGIN])
        req = _Req({"Authorization": f"Bearer {token}", "Origin": ORIGIN})
        assert authenticate_request(req, options).is_signed_in
        cases.append((CLERK, lambda: authenticate_request(req, options)))
    except ImportError:
        print("clerk-backend-api not installed: row skipped", file=sys.stderr)
    try:
        from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier

        audience = "https://api.example.com"
        aud_token = jwt.encode({**_claims(0, now), "aud": audience}, key, algorithm="RS256", headers=headers)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        jwks = {"keys": [{**jwk, "kid": headers["kid"], "use": "sig", "alg": "RS256"}]}
        verifier = JWTVerifier(
            issuer=ISSUER, audience=audience, algorithms=["RS256"], jwks=jwks, required_claims=["sub"]
        )
        assert verifier.verify(aud_token)["sub"] == "user_000000"
        cases.append((POWERTOOLS, lambda: verifier.verify(aud_token)))
    except ImportError:
        print("aws-lambda-powertools not installed: row skipped", file=sys.stderr)

    # The setup above leaves tens of thousands of live objects (tokens, events)
    # that a Lambda process does not have; freezing them keeps the garbage
    # collector's full passes from charging their traversal to every row.
    gc.collect()
    gc.freeze()
    rows = measure(cases, n, rounds)
    report(rows)
    if args.markdown:
        print("\n" + "\n".join(readme_block(rows, rounds, n)))
    if args.update_readme:
        update_readme(rows, rounds, n)
    print(f"python {sys.version.split()[0]}, best of {rounds} interleaved rounds × {n} calls", file=sys.stderr)


RAW = "raw RSA-2048 verify (cryptography)"
MINIMUM = "by-hand minimum verifier (split, base64, verify, JSON, exp; nothing else)"
FIRST = "require_session, first-seen token (HTTP API v2)"
REPEATED = "require_session, repeated token (HTTP API v2)"
CLERK = "clerk-backend-api authenticate_request(jwt_key=…)"
POWERTOOLS = "Powertools auth_alpha JWTVerifier.verify (aud-bearing token)"
README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def markdown_table(rows: list[tuple[str, float]]) -> list[str]:
    raw = dict(rows)[RAW]
    lines = ["| path | µs/request | × raw verify |", "|---|---:|---:|"]
    lines += [f"| {name.strip()} | {us:.1f} | {us / raw:.2f} |" for name, us in rows]
    return lines


def readme_block(rows: list[tuple[str, float]], rounds: int, n: int) -> list[str]:
    """The README's performance block for this run, markers included."""
    import platform

    by_name = dict(rows)
    raw, first, repeated = by_name[RAW], by_name[FIRST], by_name[REPEATED]
    summary = (
        f"A request with a new token costs {first / raw:.2f}× the RSA verify it cannot avoid; a repeated "
        f"token {repeated / raw:.2f}×."
    )
    if CLERK in by_name:
        summary += f" clerk-backend-api costs {by_name[CLERK] / first:.1f}× our first-seen request"
        summary += f", Powertools' verifier {by_name[POWERTOOLS] / first:.1f}×." if POWERTOOLS in by_name else "."
    return [START, "", f"`python bench/bench.py` — Python {platform.python_version()}, {platform.machine()}, "
            f"best of {rounds} interleaved rounds × {n} calls:", "", *markdown_table(rows), "", summary, "", END]


def update_readme(rows: list[tuple[str, float]], rounds: int, n: int) -> None:
    """Replace the README's block (between the bench markers) with this run's."""
    block = readme_block(rows, rounds, n)
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} … {END} section")
    head, rest = text.split(START, 1)
    README.write_text(head + "\n".join(block) + rest.split(END, 1)[1])
    print("README.md updated", file=sys.stderr)


def report(rows: list[tuple[str, float]]) -> None:
    """Print the table and the targets' verdicts."""
    by_name = dict(rows)
    raw = by_name[RAW]
    width = max(len(name) for name, _ in rows)
    print(f"{'path':<{width}}  {'µs/req':>8}  {'× raw':>6}")
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f}  {us / raw:6.2f}")
    first, repeated = by_name[FIRST], by_name[REPEATED]
    line = f"\nfirst-seen {first / raw:.2f}× raw verify (target ≤ 1.5); repeated {repeated / raw:.2f}× (target ≤ 0.25)"
    if CLERK in by_name:
        line += f"; clerk-backend-api is {by_name[CLERK] / first:.1f}× slower than first-seen (target ≥ 3)"
    print(line)


if __name__ == "__main__":
    main()
