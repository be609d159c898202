"""Threads (as in an ASGI app under Mangum or uvicorn) hammering one
ClerkAuth during a cold cache and during a key rotation: one fetch in flight,
no exception, consistent verdicts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from support.jwks_server import JwksServer
from support.tokens import SigningKey, mint

from clerk_serverless import AuthError, ClerkAuth

THREADS = 24
ROUNDS = 15


def hammer(work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * THREADS
    barrier = threading.Barrier(THREADS)

    def run(index: int) -> None:
        barrier.wait()
        outcomes = []
        for round_ in range(ROUNDS):
            try:
                outcomes.append(work(index * ROUNDS + round_))
            except AuthError as exc:
                outcomes.append(exc.reason)
            except Exception as exc:  # any other exception is a failure of the test
                outcomes.append(f"EXCEPTION {type(exc).__name__}")
        results[index] = outcomes

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcome for outcomes in results for outcome in outcomes]


def test_cold_cache_under_load(jwks: JwksServer, signing_keys: dict[str, SigningKey]) -> None:
    auth = ClerkAuth(jwks_url=jwks.url)
    jwks.set("slow", delay=0.2)
    good, forged = mint(signing_keys["current"]), mint(signing_keys["attacker"], {"kid": signing_keys["current"].kid})

    def work(i: int) -> Any:
        return auth.verify_token(good if i % 3 else forged).user_id

    outcomes = hammer(work)
    assert not [o for o in outcomes if str(o).startswith("EXCEPTION")]
    assert {o for i, o in enumerate(outcomes)} == {"user_2abc", "token-invalid-signature"}
    assert outcomes.count("user_2abc") == sum(1 for i in range(THREADS * ROUNDS) if i % 3)
    # The cold load, then one refetch forced by the forged tokens' bad
    # signatures (the first load does not start the unknown-kid cooldown).
    assert jwks.count == 2 and jwks.max_in_flight == 1


def test_rotation_under_load(jwks: JwksServer, signing_keys: dict[str, SigningKey]) -> None:
    now = [time.time()]
    auth = ClerkAuth(jwks_url=jwks.url, clock=lambda: now[0])
    old, new = signing_keys["current"], signing_keys["next"]
    auth.prefetch()
    jwks.keys = [old.jwk, new.jwk]  # the next key is published
    jwks.set("slow", delay=0.2)
    now[0] += 301  # keys are due for refresh, and tokens with the new kid arrive
    issued = int(now[0])
    tokens = {
        "old": mint(old, iat=issued, nbf=issued - 5, exp=issued + 60),
        "new": mint(new, iat=issued, nbf=issued - 5, exp=issued + 60),
        "forged": mint(signing_keys["attacker"], {"kid": new.kid}, iat=issued, exp=issued + 60),
    }
    names = list(tokens)

    def work(i: int) -> Any:
        name = names[i % 3]
        return (name, auth.verify_token(tokens[name]).user_id)

    outcomes = hammer(work)
    assert not [o for o in outcomes if str(o).startswith("EXCEPTION")]
    verdicts = {(names[i % 3], o if isinstance(o, str) else o[1]) for i, o in enumerate(outcomes)}
    assert verdicts == {("old", "user_2abc"), ("new", "user_2abc"), ("forged", "token-invalid-signature")}
    assert jwks.max_in_flight == 1
    assert jwks.count == 2  # the prefetch, then one refresh shared by every thread


BUDGET = 1.0
MARGIN = 1.0  # an upper bound is the behaviour under test, not a speed claim


def timed_in_threads(work: Callable[[], Any], count: int = 8) -> list[tuple[Any, float]]:
    """``work()`` in ``count`` threads at once: each outcome and its wall time."""
    results: list[tuple[Any, float]] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        barrier.wait()
        started = time.monotonic()
        try:
            outcome = work()
        except AuthError as exc:
            outcome = exc.reason
        except Exception as exc:
            outcome = f"EXCEPTION {type(exc).__name__}"
        results.append((outcome, time.monotonic() - started))

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_stale_keys_answer_within_the_budget_while_the_refresh_trickles(
    jwks: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    now = [time.time()]
    auth = ClerkAuth(jwks_url=jwks.url, clock=lambda: now[0], fetch_timeout=BUDGET)
    auth.prefetch()
    jwks.set("trickle-status", delay=0.2)  # the status line alone would take 3.4 s
    now[0] += 301  # every thread holds valid keys, due for refresh
    issued = int(now[0])
    token = mint(signing_keys["current"], iat=issued, nbf=issued - 5, exp=issued + 60)
    results = timed_in_threads(lambda: auth.verify_token(token).user_id)
    assert [outcome for outcome, _ in results] == ["user_2abc"] * 8
    assert max(elapsed for _, elapsed in results) < BUDGET + MARGIN
    assert jwks.count == 2 and jwks.max_in_flight == 1  # the prefetch, then one refresh


def test_cold_start_against_a_stalled_server_answers_503_within_the_budget(
    jwks: JwksServer, signing_keys: dict[str, SigningKey]
) -> None:
    auth = ClerkAuth(jwks_url=jwks.url, fetch_timeout=BUDGET)
    jwks.set("stall")
    token = mint(signing_keys["current"])
    results = timed_in_threads(lambda: auth.verify_token(token).user_id)
    assert [outcome for outcome, _ in results] == ["jwk-remote-failed-to-load"] * 8
    assert max(elapsed for _, elapsed in results) < BUDGET + MARGIN
    assert jwks.count == 1
