"""GET /machine — one API for browsers and machine clients.

Signed-in users (session tokens from the frontend), other services (M2M
tokens), OAuth clients acting for a user (OAuth access tokens) and API keys
all reach the same handler; ``event["auth"]`` says which. Machine tokens must
carry the ``mch_dev_api`` scope here — in Clerk, an M2M token lists the
machines allowed to use it — so the rule is per token type, in the handler.

Verifying opaque machine tokens (``ak_…``, ``mt_…``, ``oat_…``) needs the
secret key: this is the only sample function that can read it.
"""

import json

from clerk_serverless import require_auth


@require_auth(accepts_token="any")
def handler(event, context):
    identity = event["auth"]
    if identity.token_type in ("m2m_token",) and "mch_dev_api" not in identity.scopes:
        return {
            "statusCode": 403,
            "headers": {"Content-Type": "application/json", "x-clerk-auth-reason": "missing-scope"},
            "body": json.dumps({"error": "forbidden", "reason": "missing-scope"}),
        }
    who = identity.user_id if identity.token_type in ("session_token", "oauth_token") else identity.subject
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"token_type": identity.token_type, "user_id": who}),
    }
