"""This tree's ``require_session`` against the package at a git ref, paired round by round.

    python bench/ab.py [--ref main] [--rounds 400] [--calls 100] [--processes 4]

bench.py's rows for a first-seen and a repeated token, run for both packages
side by side (the ref's copy imported under another name), interleaved
round by round (the order flipped every round) with the raw RSA verify. A
timing difference between two runs of bench.py on a shared machine is mostly
noise; within one process and one round both packages meet the same noise,
so the median of the per-round differences shows a change of a few hundred
nanoseconds.

Where in memory a package's code and objects land is worth up to ±0.15 µs
a first-seen request by itself: with identical code, the package a process
imported first measured 0.03-0.06 µs faster a repeated token in every run,
and the one whose handler it built second up to 0.15 µs faster a first-seen
one. So the rounds are spread over ``--processes`` child processes, run one
after the other, half of them importing and building the ref's package
first and half this tree's; their differences are pooled. Reports the best time and
median ratio to the raw verify of each row, and the median per-round
difference this tree - ref with a 95% confidence interval of that median (a
change is real when the interval excludes zero), the quartiles of the
differences (the spread of a round), and the median of each build order
(far apart: layout, not code, is speaking).
"""

from __future__ import annotations

import argparse
import base64
import gc
import importlib
import json
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
RAW = "raw RSA verify"


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


def child(ref_dir: str, ref_first: bool, rounds: int, calls: int) -> dict[str, list[float]]:
    """One process's rounds: µs per call of each row, round by round (rows
    named ``first-seen, ref`` … ``repeated, new``)."""
    sys.path.insert(0, ref_dir)
    names = ["clerk_serverless_ref", "clerk_serverless"][:: 1 if ref_first else -1]
    loaded = {name: importlib.import_module(name) for name in names}  # the ref's: relative imports only
    ref, new = loaded["clerk_serverless_ref"], loaded["clerk_serverless"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    token = jwt.encode(_claims(0, int(time.time())), key, algorithm="RS256", headers={"kid": "ins_bench", "typ": "JWT"})
    h, p, s = token.split(".")
    signing_input, signature = f"{h}.{p}".encode(), base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
    pad, sha = padding.PKCS1v15(), hashes.SHA256()
    built: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {}
    for name, package in [("ref", ref), ("new", new)][:: 1 if ref_first else -1]:
        built[name] = rows_for(package, pem, token)
    cases: list[tuple[str, Callable[[], Any]]] = [
        (RAW, lambda: public.verify(signature, signing_input, pad, sha)),
        ("first-seen, ref", built["ref"][0]),
        ("first-seen, new", built["new"][0]),
        ("repeated, ref", built["ref"][1]),
        ("repeated, new", built["new"][1]),
    ]
    gc.collect()
    gc.freeze()
    per: dict[str, list[float]] = {name: [] for name, _ in cases}
    for r in range(rounds):
        for name, fn in cases if r % 2 else cases[::-1]:
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn()
            per[name].append((time.perf_counter_ns() - start) / calls / 1000)
    return per


def median_interval(diffs: list[float]) -> tuple[float, float, float]:
    """The median of ``diffs`` and a distribution-free 95% interval of it
    (order statistics n/2 ± 0.98·√n)."""
    ranked, half = sorted(diffs), round(0.98 * math.sqrt(len(diffs)))
    mid = len(ranked) // 2
    return statistics.median(diffs), ranked[max(mid - half, 0)], ranked[min(mid + half, len(ranked) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="main", help="git ref of the package to compare with (default main)")
    parser.add_argument("--rounds", type=int, default=400, help="rounds in all, spread over the processes")
    parser.add_argument("--calls", type=int, default=100, help="calls per row and round")
    parser.add_argument("--processes", type=int, default=4, help="child processes, alternating the build order")
    parser.add_argument("--child", nargs=2, metavar=("REF_DIR", "REF_FIRST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        per = child(args.child[0], args.child[1] == "1", args.rounds, args.calls)
        print(json.dumps(per))
        return
    processes = max(2, args.processes)
    pooled: dict[str, list[float]] = {}
    by_order: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.ref, "clerk_serverless"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        (Path(tmp) / "clerk_serverless").rename(Path(tmp) / "clerk_serverless_ref")
        for i in range(processes):
            ref_first = i % 2 == 0
            out = subprocess.run(
                [sys.executable, __file__, "--child", tmp, "1" if ref_first else "0",
                 "--rounds", str(max(1, args.rounds // processes)), "--calls", str(args.calls)],
                cwd=ROOT, capture_output=True, text=True, check=True,
            ).stdout
            for name, times in json.loads(out.splitlines()[-1]).items():
                pooled.setdefault(name, []).extend(times)
                by_order[ref_first].setdefault(name, []).extend(times)
    raw = pooled[RAW]
    labels = {"ref": args.ref, "new": "this tree"}
    rows = [(RAW, RAW)] + [(f"{row}, {who}", f"{row}, {labels[who]}") for row in ("first-seen", "repeated")
                           for who in ("ref", "new")]
    width = max(len(label) for _, label in rows)
    print(f"{'row':<{width}}  {'best µs':>8}  {'median × raw':>12}")
    for name, label in rows:
        times = pooled[name]
        ratio = statistics.median(t / r for t, r in zip(times, raw, strict=True))
        print(f"{label:<{width}}  {min(times):8.2f}  {ratio:12.3f}")
    for row in ("first-seen", "repeated"):
        diffs = [n - o for n, o in zip(pooled[f"{row}, new"], pooled[f"{row}, ref"], strict=True)]
        low, _, high = statistics.quantiles(diffs, n=4)
        median, lo, hi = median_interval(diffs)
        orders = [
            statistics.median(n - o for n, o in zip(per[f"{row}, new"], per[f"{row}, ref"], strict=True))
            for per in (by_order[True], by_order[False])
        ]
        print(
            f"{row}: this tree - {args.ref} = {median:+.2f} µs, 95% CI of the median {lo:+.2f}…{hi:+.2f}, "
            f"quartiles {low:+.2f}…{high:+.2f} ({len(diffs)} rounds × {args.calls} calls in {processes} "
            f"processes; {args.ref} built first {orders[0]:+.2f}, this tree first {orders[1]:+.2f})"
        )


if __name__ == "__main__":
    main()
