"""The demo: the sample functions of ``template.yaml``, run by the
container-free runner on the sample events, as a table of answers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .project import load_dev_key
from .runner import InitError, LocalFunction, read_env_vars
from .samples import ENV_FILE, EVENTS_DIR, Sample, samples, write_samples
from .template import Template


def _authorizer_answer(payload: dict[str, Any]) -> tuple[str, str, str]:
    """``allow``/``deny`` and the user of an authorizer's response."""
    if "isAuthorized" in payload:
        allowed = payload["isAuthorized"] is True
    else:
        allowed = payload["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    return ("allow" if allowed else "deny"), "", (payload.get("context") or {}).get("user_id", "") if allowed else ""


def _answer(payload: Any) -> tuple[int | str, str, str]:
    if isinstance(payload, dict) and ("isAuthorized" in payload or "policyDocument" in payload):
        return _authorizer_answer(payload)
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return "?", "", ""
    headers = payload.get("headers") or {k: v[0] for k, v in (payload.get("multiValueHeaders") or {}).items() if v}
    reason = next((v for k, v in headers.items() if k.lower() == "x-clerk-auth-reason"), "")
    try:
        body = json.loads(payload.get("body") or "{}")
    except ValueError:
        body = {}
    user = body.get("user_id") or body.get("owner") or "" if isinstance(body, dict) else ""
    return payload["statusCode"], reason, user or ""


def run(root: Path | None = None, print_: Callable[[str], None] = print) -> int:
    """Invoke every sample and print function × event → status, reason, user.

    Returns 0 when every answer is the expected one, 1 otherwise.
    """
    root = (root or Path.cwd()).resolve()
    load_dev_key(root)  # never a fresh key: the samples must verify against what env.json trusts
    if not (root / ENV_FILE).exists() or not (root / EVENTS_DIR).is_dir():
        write_samples(root, create_key=False)
    template = Template(root / "template.yaml")
    env_vars = read_env_vars(root / ENV_FILE)
    notes: list[str] = []
    rows = samples()
    by_function: dict[str, list[Sample]] = {}
    for sample in rows:
        by_function.setdefault(sample.function, []).append(sample)

    fw = max(len(s.function) for s in rows)
    ew = max(len(s.event) for s in rows)
    print_(f"{'function':<{fw}}  {'event':<{ew}}  {'status':>12}  {'reason':<34} {'user':<13} ok")
    failures = 0
    for function, cases in by_function.items():
        with LocalFunction(template, function, env_vars=env_vars, warn=notes.append) as local:
            for sample in cases:
                event = json.loads((root / EVENTS_DIR / sample.event).read_text())
                try:
                    result = local.invoke(event)
                    if result.ok:
                        status, reason, user = _answer(result.payload)
                    elif (result.error or {}).get("errorMessage") == "Unauthorized":
                        status, reason, user = "Unauthorized", "", ""  # a REST authorizer's 401, an error by contract
                    else:
                        status, reason, user = "error", (result.error or {}).get("errorType", ""), ""
                except InitError as exc:
                    status, reason, user = "error", str(exc)[:33], ""
                ok = (status, reason, user) == (sample.status, sample.reason, sample.user)
                failures += not ok
                print_(f"{function:<{fw}}  {sample.event:<{ew}}  {status!s:>12}  {reason:<34} {user:<13} "
                       f"{'✓' if ok else '✗ expected ' + str(sample.status)}")
    for note in dict.fromkeys(notes):
        print_(f"note: {note}")
    print_(f"{len(rows) - failures}/{len(rows)} answers as expected")
    return 1 if failures else 0
