"""A scale model of a Lambda fleet verifying Clerk tokens: how many JWKS
fetches it makes, and how many legitimate requests fail, through a key
rotation and a JWKS outage.

    python bench/scale.py [--containers 200] [--invocations 300] [--seed 7]

The model (simulated clock; no network):

* ``--containers`` execution environments over 3 hours, each serving its
  share of ``--invocations`` requests in order and recycled (cold again) every
  45–90 minutes, as Lambda recycles idle or old environments;
* Clerk publishes a new key at 1:00 (both keys served), signs new tokens with
  it from 1:10, and drops the old key at 2:00;
* the JWKS endpoint is down (503) from 1:30 to 1:57;
* 2 % of requests carry forged tokens with random ``kid`` values.

Policies compared, each container holding its own cache:

* **clerk_serverless** — the real :class:`JwksKeyStore`: 5 min fresh,
  stale-if-error for 24 h, failure backoff, 30 s unknown-kid cooldown;
* **networkless PEM** — ``CLERK_JWT_KEY``: no fetch at all (a rotation
  means redeploying the new key);
* **per-request fetch** — fetch the key set for every request;
* **TTL, no stale** — 5 min cache per kid, refetch on a miss, and no stale
  keys: an outage past the TTL fails requests (clerk-backend-api's policy,
  which also answers such failures as signed-out).

Fetches are counted fleet-wide (Clerk's Backend API JWKS is rate limited;
the Frontend API's is served from a CDN) and per minute at the peak.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from clerk_serverless.errors import JwksFetchError, KeysUnavailableError
from clerk_serverless.keys.store import JwksKeyStore

HOUR = 3600.0
ROTATE_PUBLISH, ROTATE_SIGN, ROTATE_DROP = 1.0 * HOUR, 1.0 * HOUR + 600, 2.0 * HOUR
OUTAGE = (1.5 * HOUR, 1.95 * HOUR)
DURATION = 3 * HOUR
FORGED_SHARE = 0.02


class Endpoint:
    """The JWKS endpoint: which keys it serves when, and its outage."""

    def __init__(self) -> None:
        self.fetches: list[float] = []

    def fetch(self, now: float) -> dict[str, object]:
        self.fetches.append(now)
        if OUTAGE[0] <= now < OUTAGE[1]:
            raise JwksFetchError("HTTP 503")
        keys = {}
        if now < ROTATE_DROP:
            keys["ins_key1"] = object()
        if now >= ROTATE_PUBLISH:
            keys["ins_key2"] = object()
        return keys


class OurPolicy:
    name = "clerk_serverless"

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float]) -> None:
        previous: dict[str, Any] = {}

        def load(_: Any) -> dict[str, object]:
            fresh = endpoint.fetch(clock())
            for kid in fresh:  # keep identity for unchanged keys, as parse_jwks does
                fresh[kid] = previous.setdefault(kid, fresh[kid])
            return fresh

        self.store = JwksKeyStore(load, label="model", clock=clock)

    def verify(self, kid: str) -> str:
        try:
            if self.store.keys().get(kid) is not None:
                return "ok"
            return "ok" if self.store.refresh_for(kid).get(kid) is not None else "rejected"
        except KeysUnavailableError:
            return "unavailable"


class Networkless:
    name = "networkless PEM"

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float]) -> None:
        self.clock = clock

    def verify(self, kid: str) -> str:
        # CLERK_JWT_KEY holds the instance key; a rotation means redeploying
        # with the new PEM, here at the moment Clerk starts signing with it.
        if kid.startswith("ins_forged"):
            return "rejected"
        return "ok"


class PerRequestFetch:
    name = "per-request fetch"

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float]) -> None:
        self.endpoint, self.clock = endpoint, clock

    def verify(self, kid: str) -> str:
        try:
            return "ok" if kid in self.endpoint.fetch(self.clock()) else "rejected"
        except JwksFetchError:
            return "unavailable"


class TtlNoStale:
    name = "TTL, no stale"

    def __init__(self, endpoint: Endpoint, clock: Callable[[], float]) -> None:
        self.endpoint, self.clock = endpoint, clock
        self.cache: dict[str, float] = {}

    def verify(self, kid: str) -> str:
        now = self.clock()
        if self.cache.get(kid, -1.0) > now:
            return "ok"
        self.cache.pop(kid, None)
        try:
            keys = self.endpoint.fetch(now)
        except JwksFetchError:
            return "unavailable"
        if kid not in keys:
            return "rejected"
        self.cache[kid] = now + 300
        return "ok"


def simulate(policy_cls: type, containers: int, invocations: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    endpoint = Endpoint()
    now = [0.0]
    clock = lambda: now[0]  # noqa: E731
    per_container = max(1, invocations // containers) if invocations >= containers else 1
    queue: list[tuple[float, int]] = []
    for container in range(containers):
        for _ in range(per_container):
            heapq.heappush(queue, (rng.uniform(0, DURATION), container))
    caches: dict[int, Any] = {}
    recycle_at: dict[int, float] = {}
    outcomes: Counter[str] = Counter()
    while queue:
        now[0], container = heapq.heappop(queue)
        if container not in caches or now[0] >= recycle_at[container]:
            caches[container] = policy_cls(endpoint, clock)
            recycle_at[container] = now[0] + rng.uniform(0.75 * HOUR, 1.5 * HOUR)
        forged = rng.random() < FORGED_SHARE
        kid = f"ins_forged_{rng.randrange(10**9)}" if forged else ("ins_key2" if now[0] >= ROTATE_SIGN else "ins_key1")
        verdict = caches[container].verify(kid)
        outcomes[("forged " if forged else "legit ") + verdict] += 1
    per_minute = Counter(int(t // 60) for t in endpoint.fetches)
    legit = sum(v for k, v in outcomes.items() if k.startswith("legit"))
    return {
        "policy": policy_cls.name,
        "fetches": len(endpoint.fetches),
        "peak_per_min": max(per_minute.values()) if per_minute else 0,
        "legit": legit,
        "legit_failed": legit - outcomes["legit ok"],
        "forged_admitted": outcomes["forged ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--invocations", type=int, default=60_000, help="requests across the fleet")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("clerk_serverless").setLevel(logging.ERROR)  # the outage would log every failed refresh
    policies = (OurPolicy, Networkless, PerRequestFetch, TtlNoStale)
    rows = [simulate(cls, args.containers, args.invocations, args.seed) for cls in policies]
    print(f"{args.containers} containers, {args.invocations} requests over 3 h; "
          f"rotation at 1:00/1:10/2:00; JWKS down 1:30–1:57; {FORGED_SHARE:.0%} forged")
    print(f"{'policy':<20} {'JWKS fetches':>13} {'peak/min':>9} {'legit requests failed':>22} {'forged admitted':>16}")
    for row in rows:
        failed = f"{row['legit_failed']} ({row['legit_failed'] / row['legit']:.1%})"
        print(f"{row['policy']:<20} {row['fetches']:>13} {row['peak_per_min']:>9} {failed:>22} "
              f"{row['forged_admitted']:>16}")


if __name__ == "__main__":
    main()
