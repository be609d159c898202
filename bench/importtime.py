"""Import cost of ``clerk_serverless`` next to ``jwt``, each in a fresh interpreter.

    python bench/importtime.py [--runs 9]

Reports the best cumulative ``-X importtime`` figure of several runs, and
which heavy or avoidable modules an ``import clerk_serverless`` pulled in
(none should be). As in ``coldstart.py``, clerk_serverless is imported from a
copy compiled to bytecode (as ``pip install`` leaves it), under ``-S`` with
site-packages on ``PYTHONPATH`` and from a neutral working directory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from coldstart import stage_package

# Loaded on first use, never by the import: third-party integrations, the
# crypto and network stacks (first request), and standard modules only some
# paths need (logging: records someone can see; hashlib: the first signature
# check and secret-key sources; dataclasses/inspect: nothing at run time).
DEFERRED = ["boto3", "botocore", "aws_lambda_powertools", "mangum", "fastapi", "starlette", "httpx",
            "cryptography", "jwt", "ssl", "socket", "http.client", "logging", "hashlib", "dataclasses", "inspect"]


def cumulative_us(module: str, env: dict[str, str], cwd: str) -> int:
    """Cumulative import time of ``module`` in microseconds, from ``-X importtime``."""
    out = subprocess.run([sys.executable, "-S", "-X", "importtime", "-c", f"import {module}"],
                         capture_output=True, text=True, check=True, env=env, cwd=cwd)
    for line in reversed(out.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        task = stage_package(Path(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "PYTHON"))}
        env.update({"PYTHONDONTWRITEBYTECODE": "1",
                    "PYTHONPATH": os.pathsep.join([str(task), sysconfig.get_path("purelib")])})
        ours = min(cumulative_us("clerk_serverless", env, tmp) for _ in range(args.runs))
        theirs = min(cumulative_us("jwt", env, tmp) for _ in range(args.runs))
        probe = f"import sys, clerk_serverless; print(','.join(m for m in {DEFERRED!r} if m in sys.modules))"
        pulled = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True,
                                env=env, cwd=tmp).stdout.strip()
    print(f"import clerk_serverless: {ours / 1000:.1f} ms")
    print(f"import jwt:              {theirs / 1000:.1f} ms  (ratio {ours / theirs:.2f})")
    print(f"deferred modules loaded by import clerk_serverless: {pulled or 'none'}")


if __name__ == "__main__":
    main()
