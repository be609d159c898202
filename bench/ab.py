"""This tree's ``require_session`` against the package at a git ref, in one process.

    python bench/ab.py [--ref main] [--rounds 151] [--calls 300]

bench.py's rows for a first-seen and a repeated token, run for both packages
side by side (the ref's copy imported under another name), interleaved
round by round (the order flipped every round) with the raw RSA verify. A
timing difference between two runs of bench.py on a shared machine is mostly
noise; within one process and one round both packages meet the same noise,
so the median of the per-round differences shows a change of a few hundred
nanoseconds. Reports the best time and median ratio to the raw verify of
each row, and the median per-round difference this tree - ref with a 95%
confidence interval of that median (a change is real when the interval
excludes zero) and the quartiles of the differences (the spread of a round).
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jwt  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from bench import ISSUER, ORIGIN, _claims, _event  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def rows_for(package: Any, pem: str, token: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(first-seen, repeated) as bench.py runs them, for ``package``."""
    auth = package.ClerkAuth(jwt_key=pem, authorized_parties=[ORIGIN], issuer=ISSUER)

    @auth.require_session
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": event["session"].user_id}

    event = _event(token)
    assert handler(event, None)["statusCode"] == 200
    cache = auth.verifier.cache

    def first_seen() -> None:
        cache.discard(token)
        handler(event, None)

    return first_seen, lambda: handler(event, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="main", help="git ref of the package to compare with (default main)")
    parser.add_argument("--rounds", type=int, default=151)
    parser.add_argument("--calls", type=int, default=300, help="calls per row and round")
    args = parser.parse_args()
    import clerk_serverless

    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.ref, "clerk_serverless"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        (Path(tmp) / "clerk_serverless").rename(Path(tmp) / "clerk_serverless_ref")
        sys.path.insert(0, tmp)
        ref = importlib.import_module("clerk_serverless_ref")  # relative imports only: the copy stands alone

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = key.public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        token = jwt.encode(_claims(0, int(time.time())), key, algorithm="RS256", headers={"kid": "ins_bench", "typ": "JWT"})
        h, p, s = token.split(".")
        signing_input, signature = f"{h}.{p}".encode(), base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        pad, sha = padding.PKCS1v15(), hashes.SHA256()
        ref_first, ref_repeated = rows_for(ref, pem, token)
        new_first, new_repeated = rows_for(clerk_serverless, pem, token)
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("raw RSA verify", lambda: public.verify(signature, signing_input, pad, sha)),
            (f"first-seen, {args.ref}", ref_first),
            ("first-seen, this tree", new_first),
            (f"repeated, {args.ref}", ref_repeated),
            ("repeated, this tree", new_repeated),
        ]
        gc.collect()
        gc.freeze()
        per: dict[str, list[float]] = {name: [] for name, _ in cases}
        for r in range(args.rounds):
            for name, fn in cases if r % 2 else cases[::-1]:
                start = time.perf_counter_ns()
                for _ in range(args.calls):
                    fn()
                per[name].append((time.perf_counter_ns() - start) / args.calls / 1000)
    raw = per["raw RSA verify"]
    width = max(len(name) for name, _ in cases)
    print(f"{'row':<{width}}  {'best µs':>8}  {'median × raw':>12}")
    for name, times in per.items():
        ratio = statistics.median(t / r for t, r in zip(times, raw, strict=True))
        print(f"{name:<{width}}  {min(times):8.2f}  {ratio:12.3f}")
    for row in ("first-seen", "repeated"):
        diffs = [n - o for n, o in zip(per[f"{row}, this tree"], per[f"{row}, {args.ref}"], strict=True)]
        low, _, high = statistics.quantiles(diffs, n=4)
        # A distribution-free 95% interval of the median: order statistics n/2 ± 0.98·√n.
        ranked, half = sorted(diffs), round(0.98 * math.sqrt(len(diffs)))
        mid = len(ranked) // 2
        print(
            f"{row}: this tree - {args.ref} = {statistics.median(diffs):+.2f} µs, 95% CI of the median "
            f"{ranked[max(mid - half, 0)]:+.2f}…{ranked[min(mid + half, len(ranked) - 1)]:+.2f}, "
            f"quartiles {low:+.2f}…{high:+.2f} (median of {args.rounds} rounds × {args.calls} calls)"
        )


if __name__ == "__main__":
    main()
