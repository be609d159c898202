"""Lambda Function URLs: the HTTP API v2 payload, on a ``*.lambda-url.*`` domain."""

from __future__ import annotations

from typing import Any

from .http_v2 import HttpApiV2


class FunctionUrl(HttpApiV2):
    """Function URL events: read and answered exactly like HTTP API v2."""

    name = "function_url"

    @staticmethod
    def matches(event: dict[str, Any]) -> bool:
        """True when ``requestContext.domainName`` is a Function URL host."""
        ctx = event.get("requestContext")
        return isinstance(ctx, dict) and on_lambda_url(ctx)


def on_lambda_url(ctx: dict[str, Any]) -> bool:
    """True when a ``requestContext``'s ``domainName`` is a Function URL host."""
    domain = ctx.get("domainName")
    return isinstance(domain, str) and ".lambda-url." in domain


SOURCE = FunctionUrl()
