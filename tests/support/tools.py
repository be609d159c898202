"""Outside tools the tests need (node, npm, Chromium, pyright): skipped with a
reason on a developer machine that lacks one, a failure in CI (``CI`` set),
where .ci/run installs them; npm packages installed once per lock file."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

NPM_TIMEOUT = 600


def unavailable(reason: str) -> NoReturn:
    """Skip on a developer machine lacking a tool; in CI, fail instead."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def npm_ci(sources: Path, cache: Path, name: str, what: str) -> Path:
    """``npm ci`` of ``sources``' package.json and package-lock.json from the
    npm registry (scripts not run), once per lock file: kept under ``cache``
    (pytest's cache directory) as ``<name>-<digest of the lock>`` and reused
    while the lock is unchanged. Returns that directory (with node_modules).
    ``what`` names the packages in skip and failure messages. Node >= 18."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        unavailable(f"node and npm are needed for {what}, from the npm registry")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    found = re.match(r"v(\d+)", version)
    if found is None or int(found.group(1)) < 18:
        unavailable(f"{what} needs node >= 18, found {version or 'none'}")
    manifest = [(sources / file).read_bytes() for file in ("package.json", "package-lock.json")]
    digest = hashlib.sha256(b"\0".join(manifest)).hexdigest()[:16]
    target = cache / f"{name}-{digest}"
    if (target / "node_modules" / ".clerk-complete").is_file():
        return target
    staging = Path(tempfile.mkdtemp(prefix="npm-", dir=cache))
    try:
        for file in ("package.json", "package-lock.json"):
            shutil.copy(sources / file, staging / file)
        out = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                             cwd=staging, capture_output=True, text=True, timeout=NPM_TIMEOUT)
        if out.returncode != 0:
            registry = subprocess.run([npm, "config", "get", "registry"], capture_output=True, text=True,
                                      timeout=30).stdout.strip()
            unavailable(f"npm ci of {what} (registry {registry}) failed: {out.stderr[-1500:]}")
        (staging / "node_modules" / ".clerk-complete").write_text(version)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
