"""The Clerk secret key from AWS: SSM Parameter Store or Secrets Manager.

Read once, when the ``ClerkAuth`` is built (the cold start), through
Powertools Parameters when it is installed (cached, as Powertools users
expect) and plain boto3 otherwise (boto3 ships with the Lambda runtime). A
missing or denied parameter is a :class:`ClerkConfigError` naming it, at cold
start, rather than a 500 on every request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import JSON_ERRORS, ClerkConfigError, config_value

CACHE_SECONDS = 300


def _error_code(exc: Exception) -> str:
    """``ParameterNotFound``, ``AccessDeniedException`` …: the AWS error code
    (from botocore's response, or the "(Code)" Powertools keeps in its message)."""
    cause: Any = exc
    for _ in range(3):
        response = getattr(cause, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code") or type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
        if cause is None:
            break
    import re

    match = re.search(r"\(([A-Za-z]+)\) when calling", str(exc))
    return match.group(1) if match else type(exc).__name__


def _from_secret_string(value: str) -> str:
    """A secret holds the key itself, or JSON with a ``CLERK_SECRET_KEY`` field."""
    if value.lstrip().startswith("{"):
        try:
            document = json.loads(value)
        except JSON_ERRORS:  # not JSON (nested past the parser's depth too): the value itself
            return value
        if isinstance(document, dict):
            for name in ("CLERK_SECRET_KEY", "clerk_secret_key", "secret_key"):
                found = document.get(name)
                if isinstance(found, str):
                    return found
    return value


def _looks_like_a_key(name: str) -> bool:
    """``name`` holds a Clerk secret key (``sk_test_…``, ``sk_live_…``) or a
    machine secret key (``ak_…``), not the name of where one is stored."""
    import re

    return re.search(r"(?<![A-Za-z0-9])(?:sk_test|sk_live|ak)_[A-Za-z0-9]{16}", name) is not None


def _holds_credential(name: str) -> bool:
    """A Clerk key, webhook secret or token at a word start in ``name`` (a
    word merely containing a prefix, ``/app/risk_test_…``, is no credential)."""
    import re

    return re.search(
        r"(?<![A-Za-z0-9])(?:(?:sk_test|sk_live|ak|mt|oat|whsec)_[A-Za-z0-9+/=_-]{8}|eyJ[A-Za-z0-9_-]{8})", name
    ) is not None


def _shown(name: object) -> str:
    """``name`` quoted for an error, unless a credential is in it: such errors reach the logs."""
    return config_value(name, _holds_credential)


def read_secret_key(name: str, *, kind: str, setting: str) -> str:
    """The secret key stored in SSM parameter ``name`` (``kind="parameter"``)
    or Secrets Manager secret ``name`` (``kind="secret"``)."""
    what = "SSM parameter" if kind == "parameter" else "Secrets Manager secret"
    if isinstance(name, str) and _looks_like_a_key(name):
        # The key itself where its storage's name belongs (CLERK_SECRET_KEY and
        # CLERK_SECRET_KEY_PARAMETER mixed up): never echoed, never sent to AWS
        # as a name (CloudTrail records request parameters).
        raise ClerkConfigError(
            setting,
            f"holds a Clerk key, not the name of {'an' if kind == 'parameter' else 'a'} {what}: set the key itself as "
            "secret_key / CLERK_SECRET_KEY, or store it there and give its name here",
        )
    try:
        value = _within(TOTAL_TIMEOUT, lambda: _read(name, kind))
    except ImportError:
        raise ClerkConfigError(
            setting, f"reading the {what} needs boto3: pip install 'clerk-serverless[aws]'"
        ) from None
    except _Overdue:
        raise ClerkConfigError(
            setting, f"cannot read {what} {_shown(name)}: timed out after {TOTAL_TIMEOUT:g}s"
        ) from None
    except Exception as exc:
        raise ClerkConfigError(setting, f"cannot read {what} {_shown(name)}: {_error_code(exc)}") from None
    if not isinstance(value, str):
        raise ClerkConfigError(setting, f"{what} {_shown(name)} does not hold a string")
    value = _from_secret_string(value).strip()
    if not value.startswith(("sk_test_", "sk_live_")):
        raise ClerkConfigError(
            setting, f"{what} {_shown(name)} does not hold a Clerk secret key (sk_test_… or sk_live_…)"
        )
    return value


# Every wait on AWS has a deadline (botocore's own defaults are 60 s to
# connect and 60 s per read, retried 3-5 times): an endpoint that never
# answers costs at most ~2 x (3 + 3) s, then a ClerkConfigError.
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 3.0
MAX_ATTEMPTS = 2
# botocore's timeouts bound each connect and each socket read, not the read as
# a whole (an endpoint sending a byte every 2 s never trips them) and not name
# resolution: the whole read, every attempt included, gets this wall time.
TOTAL_TIMEOUT = MAX_ATTEMPTS * (CONNECT_TIMEOUT + READ_TIMEOUT)


class _Overdue(Exception):
    """The read did not finish within ``TOTAL_TIMEOUT``."""


def _within(seconds: float, read: Callable[[], Any]) -> Any:
    """``read()``'s value (or exception), or :class:`_Overdue` once ``seconds``
    have passed. The read runs in a daemon thread: a call stuck in
    ``getaddrinfo`` or a trickled answer is left behind, not waited for."""
    import threading

    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, read()))
        except BaseException as exc:  # handed to the caller's thread as it is
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="clerk-serverless-secret-key", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        raise _Overdue()
    ok, value = outcome[0]
    if ok:
        return value
    raise value


def _read(name: str, kind: str) -> Any:
    """Through Powertools Parameters when installed, else boto3 (ImportError
    when neither is)."""
    try:
        return _read_with_powertools(name, kind)
    except ImportError:
        return _read_with_boto3(name, kind)


def _boto_config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )


def _read_with_powertools(name: str, kind: str) -> Any:
    from aws_lambda_powertools.utilities import parameters

    # Read once per ClerkAuth, at its construction: a provider of our own
    # carries the deadlines (Powertools' shared default one has botocore's).
    make = parameters.SSMProvider if kind == "parameter" else parameters.SecretsProvider
    provider = make(boto_config=_boto_config())
    if kind == "parameter":
        return provider.get(name, decrypt=True, max_age=CACHE_SECONDS)
    return provider.get(name, max_age=CACHE_SECONDS)


def _read_with_boto3(name: str, kind: str) -> Any:
    import boto3

    if kind == "parameter":
        ssm = boto3.client("ssm", config=_boto_config())
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    secrets = boto3.client("secretsmanager", config=_boto_config())
    return secrets.get_secret_value(SecretId=name)["SecretString"]
