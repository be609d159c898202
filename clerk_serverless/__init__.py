"""Clerk session tokens for AWS Lambda: ``with_session`` / ``require_session``
(and, for API keys, M2M and OAuth tokens too, ``with_auth`` / ``require_auth``).

>>> from clerk_serverless import require_session
>>> @require_session
... def handler(event, context):
...     return {"statusCode": 200, "body": event["session"].user_id}

Importing stays light: ``cryptography``, HTTP and the optional integrations
(Powertools, Mangum, boto3) load on first use.
"""

from .auth import ClerkAuth
from .decorators import require_auth, require_session, with_auth, with_session
from .errors import (
    AuthError,
    ClerkConfigError,
    ClerkError,
    EventError,
    KeysUnavailableError,
    OriginInvalidError,
    PermissionDeniedError,
    Reason,
)
from .machine import MachineAuth
from .policy import Policy
from .session import Session

__version__ = "0.1.0"

__all__ = [
    "ClerkAuth",
    "Policy",
    "Session",
    "MachineAuth",
    "with_session",
    "require_session",
    "with_auth",
    "require_auth",
    "AuthError",
    "ClerkConfigError",
    "ClerkError",
    "EventError",
    "KeysUnavailableError",
    "OriginInvalidError",
    "PermissionDeniedError",
    "Reason",
]
