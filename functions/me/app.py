"""GET /me — who is calling? 401 unless signed in."""

import json

from clerk_serverless import require_session


@require_session
def handler(event, context):
    session = event["session"]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"user_id": session.user_id, "session": session.to_dict()}),
    }
