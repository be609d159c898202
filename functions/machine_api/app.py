"""GET /machine — placeholder until the machine-token handler lands.

The lead replaces this file: the real handler accepts session tokens and
machine tokens (verifying opaque ones needs the secret key, which is why
MachineApiFunction alone can read it). Until then, a plain require_session.
"""

import json

from clerk_serverless import require_session


@require_session
def handler(event, context):
    session = event["session"]
    if session is None:  # an OPTIONS preflight
        return {"statusCode": 204, "body": ""}
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"user_id": session.user_id, "token_type": "session_token"}),
    }
