"""Session fields from v1 and v2 claims, and permission/role checks."""

from __future__ import annotations

from typing import Any

import pytest
from support.calls import call, recording_handler
from support.tokens import SigningKey, claims, mint

from clerk_serverless import ClerkAuth, Session
from clerk_serverless.session import SessionClaims

V2_ORG = {"id": "org_1", "rol": "admin", "slg": "acme", "per": "read,manage,delete", "fpm": "3,1"}
V2 = {"v": 2, "fea": "o:invoices,o:reports", "o": V2_ORG}
V1 = {"org_id": "org_1", "org_role": "org:admin", "org_slug": "acme", "org_permissions": ["org:invoices:read", "org:invoices:manage", "org:reports:read"]}


def session_of(**extra: Any) -> Session:
    return Session(SessionClaims(claims(**extra)), "eyJraWQ.secret-token-text.c2ln")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_org_fields_are_the_same_for_both_token_versions(version: str) -> None:
    session = session_of(**(V1 if version == "v1" else V2))
    assert session.org_id == "org_1"
    assert session.org_role == "org:admin"
    assert session.org_slug == "acme"
    assert set(session.org_permissions) == {"org:invoices:read", "org:invoices:manage", "org:reports:read"}
    assert session.has(permission="org:invoices:manage")
    assert session.has(permission="invoices:read")  # org: prefix optional, as in Clerk's has()
    assert not session.has(permission="org:reports:manage")
    assert session.has(role="admin") and session.has(role="org:admin")
    assert not session.has(role="org:member")


def test_session_without_org_has_nothing() -> None:
    session = session_of()
    assert session.org_id is None and session.org_permissions == ()
    assert not session.has(permission="org:x:y") and not session.has(role="org:admin")


def test_session_fields_and_redaction() -> None:
    session = session_of(act={"sub": "user_admin"}, sts="active", fva=[3, -1])
    assert session.user_id == "user_2abc" and session.session_id == "sess_2xyz"
    assert session.actor == {"sub": "user_admin"} and session.status == "active"
    assert session.factor_verification_age == (3, -1)
    assert session.claims["sub"] == "user_2abc"
    with pytest.raises(TypeError):
        session.claims["sub"] = "user_evil"  # type: ignore[index]
    assert "secret-token-text" not in repr(session)
    assert "token" not in session.to_dict()


def test_v2_masks_line_up_with_organization_features_only() -> None:
    # @clerk/backend packages/backend/src/tokens/__tests__/authObjects.test.ts (billing claims):
    # fpm entries belong to the organization-scoped fea entries; u:dashboard is skipped.
    payload = claims(
        v=2,
        fea="o:reservations,u:dashboard,uo:support-chat,o:impersonation",
        pla="u:pro,o:business",
        o={"id": "org_1", "rol": "member", "per": "read,manage", "fpm": "2,3"},
    )
    session = Session(SessionClaims(payload), "t")
    assert sorted(session.org_permissions) == [
        "org:reservations:manage", "org:support-chat:manage", "org:support-chat:read",
    ]
    assert session.has(permission="org:reservations:manage") and not session.has(permission="org:reservations:read")
    assert session.has(feature="user:dashboard") and not session.has(feature="org:dashboard")
    assert session.has(plan="org:business") and session.has(plan="pro") and not session.has(plan="user:business")
    assert session.has(role="member") and session.has(role="org:member")


def test_legacy_v1_role_without_prefix() -> None:
    session = Session(SessionClaims(claims(org_id="org_1", org_role="admin", org_permissions=[])), "t")
    assert session.has(role="admin") and session.has(role="org:admin")


@pytest.fixture
def auth(key: SigningKey) -> ClerkAuth:
    return ClerkAuth(jwt_key=key.public_pem)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_require_session_permissions_and_roles(auth: ClerkAuth, key: SigningKey, version: str) -> None:
    org = V1 if version == "v1" else V2
    token = mint(key, **org)
    member = mint(key, **({**V1, "org_role": "org:member", "org_permissions": []} if version == "v1" else {**V2, "o": {**V2_ORG, "rol": "member", "fpm": "0,0"}}))
    cases = [
        ({"permissions": ["org:invoices:manage"]}, token, 200),
        ({"permissions": ["org:invoices:read", "org:reports:read"]}, token, 200),  # all required
        ({"permissions": ["org:invoices:read", "org:reports:manage"]}, token, 403),
        ({"roles": ["org:member", "org:admin"]}, token, 200),  # any one is enough
        ({"roles": ["org:billing"]}, token, 403),
        ({"permissions": ["org:invoices:read"]}, member, 403),
        ({"roles": ["admin"]}, member, 403),
        ({"permissions": ["org:invoices:read"]}, mint(key), 403),  # no active organization
    ]
    for options, presented, status in cases:
        handler = recording_handler(auth.require_session(**options))
        out = call(handler, "http_v2", bearer=presented)
        assert out.status == status, options
        if status == 403:
            assert out.reason in ("missing-permission", "missing-role")
            assert out.headers["x-clerk-auth-status"] == "signed-in"
            assert out.headers["www-authenticate"] == 'Bearer error="insufficient_scope"'


def test_pending_sessions_are_signed_out_unless_opted_in(auth: ClerkAuth, key: SigningKey) -> None:
    token = mint(key, sts="pending")
    assert call(recording_handler(auth.require_session), "http_v2", bearer=token).reason == "session-pending"
    opted_in = recording_handler(auth.require_session(treat_pending_as_signed_out=False))
    out = call(opted_in, "http_v2", bearer=token)
    assert out.status == 200 and out.session.status == "pending"
