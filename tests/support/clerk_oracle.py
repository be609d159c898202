"""The published @clerk/backend as an oracle, run by node (``tests/differential_js``).

:func:`install_clerk_backend` installs the version pinned in that directory's
``package.json``/``package-lock.json`` with ``npm ci`` from the npm registry
(once per lock file, under pytest's cache directory; skipped without node/npm,
a failure in CI: :func:`support.tools.npm_ci`). :class:`Oracle` is one
long-lived ``node oracle.mjs``: JSON cases in, JSON verdicts out, in order (see
oracle.mjs for both shapes). Every verdict lists the fetches its case made;
the oracle refuses any beyond 127.0.0.1, and :meth:`Oracle.ask` fails a case
that tried one, so the oracle never reaches the network.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clerk_serverless import MachineAuth

from .tools import npm_ci

SOURCES = Path(__file__).resolve().parents[1] / "differential_js"
_LOOPBACK = re.compile(r"[A-Z]+ http://127\.0\.0\.1:\d+/")


def install_clerk_backend(cache: Path, script: str = "oracle.mjs") -> Path:
    """tests/differential_js installed (:func:`support.tools.npm_ci`); returns
    the directory holding node_modules and this checkout's ``script``.
    @clerk/backend's engines field asks for node 20.9; its server code runs
    on 18 too (checked on 18.19, what Debian bookworm and CI's ci-run job have)."""
    target = npm_ci(SOURCES, cache, "clerk-backend", "@clerk/backend")
    shutil.copy(SOURCES / script, target / script)  # always this checkout's script
    return target


class Oracle:
    """One ``node oracle.mjs`` process (or another ``script`` of
    tests/differential_js, e.g. webhook_oracle.mjs): cases in, verdicts out, in order."""

    def __init__(self, directory: Path, script: str = "oracle.mjs") -> None:
        self.process = subprocess.Popen(
            ["node", script], cwd=directory, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1,
            env={**os.environ, "CLERK_TELEMETRY_DISABLED": "1", "NODE_NO_WARNINGS": "1"},
        )
        self._lock = threading.Lock()

    def ask(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """@clerk/backend's verdict on each case (a writer thread feeds stdin
        while this one reads stdout, so neither pipe fills up). A case that
        fetched anything but a loopback URL fails the test."""
        assert self.process.stdin is not None and self.process.stdout is not None
        with self._lock:
            lines = [json.dumps({"id": n, **case}) + "\n" for n, case in enumerate(cases)]

            def feed() -> None:
                assert self.process.stdin is not None
                for line in lines:
                    self.process.stdin.write(line)
                self.process.stdin.flush()

            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            answers = []
            for n in range(len(cases)):
                line = self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"node oracle exited ({self.process.poll()})")
                answer = json.loads(line)
                assert answer["id"] == n, answer
                beyond = [url for url in answer.get("fetched", []) if not _LOOPBACK.match(url)]
                assert not beyond, f"the oracle tried the network: {beyond}"
                answers.append(answer)
            writer.join()
            return answers

    def close(self) -> None:
        """End the process: stdin closed, then waited for (killed after 10 s)."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def run_oracle(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, script: str = "oracle.mjs"
) -> Iterator[Oracle]:
    """The body of a module-scoped ``oracle`` fixture running ``script``:
    installed into pytest's cache directory (a temporary one without the
    cache plugin), closed after."""
    cache_plugin = getattr(request.config, "cache", None)
    cache = cache_plugin.mkdir("clerk-backend") if cache_plugin is not None else tmp_path_factory.mktemp("npm")
    process = Oracle(install_clerk_backend(Path(cache), script), script)
    yield process
    process.close()


def publishable_key(kind: str, fapi: str) -> str:
    """A publishable key (``pk_live_``/``pk_test_``) naming the Frontend API host ``fapi``."""
    return f"pk_{kind}_" + base64.b64encode(f"{fapi}$".encode()).decode()


# A machine auth object's fields compared beyond type and subject, by token
# type: what @clerk/backend's toAuth() gives each (authObjects.ts), under its
# names, and ours (MachineAuth.to_dict()) for each.
MACHINE_FIELDS = {
    "api_key": ("id", "scopes", "claims", "userId", "orgId", "name"),
    "m2m_token": ("id", "scopes", "claims", "machineId"),
    "oauth_token": ("id", "scopes", "userId", "clientId"),
}
OUR_FIELD = {"id": "id", "scopes": "scopes", "claims": "claims", "userId": "user_id", "orgId": "org_id",
             "name": "name", "machineId": "machine_id", "clientId": "client_id"}


def machine_detail(token_type: str, fields: dict[str, Any]) -> str:
    """The fields of :data:`MACHINE_FIELDS` (under @clerk/backend's names) as one comparable string."""
    return json.dumps({name: fields.get(name) for name in MACHINE_FIELDS.get(token_type, ())}, sort_keys=True)


def clerk_fields(auth: MachineAuth) -> dict[str, Any]:
    """Our machine auth object's fields under @clerk/backend's names (:data:`OUR_FIELD`)."""
    ours = auth.to_dict()
    return {name: ours[our] for name, our in OUR_FIELD.items()}
