"""AWS clients pointed at a loopback endpoint (moto, or a server that misbehaves)."""

from __future__ import annotations

import pytest


def clear_powertools_parameters() -> None:
    """Forget Powertools' boto3 clients (one per service) and its value cache, kept for the process."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base

    # Powertools leaves clear_caches unannotated and DEFAULT_PROVIDERS out of base's exports.
    parameters.clear_caches()  # type: ignore[no-untyped-call]
    base.DEFAULT_PROVIDERS.clear()  # type: ignore[attr-defined]


def use_aws_endpoint(monkeypatch: pytest.MonkeyPatch, url: str, key_id: str = "testing", secret: str = "testing") -> None:
    """Every AWS client in this test talks to ``url`` (us-east-1, these
    credentials, no profile), starting from a clean Powertools slate."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clear_powertools_parameters()
