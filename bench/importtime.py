"""Import cost of ``clerk_serverless`` next to ``jwt``, each in a fresh interpreter.

    python bench/importtime.py [--runs 9]

Reports the best cumulative ``-X importtime`` figure of several runs, and
which heavy modules an ``import clerk_serverless`` pulled in (none should be).
"""

from __future__ import annotations

import argparse
import subprocess
import sys

HEAVY = [
    "boto3", "botocore", "aws_lambda_powertools", "mangum", "fastapi", "starlette", "httpx",
    "cryptography", "jwt", "ssl",
]


def cumulative_us(module: str) -> int:
    """Cumulative import time of ``module`` in microseconds, from ``-X importtime``."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in reversed(out.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    ours = min(cumulative_us("clerk_serverless") for _ in range(args.runs))
    theirs = min(cumulative_us("jwt") for _ in range(args.runs))
    probe = f"import sys, clerk_serverless; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    pulled = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    print(f"import clerk_serverless: {ours / 1000:.1f} ms")
    print(f"import jwt:              {theirs / 1000:.1f} ms  (ratio {ours / theirs:.2f})")
    print(f"heavy modules loaded by import clerk_serverless: {pulled or 'none'}")


if __name__ == "__main__":
    main()
