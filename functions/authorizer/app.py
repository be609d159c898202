"""The Clerk Lambda authorizer for the HTTP API and the REST API.

Verifies the Bearer token or the __session cookie once, at API Gateway, and
hands the session to the routes it guards as authorizer context.
"""

from clerk_serverless.authorizer import handler  # noqa: F401  (configured from CLERK_* variables)
