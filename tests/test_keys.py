"""The key store against a real loopback JWKS server: caching, outages,
rotation, faults, single flight."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.calls import recording_handler, send_token
from support.clerk_api import token_secret
from support.jwks_server import JwksServer
from support.tokens import ISSUER, ORIGIN, Clock, SigningKey, fresh, mint

from clerk_serverless import ClerkAuth, KeysUnavailableError
from clerk_serverless.errors import JwksFetchError, JwksInvalidError
from clerk_serverless.keys import JwksKeyStore, fetch_jwks, parse_jwks, rsa_public_key


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guarded(make_auth: Any, clock: Clock) -> Any:
    handler = recording_handler(make_auth(clock=clock).require_session)
    return handler


def ok(handler: Any, token: str) -> int:
    return send_token(handler, "http_v2", token).status


# -- the cache ----------------------------------------------------------------------------


def test_keys_are_fetched_once_and_reused_while_fresh(guarded: Any, jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    for _ in range(20):
        assert ok(guarded, fresh(key, clock)) == 200
        clock.advance(10)
    assert jwks.count == 1


def test_keys_are_refreshed_after_the_ttl(guarded: Any, jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    assert ok(guarded, fresh(key, clock)) == 200
    clock.advance(301)
    assert ok(guarded, fresh(key, clock)) == 200
    assert jwks.count == 2


def test_cold_start_outage_is_503_never_401(guarded: Any, jwks: JwksServer, key: SigningKey) -> None:
    jwks.set("status", status=503)
    out = send_token(guarded, "http_v2", mint(key))
    assert out.status == 503
    assert out.reason == "jwk-remote-failed-to-load"
    assert int(out.headers["retry-after"]) >= 1
    assert "x-clerk-auth-status" not in out.headers  # a frontend must not read this as signed out


def test_cold_outage_is_not_a_fetch_per_request(guarded: Any, jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    jwks.set("status", status=500)
    for _ in range(50):
        assert send_token(guarded, "http_v2", fresh(key, clock)).status == 503
    assert jwks.count == 1  # backing off
    clock.advance(6)
    jwks.set("ok")
    assert ok(guarded, fresh(key, clock)) == 200
    assert jwks.count == 2


def test_warm_outage_past_ttl_keeps_serving_stale_keys(guarded: Any, jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    assert ok(guarded, fresh(key, clock)) == 200
    jwks.set("status", status=502)
    for _ in range(12):  # an hour of outage, a request every 5 minutes
        clock.advance(300)
        assert ok(guarded, fresh(key, clock)) == 200
    assert jwks.count <= 13


def test_stale_keys_expire_after_the_stale_window(guarded: Any, jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    assert ok(guarded, fresh(key, clock)) == 200
    jwks.set("refuse")
    clock.advance(23 * 3600)
    assert ok(guarded, fresh(key, clock)) == 200
    clock.advance(2 * 3600)
    assert send_token(guarded, "http_v2", fresh(key, clock)).status == 503


def test_backoff_grows_and_honours_retry_after(jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, clock=clock)
    jwks.set("status", status=429, headers={"Retry-After": "40"})
    with pytest.raises(KeysUnavailableError) as info:
        auth.prefetch()
    assert info.value.retry_after == pytest.approx(40, abs=1)
    clock.advance(39)
    with pytest.raises(KeysUnavailableError):
        auth.verify_token(fresh(key, clock))
    assert jwks.count == 1
    clock.advance(2)
    jwks.set("ok")
    assert auth.verify_token(fresh(key, clock)).user_id == "user_2abc"
    assert jwks.count == 2


# -- rotation ------------------------------------------------------------------------------


def test_rotation_with_overlap(guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock) -> None:
    old, new = signing_keys["current"], signing_keys["next"]
    old_token = fresh(old, clock)
    assert ok(guarded, old_token) == 200
    jwks.keys = [old.jwk, new.jwk]  # Clerk publishes the next key before using it
    clock.advance(31)  # past the unknown-kid cooldown
    assert ok(guarded, fresh(new, clock)) == 200  # unknown kid → one refetch
    assert ok(guarded, old_token) == 200  # old tokens keep working during the overlap
    assert jwks.count == 2


def test_removed_key_stops_verifying_even_cached_tokens(guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock) -> None:
    old, new = signing_keys["current"], signing_keys["next"]
    old_token = mint(old, exp=int(time.time()) + 3600)
    assert ok(guarded, old_token) == 200
    jwks.keys = [new.jwk]
    clock.advance(301)  # next request refreshes the key set
    out = send_token(guarded, "http_v2", old_token)
    assert out.status == 401 and out.reason == "jwk-kid-mismatch"


def test_refresh_with_identical_keys_keeps_cached_verdicts(jwks: JwksServer, key: SigningKey) -> None:
    first = parse_jwks(fetch_jwks(jwks.url))
    second = parse_jwks(fetch_jwks(jwks.url), first)
    assert second[key.kid] is first[key.kid]


def test_key_replaced_under_the_same_kid(guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock) -> None:
    current, replacement = signing_keys["current"], signing_keys["next"]
    assert ok(guarded, fresh(current, clock)) == 200
    jwks.keys = [dict(replacement.jwk, kid=current.kid)]
    clock.advance(31)
    replaced = SigningKey(current.kid, replacement.private)
    assert ok(guarded, fresh(replaced, clock)) == 200  # bad signature → one cooldown-limited refetch


# -- refetch after a cold start -------------------------------------------------------------


def test_key_replaced_right_after_a_cold_start_is_picked_up_by_one_refetch(
    guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock
) -> None:
    current, replacement = signing_keys["current"], signing_keys["next"]
    assert ok(guarded, fresh(current, clock)) == 200  # the cold start's first load
    jwks.keys = [dict(replacement.jwk, kid=current.kid)]
    clock.advance(1)  # well within the unknown-kid cooldown
    replaced = SigningKey(current.kid, replacement.private)
    assert ok(guarded, fresh(replaced, clock)) == 200  # bad signature → one refetch
    assert jwks.count == 2
    forged = mint(signing_keys["attacker"], {"kid": current.kid}, iat=int(clock.now), exp=int(clock.now) + 60)
    assert send_token(guarded, "http_v2", forged).reason == "token-invalid-signature"
    assert jwks.count == 2  # that refetch started the cooldown window


def test_kid_published_right_after_a_cold_start_is_picked_up(
    guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock
) -> None:
    old, new = signing_keys["current"], signing_keys["next"]
    assert ok(guarded, fresh(old, clock)) == 200
    jwks.keys = [old.jwk, new.jwk]
    clock.advance(1)
    assert ok(guarded, fresh(new, clock)) == 200  # unknown kid → one refetch
    assert jwks.count == 2


def test_forged_tokens_cost_one_extra_fetch_per_cooldown_window(
    guarded: Any, jwks: JwksServer, signing_keys: Any, clock: Clock
) -> None:
    current, attacker = signing_keys["current"], signing_keys["attacker"]

    def attack() -> None:
        now = int(clock.now)
        claims = {"iat": now - 2, "nbf": now - 7, "exp": now + 60}
        assert send_token(guarded, "http_v2", mint(attacker, {"kid": current.kid}, **claims)).status == 401
        assert send_token(guarded, "http_v2", mint(attacker, {"kid": f"ins_{now}"}, **claims)).status == 401

    attack()  # cold: the first load, then one refetch
    assert jwks.count == 2
    for _ in range(14):  # 28 s: inside the window that refetch started
        clock.advance(2)
        attack()
    assert jwks.count == 2
    clock.advance(3)  # the window is over: one more refetch, then quiet again
    for _ in range(10):
        attack()
    assert jwks.count == 3


def test_waiters_never_wait_past_the_fetch_budget(jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    """However long the fetch in flight takes (this loader allows itself 4 s),
    callers waiting on it give up at the store's budget: stale keys when held,
    else 503."""

    def slow_load(previous: Any) -> Any:
        return parse_jwks(fetch_jwks(jwks.url, timeout=4.0), previous)

    def waiters_meanwhile(store: JwksKeyStore) -> list[Any]:
        fetcher = threading.Thread(target=lambda: _quietly(store.keys))
        before = jwks.count
        fetcher.start()
        while jwks.count == before:  # the fetch is in flight, stalled at the server
            time.sleep(0.01)
        outcomes: list[Any] = []

        def wait() -> None:
            started = time.monotonic()
            outcomes.append((_quietly(store.keys), time.monotonic() - started))

        threads = [threading.Thread(target=wait) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        jwks.release()
        fetcher.join()
        return outcomes

    warm = JwksKeyStore(slow_load, label="warm", clock=clock, fetch_timeout=0.5)
    warm.keys()
    jwks.set("stall")
    clock.advance(301)  # due for refresh
    for keys, elapsed in waiters_meanwhile(warm):
        assert list(keys) == [key.kid] and elapsed < 0.5 + 1.0

    jwks.set("stall")
    cold = JwksKeyStore(slow_load, label="cold", clock=clock, fetch_timeout=0.5)
    for outcome, elapsed in waiters_meanwhile(cold):
        assert isinstance(outcome, KeysUnavailableError) and elapsed < 0.5 + 1.0


def _quietly(call: Any) -> Any:
    try:
        return call()
    except KeysUnavailableError as exc:
        return exc


# -- faults: the cache is never poisoned --------------------------------------------------

FAULTS = [
    ("status", {"status": 500}),
    ("status", {"status": 503, "headers": {"Retry-After": "3"}}),
    ("status", {"status": 429, "headers": {"Retry-After": "2"}}),
    ("status", {"status": 404}),
    ("garbage", {}),
    ("no-rsa", {}),
    ("no-keys", {}),
    ("oversized", {}),
    ("oversized-chunked", {}),
    ("truncated", {}),
    ("redirect", {}),
    ("refuse", {}),
    ("slow", {"delay": 1.5}),
    ("trickle", {"delay": 0.05}),
]


@pytest.mark.parametrize("mode,settings", FAULTS, ids=[f"{m}-{s.get('status', '')}" for m, s in FAULTS])
def test_fault_on_cold_start_is_503(jwks: JwksServer, key: SigningKey, mode: str, settings: dict[str, Any]) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, fetch_timeout=1.0)
    handler = recording_handler(auth.require_session)
    jwks.set(mode, **settings)
    started = time.monotonic()
    out = send_token(handler, "http_v2", mint(key))
    elapsed = time.monotonic() - started
    assert out.status == 503 and out.reason == "jwk-remote-failed-to-load"
    assert jwks.count == 1  # no retry storm, redirects not followed
    assert elapsed < 1.0 + 0.5  # the fetch budget holds, trickling bodies included
    assert "session" not in handler.seen


@pytest.mark.parametrize("mode,settings", FAULTS, ids=[f"{m}-{s.get('status', '')}" for m, s in FAULTS])
def test_fault_on_refresh_keeps_the_good_keys(jwks: JwksServer, key: SigningKey, clock: Clock, mode: str, settings: dict[str, Any]) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, fetch_timeout=1.0, clock=clock)
    handler = recording_handler(auth.require_session)
    assert ok(handler, fresh(key, clock)) == 200
    jwks.set(mode, **settings)
    clock.advance(301)
    assert ok(handler, fresh(key, clock)) == 200
    assert jwks.count == 2
    assert auth.key_store.snapshot()["keys"] == 1


def test_fetch_errors_name_the_problem_without_secrets(jwks: JwksServer) -> None:
    jwks.set("status", status=401)
    with pytest.raises(JwksFetchError) as info:
        fetch_jwks(jwks.url, (("Authorization", "Bearer sk_test_supersecret"),))
    assert "401" in str(info.value) and "sk_test" not in str(info.value)
    jwks.set("garbage")
    with pytest.raises(JwksInvalidError):
        parse_jwks(fetch_jwks(jwks.url))
    # JSON nested past the parser's depth (1 MiB fits 10**6 brackets): "not
    # JSON", like any garbage, not a RecursionError the store logs as a bug.
    with pytest.raises(JwksInvalidError, match="not JSON"):
        parse_jwks(b'{"keys": ' + b"[" * 200_000)


def test_jwks_filters_unusable_keys(key: SigningKey, signing_keys: Any) -> None:
    import json

    document = {
        "keys": [
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AA", "y": "AA"},
            dict(signing_keys["next"].jwk, use="enc"),
            dict(signing_keys["attacker"].jwk, alg="RS512"),
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "RSA", "n": key.jwk["n"], "e": "AQAB"},  # no kid
            SigningKey.generate("ins_small", 1024).jwk,
            key.jwk,
        ]
    }
    assert list(parse_jwks(json.dumps(document).encode())) == [key.kid]


# -- concurrency and sources -----------------------------------------------------------------


def test_concurrent_cold_requests_share_one_fetch(jwks: JwksServer, key: SigningKey) -> None:
    auth = ClerkAuth(jwks_url=jwks.url)
    jwks.set("slow", delay=0.3)
    token = mint(key)
    results: list[Any] = []
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        try:
            results.append(auth.verify_token(token).user_id)
        except Exception as exc:  # pragma: no cover - reported below
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["user_2abc"] * 16
    assert jwks.count == 1


def test_secret_key_source_calls_the_backend_api(jwks: JwksServer, key: SigningKey) -> None:
    auth = ClerkAuth(secret_key="sk_test_abc123", api_url=jwks.base_url)
    assert auth.verify_token(mint(key)).user_id == "user_2abc"
    assert jwks.requests[-1]["authorization"] == "Bearer sk_test_abc123"
    assert "sk_test_abc123" not in repr(auth) and "sk_test_abc123" not in repr(auth.key_store.snapshot())


def test_key_stores_are_shared_per_source(jwks: JwksServer, key: SigningKey) -> None:
    a, b = ClerkAuth(jwks_url=jwks.url), ClerkAuth(jwks_url=jwks.url, authorized_parties=["https://x.example"])
    assert a.key_store is b.key_store
    a.verify_token(mint(key))
    b.prefetch()
    assert jwks.count == 2  # prefetch always fetches; verification reused a's keys


def test_prefetch_and_mark_stale(jwks: JwksServer, key: SigningKey) -> None:
    auth = ClerkAuth(jwks_url=jwks.url)
    auth.prefetch()
    assert jwks.count == 1
    auth.verify_token(mint(key))
    assert jwks.count == 1
    auth.key_store.mark_stale()
    auth.verify_token(mint(key))
    assert jwks.count == 2


def test_store_reports_events_for_metrics(jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    events: list[str] = []
    store = JwksKeyStore(lambda prev: parse_jwks(fetch_jwks(jwks.url), prev), label="t", clock=clock)
    store.subscribe(events.append)
    store.keys()
    jwks.set("status", status=500)
    clock.advance(301)
    store.keys()
    store.keys()
    assert events == ["jwks-fetch", "jwks-fetch", "jwks-stale-served", "jwks-stale-served"]


# -- SnapStart ---------------------------------------------------------------------------


def test_snapshot_restore_judges_prefetched_keys_by_wall_clock(jwks: JwksServer, key: SigningKey, clock: Clock) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, clock=clock)
    auth.prefetch()  # the init phase: these keys are captured in the snapshot
    assert jwks.count == 1
    clock.advance(3 * 3600)  # the snapshot is restored hours later
    assert auth.verify_token(fresh(key, clock)).user_id == "user_2abc"
    assert jwks.count == 2  # time.monotonic() would not have seen those hours pass


def test_after_restore_hook_revalidates_keys(
    jwks: JwksServer, key: SigningKey, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_restore_py = pytest.importorskip("snapshot_restore_py")
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")  # what Lambda sets under SnapStart
    auth = ClerkAuth(jwks_url=jwks.url, clock=clock)
    auth.prefetch()
    hooks = snapshot_restore_py.get_after_restore()
    assert hooks, "clerk_serverless registers an after-restore hook when the module is available"
    for hook, args, kwargs in hooks:  # what the Lambda runtime does after a restore
        hook(*args, **kwargs)
    auth.verify_token(fresh(key, clock))
    assert jwks.count == 2
    jwks.set("status", status=503)  # revalidation failing after restore: keys keep serving
    for hook, args, kwargs in hooks:
        hook(*args, **kwargs)
    assert auth.verify_token(fresh(key, clock)).user_id == "user_2abc"


def test_connection_refused_is_503_then_recovers(signing_keys: Any, clock: Clock) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    auth = ClerkAuth(jwks_url=f"http://127.0.0.1:{port}/jwks", clock=clock)
    started = time.monotonic()
    with pytest.raises(KeysUnavailableError) as info:
        auth.verify_token(fresh(signing_keys["current"], clock))
    assert time.monotonic() - started < 1.0 and "ConnectionRefusedError" in str(info.value.detail)
    assert auth.key_store.snapshot() == {"source": f"jwks_url (http://127.0.0.1:{port}/jwks)", "keys": 0, "age": None,
                                         "fetch_count": 1, "last_error": str(info.value.detail)}


# -- JWK → RSA key, with PyJWT's PyJWK as the reference ----------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int, pad: int = 0) -> str:
    return _b64(b"\0" * pad + value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _reference(n: Any, e: Any) -> Any:
    """PyJWT's conversion, or None when it refuses."""
    import jwt

    try:
        return jwt.PyJWK({"kty": "RSA", "kid": "k", "n": n, "e": e}, "RS256").key.public_numbers()
    except Exception:
        return None


