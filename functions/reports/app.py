"""GET /reports — only for members of the active organization allowed to read reports."""

import json

from clerk_serverless import require_session


@require_session(permissions=["org:reports:read"])
def handler(event, context):
    session = event["session"]
    reports = [{"id": "q3-revenue", "org": session.org_id}]
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"user_id": session.user_id, "org_id": session.org_id, "reports": reports}),
    }
