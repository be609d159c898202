"""GET /secure — behind the Clerk authorizer: the session comes from its context.

trust_authorizer=True is safe only because every route to this function is
guarded by ClerkAuthorizer / ClerkRequestAuthorizer (see template.yaml).
"""

import json

from clerk_serverless import ClerkAuth

auth = ClerkAuth(trust_authorizer=True)


@auth.require_session
def handler(event, context):
    session = event["session"]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"user_id": session.user_id, "session_id": session.session_id, "verified_by": "authorizer"}),
    }