def _ours_numbers(n: Any, e: Any) -> Any:
    try:
        return rsa_public_key({"n": n, "e": e}).public_numbers()
    except JwksInvalidError:
        return None


def _jwk_cases(signing_keys: dict[str, SigningKey]) -> list[tuple[str, Any, Any, bool]]:
    """(name, n, e, we accept?)."""
    from cryptography.hazmat.primitives.asymmetric import rsa as rsa_keys

    def numbers(bits: int, e: int = 65537) -> Any:
        return rsa_keys.generate_private_key(public_exponent=e, key_size=bits).public_key().public_numbers()

    good = signing_keys["current"].jwk
    n = int.from_bytes(base64.urlsafe_b64decode(good["n"] + "=="), "big")
    last = good["n"][-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 256 octets = 2048 bits: the last character carries 4 unused bits.
    non_canonical = good["n"][:-1] + alphabet[alphabet.index(last) | 1]
    cases = [
        ("2048, e=65537", good["n"], good["e"], True),
        ("one leading zero octet in n", _uint(n, pad=1), "AQAB", True),
        ("one leading zero octet in e", good["n"], _uint(65537, pad=1), True),
        ("two leading zero octets in n", _uint(n, pad=2), "AQAB", False),
        ("padded n", good["n"] + "==", "AQAB", False),
        ("padded e", good["n"], "AQAB=", False),
        ("whitespace in n", good["n"][:100] + "\n" + good["n"][100:], "AQAB", False),
        ("standard alphabet", good["n"].replace("-", "+").replace("_", "/"), "AQAB", "-" not in good["n"] + good["e"] and "_" not in good["n"]),
        ("non-alphabet characters", good["n"][:-4] + "!!!!", "AQAB", False),
        ("non-canonical trailing bits", non_canonical, "AQAB", non_canonical == good["n"]),
        ("length 1 mod 4", good["n"] + "A", "AQAB", False),
        ("empty n", "", "AQAB", False),
        ("empty e", good["n"], "", False),
        ("garbage n", "!!", "AQAB", False),
        ("e = 0", good["n"], "AA", False),
        ("e = 1", good["n"], "AQ", False),
        ("e = 2", good["n"], "Ag", False),
        ("e even", good["n"], _uint(65536), False),
        ("e of 64 bits", good["n"], _uint(2**64 + 1), False),
        ("e of 33 bits", good["n"], _uint(2**32 + 15), True),
        ("n even", _uint(n + 1), "AQAB", False),
        ("n of 1024 bits", _uint(numbers(1024).n), "AQAB", False),
        ("n of 2047 bits", _uint(n >> 1 | 1), "AQAB", False),
        ("n of 9000 bits", _uint(2**8999 + 1), "AQAB", False),
        ("n of 2**20 bits", "_" * 174763, "AQAB", False),
        ("n not a string", n, "AQAB", False),
        ("e not a string", good["n"], 65537, False),
        ("n missing", None, "AQAB", False),
    ]
    for bits, e in ((3072, 65537), (4096, 65537), (2048, 3)):
        key = numbers(bits, e)
        cases.append((f"{bits}, e={e}", _uint(key.n), _uint(key.e), True))
    return cases


def test_jwk_conversion_matches_pyjwt_and_is_stricter(signing_keys: dict[str, SigningKey]) -> None:
    for name, n, e, accepted in _jwk_cases(signing_keys):
        ours, reference = _ours_numbers(n, e), _reference(n, e)
        assert (ours is not None) == accepted, name
        if ours is not None:  # never accept what PyJWT refuses, never read another key
            assert ours == reference, name


@settings(max_examples=300, deadline=None)
@given(
    n=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ \n!", min_size=338, max_size=346),
    e=st.sampled_from(["AQAB", "Aw", "AQAB=", "AQA", "AAEAAQ", "AAAAAQAB", "Ag", "AQ", "EQ", "_____w", "AQABAQABAQ"]),
)
def test_jwk_conversion_never_accepts_what_pyjwt_reads_differently(n: str, e: str) -> None:
    ours = _ours_numbers(n, e)
    if ours is not None:
        assert ours == _reference(n, e)


def test_the_runtime_never_imports_pyjwt(jwks: JwksServer, key: SigningKey) -> None:
    """``import clerk_serverless`` and a verified request through ClerkAuth on a
    JWKS URL, in a fresh interpreter: ``jwt`` never enters ``sys.modules``."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from support.events import make_event
    from support.tokens import ISSUER, ORIGIN

    script = """
import json, sys
import clerk_serverless
after_import = sorted(m for m in sys.modules if m.split(".")[0] == "jwt")
from clerk_serverless import ClerkAuth
auth = ClerkAuth(jwks_url=sys.argv[1], authorized_parties=[sys.argv[2]], issuer=sys.argv[3])

@auth.require_session
def handler(event, context):
    return {"statusCode": 200, "body": event["session"].user_id}

out = handler(json.load(sys.stdin), None)
print(json.dumps({"status": out["statusCode"], "body": out["body"], "after_import": after_import,
                  "after_request": sorted(m for m in sys.modules if m.split(".")[0] == "jwt")}))
"""
    event = make_event("http_v2", bearer=mint(key))
    run = subprocess.run([sys.executable, "-c", script, jwks.url, ORIGIN, ISSUER], input=json.dumps(event),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"status": 200, "body": "user_2abc", "after_import": [], "after_request": []}
    assert jwks.count == 1
    package = Path(__file__).resolve().parent.parent / "clerk_serverless"
    imports = [f"{path.relative_to(package)}:{number}" for path in package.rglob("*.py")
               for number, line in enumerate(path.read_text().splitlines(), 1)
               if line.strip().startswith(("import jwt", "from jwt"))]
    assert imports == []


@pytest.mark.parametrize("source", ["jwks_url", "jwt_key"])
def test_after_prefetch_the_first_request_loads_no_module(source: str, jwks: JwksServer, key: SigningKey) -> None:
    """``auth.prefetch()`` loads what the first signature check would
    (hashlib, cryptography's padding, OpenSSL's RSA implementation), with a
    networkless PEM key too: in a fresh interpreter, the first verified
    request after it adds nothing to ``sys.modules``, and the keys were
    fetched once."""
    import json
    import subprocess
    import sys

    from support.events import make_event

    script = """
import json, sys
from clerk_serverless import ClerkAuth
auth = ClerkAuth(**{sys.argv[1]: sys.argv[2]}, authorized_parties=[sys.argv[3]], issuer=sys.argv[4])
auth.prefetch()
loaded = set(sys.modules)

@auth.require_session
def handler(event, context):
    return {"statusCode": 200, "body": event["session"].user_id}

out = handler(json.load(sys.stdin), None)
print(json.dumps({"status": out["statusCode"], "new": sorted(set(sys.modules) - loaded)}))
"""
    config = jwks.url if source == "jwks_url" else key.public_pem
    event = make_event("http_v2", bearer=mint(key))
    run = subprocess.run([sys.executable, "-c", script, source, config, ORIGIN, ISSUER], input=json.dumps(event),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"status": 200, "new": []}
    assert jwks.count == (1 if source == "jwks_url" else 0)


def test_two_instances_behind_one_api_url_keep_their_own_keys(clerk_api: Any) -> None:
    """Backend API keys are cached per instance, not per URL: a Clerk ``kid``
    is the instance's ID, but two instances' keys met under one (clerk-sdk-python
    7.0.0 fixed a JWKS cache keyed on the kid alone, AISEC-82). Instance B,
    configured after A with the same ``api_url`` and a key under the same kid,
    accepts its own tokens and refuses A's."""
    first, second = SigningKey.generate("ins_shared"), SigningKey.generate("ins_shared")

    def instance(secret_key: str) -> Any:
        auth = ClerkAuth(secret_key=secret_key, api_url=clerk_api.url, issuer=ISSUER, authorized_parties=[ORIGIN])
        return recording_handler(auth.require_session)

    clerk_api.secret_key, clerk_api.keys = token_secret("sk_test_"), [first.jwk]
    a = instance(clerk_api.secret_key)
    assert send_token(a, "http_v2", mint(first)).status == 200
    clerk_api.secret_key, clerk_api.keys = token_secret("sk_test_"), [second.jwk]
    b = instance(clerk_api.secret_key)
    assert send_token(b, "http_v2", mint(second)).status == 200
    refused = send_token(b, "http_v2", mint(first))
    assert (refused.status, refused.reason) == (401, "token-invalid-signature")


# -- a Frontend API behind a proxy ------------------------------------------------------------

PK_LIVE = "pk_live_Y2xlcmsuZXhhbXBsZS5jb20k"  # clerk.example.com: never reached below
PROXY_ISS = "https://app.example.com/__clerk"  # what a proxied instance's tokens carry as iss


def test_proxied_frontend_api_keys_come_through_the_proxy(monkeypatch: pytest.MonkeyPatch, jwks: JwksServer,
                                                         key: SigningKey, clock: Clock) -> None:
    """A proxied production instance configured as Clerk's docs say (the two
    keys and CLERK_PROXY_URL): the keys come from the proxy's
    /.well-known/jwks.json, without the secret key; the key's own host (which
    may have no DNS) is never asked, nor the Backend API; a token whose iss is
    the proxy URL passes, and pins when listed in issuer."""
    monkeypatch.setenv("CLERK_PUBLISHABLE_KEY", PK_LIVE)
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_live_Zq7secretBODY0123456789abcdef")
    monkeypatch.setenv("CLERK_PROXY_URL", f"{jwks.base_url}/__clerk/")
    monkeypatch.setenv("CLERK_API_URL", "http://127.0.0.1:9")  # a Backend API call would fail the test
    for auth in (ClerkAuth(clock=clock), ClerkAuth(clock=clock, issuer=PROXY_ISS)):
        handler = recording_handler(auth.require_session)
        assert send_token(handler, "http_v2", fresh(key, clock, iss=PROXY_ISS)).status == 200
    assert [r[":path"] for r in jwks.requests] == ["/__clerk/.well-known/jwks.json"]  # one store, shared
    assert "authorization" not in jwks.requests[0] and "sk_live" not in repr(jwks.requests)
    out = send_token(recording_handler(ClerkAuth(clock=clock, issuer=PROXY_ISS).require_session), "http_v2",
                     fresh(key, clock, iss="https://clerk.example.com"))
    assert (out.status, out.reason) == (401, "token-invalid-issuer")


def test_an_unanswered_frontend_api_fetch_names_clerk_proxy_url(jwks: JwksServer, key: SigningKey) -> None:
    """A live publishable key's Frontend API that does not answer at all (a
    proxied instance's key host may have no DNS) is a 503 whose log detail
    says how to point the keys at the proxy; an answer (here a 503) is no
    sign of a proxy, and says nothing of it. Still one fetch, no fallback."""
    from clerk_serverless.config import KeySource
    from clerk_serverless.keys import key_store_for

    settings = ClerkAuth(publishable_key=PK_LIVE).settings
    assert settings.key_source.hint is not None
    moved = settings._replace(key_source=KeySource("jwks", "CLERK_PUBLISHABLE_KEY", url=jwks.url,
                                                   hint=settings.key_source.hint))
    for mode, hinted in (("refuse", True), ("status", False)):
        jwks.set(mode, status=503)
        with pytest.raises(KeysUnavailableError) as info:
            key_store_for(moved, Clock()).keys()
        assert ("set CLERK_PROXY_URL (proxy_url) to the proxy's URL" in str(info.value.detail)) is hinted, mode
    assert jwks.count == 2
    assert ClerkAuth(publishable_key="pk_test_Y2xlcmsudGVzdC1pbnN0YW5jZS5leGFtcGxlJA").settings.key_source.hint is None
