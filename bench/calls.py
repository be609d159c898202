"""Python calls and bytecode instructions of one ``require_session`` request.

    python bench/calls.py [--ref REF] [--by-function]

Counts, with ``sys.settrace`` (opcode events), what the interpreter executes
for bench.py's two rows on an HTTP API v2 event: a first-seen token (the
verified-token cache emptied first) and a repeated one. Unlike a timing, the
count is the same on every run and on a busy machine, so it shows a change
of the per-request Python path that a noisy timing hides. It is a proxy, not
a cost: a C call (the RSA verify, base64, JSON) counts as one instruction.
The calls include cryptography's own ``isinstance`` checks against its ABCs
(four per verify) and the bench's handler and ``user_id`` property.

``--ref REF`` counts the package as it is at git ``REF`` too (e.g. ``main``),
side by side.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def count(package: Path | None, by_function: bool) -> dict[str, tuple[int, int]]:
    """``{row: (calls, opcodes)}`` for the package in ``package`` (None: this tree's), in a child process."""
    code = _CHILD.replace("@PATH@", repr(str(package) if package else str(ROOT))).replace("@BY@", repr(by_function))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    rows: dict[str, tuple[int, int]] = {}
    for line in out.stdout.splitlines():
        if line.startswith("ROW "):
            _, name, calls, ops = line.split()
            rows[name] = (int(calls), int(ops))
        elif by_function:
            print(line)
    return rows


_CHILD = r'''
import collections, sys, time
sys.path.insert(0, @PATH@)
sys.path.insert(1, "bench")
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
import clerk_serverless
from bench import ISSUER, ORIGIN, _claims, _event
assert clerk_serverless.__file__.startswith(@PATH@), clerk_serverless.__file__
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
token = jwt.encode(_claims(0, int(time.time())), key, algorithm="RS256", headers={"kid": "ins_bench", "typ": "JWT"})
auth = clerk_serverless.ClerkAuth(jwt_key=pem, authorized_parties=[ORIGIN], issuer=ISSUER)

@auth.require_session
def handler(event, context):
    return {"statusCode": 200, "body": event["session"].user_id}

event = _event(token)
cache = auth.verifier.cache

def first_seen():
    cache.discard(token)
    handler(event, None)

def repeated():
    handler(event, None)

first_seen(); first_seen(); repeated()
for name, fn in (("first-seen", first_seen), ("repeated", repeated)):
    ops, calls = collections.Counter(), collections.Counter()
    def tracer(frame, what, arg):
        frame.f_trace_opcodes = True
        label = frame.f_code.co_filename.rsplit("/", 1)[-1] + ":" + frame.f_code.co_name
        if what == "call":
            calls[label] += 1
        elif what == "opcode":
            ops[label] += 1
        return tracer
    sys.settrace(tracer)
    fn()
    sys.settrace(None)
    harness = "<string>:" + fn.__name__  # the row's own function: not the request's
    calls[harness] = ops[harness] = 0
    if @BY@:
        print(f"{name}:")
        for label, n in ops.most_common():
            if n:
                print(f"  {n:5d} opcodes  {calls[label]:2d} calls  {label}")
    print("ROW", name, sum(calls.values()), sum(ops.values()))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", help="also count the package at this git ref (e.g. main)")
    parser.add_argument("--by-function", action="store_true", help="list opcodes and calls per function")
    args = parser.parse_args()
    columns: list[tuple[str, Callable[[], dict[str, tuple[int, int]]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.ref:
            archive = subprocess.run(["git", "archive", args.ref, "clerk_serverless"], cwd=ROOT, capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            ref_root = Path(tmp)
            columns.append((args.ref, lambda: count(ref_root, args.by_function)))
        columns.append(("this tree", lambda: count(None, args.by_function)))
        results: list[tuple[str, dict[str, Any]]] = [(label, fn()) for label, fn in columns]
    print(f"{'row':<12}" + "".join(f"  {label + ' calls/opcodes':>26}" for label, _ in results))
    for row in ("first-seen", "repeated"):
        cells = "".join(f"  {f'{rows[row][0]} / {rows[row][1]}':>26}" for _, rows in results)
        print(f"{row:<12}{cells}")
    print(f"python {sys.version.split()[0]}; counted {time.strftime('%Y-%m-%d')}", file=sys.stderr)


if __name__ == "__main__":
    main()
