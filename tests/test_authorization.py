"""clerk_serverless.authorization: claim decoding, has(), reverification.

The tables are Clerk's own spec cases, each citing the clerk/javascript file
it comes from (as read at e21ae9a4, August 2026). The last section runs the
published @clerk/shared (from the npm registry, with node) on the same claims
and questions as this module and compares every verdict.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_serverless.authorization import (
    REVERIFICATION_ERROR_REASON,
    REVERIFICATION_ERROR_STATUS,
    REVERIFICATION_PRESETS,
    Authorization,
    Reverification,
    authorization_from_claims,
    parse_reverification,
    reverification_error_body,
)
from clerk_serverless.errors import ClerkConfigError

BASE = {"sub": "user_123", "sid": "sess_1", "iss": "https://clerk.example.com", "exp": 2_000_000_000, "iat": 1}


def v2(fea: Any = None, **org: Any) -> Authorization:
    claims: dict[str, Any] = {**BASE, "v": 2, "o": org}
    if fea is not None:
        claims["fea"] = fea
    return authorization_from_claims(claims)


def options(
    *,
    user_id: Any = "user_123",
    org_id: Any = "org_123",
    org_role: Any = "org:admin",
    org_permissions: Any = ("org:read",),
    features: Any = "",
    plans: Any = "",
    fva: Any = (0, 0),
) -> Authorization:
    """createCheckAuthorization's options, as the v1 claims that carry them
    through unchanged."""
    claims = {
        "sub": user_id,
        "org_id": org_id,
        "org_role": org_role,
        "org_permissions": list(org_permissions) if isinstance(org_permissions, tuple) else org_permissions,
        "fea": features,
        "pla": plans,
        "fva": list(fva) if isinstance(fva, tuple) else fva,
    }
    return authorization_from_claims(claims)


# --- v2 decoding -------------------------------------------------------------
# packages/shared/src/__tests__/jwtPayloadParser.spec.ts
PARSER_SPEC = [
    ("o:impersonation", "read,manage", "3", ["org:impersonation:read", "org:impersonation:manage"]),
    ("o:impersonation,o:memberships", "read,manage", "1,3",
     ["org:impersonation:read", "org:memberships:read", "org:memberships:manage"]),
    ("o:impersonation,o:memberships,o:feature3", "read,manage", "1,3,0",
     ["org:impersonation:read", "org:memberships:read", "org:memberships:manage"]),
    ("uo:impersonation,o:memberships,uo:feature3", "read,manage", "1,3,1",
     ["org:impersonation:read", "org:memberships:read", "org:memberships:manage", "org:feature3:read"]),
    ("ou:memberships,u:impersonation", "read,manage", "3,0", ["org:memberships:read", "org:memberships:manage"]),
    ("o:billing,o:email,o:fraud,o:instance,o:staging_plans", "manage,read", "3,3,3,3,1",
     ["org:billing:manage", "org:billing:read", "org:email:manage", "org:email:read", "org:fraud:manage",
      "org:fraud:read", "org:instance:manage", "org:instance:read", "org:staging_plans:manage"]),
    ("o:repositories,o:projects", "read,create,update,delete,revoke", "7,21",
     ["org:repositories:read", "org:repositories:create", "org:repositories:update", "org:projects:read",
      "org:projects:update", "org:projects:revoke"]),
    ("o:repositories,o:projects,o:webhooks,o:impersonation", "read,manage", "1,2,3,0",
     ["org:repositories:read", "org:projects:manage", "org:webhooks:read", "org:webhooks:manage"]),
    ("o:repositories,uo:projects,u:goldprofileborder", "read,create,update,delete,revoke", "7,21,0",
     ["org:repositories:read", "org:repositories:create", "org:repositories:update", "org:projects:read",
      "org:projects:update", "org:projects:revoke"]),
    ("o:repositories,o:impersonation,o:billing", "manage,read,update", "6,0,3",
     ["org:repositories:read", "org:repositories:update", "org:billing:manage", "org:billing:read"]),
]


@pytest.mark.parametrize(("fea", "per", "fpm", "expected"), PARSER_SPEC)
def test_v2_permissions_clerk_spec(fea: str, per: str, fpm: str, expected: list[str]) -> None:
    auth = v2(fea, id="org_id", rol="admin", slg="org_slug", per=per, fpm=fpm)
    assert list(auth.org_permissions) == expected  # @clerk/shared's order, not just the set
    for permission in expected:
        assert auth.has(permission=permission)


def test_v2_and_v1_give_the_same_authorization() -> None:
    # jwtPayloadParser.spec.ts: "produced auth object is the same for v1 and v2"
    two = v2("o:impersonation", id="org_xxxxxxx", rol="admin", slg="org_test", per="read,manage", fpm="3")
    one = authorization_from_claims({**BASE, "org_id": "org_xxxxxxx", "org_role": "org:admin", "org_slug": "org_test",
                                     "org_permissions": ["org:impersonation:read", "org:impersonation:manage"],
                                     "fea": "o:impersonation"})
    assert one == two
    # "... does not produce anything org related if there is no org active"
    no_org = authorization_from_claims({**BASE, "v": 2, "fea": "u:impersonation,u:memberships"})
    assert (no_org.org_id, no_org.org_role, no_org.org_slug, no_org.org_permissions) == (None, None, None, ())
    assert no_org.user_features == ("impersonation", "memberships")


def test_v2_role_and_missing_permission_claims() -> None:
    # jwtPayloadParser.spec.ts: "org role is prefixed with org:"; "no o.fpm and o.per → []"
    auth = v2("u:impersonation,u:memberships,u:feature3", id="org_id", rol="admin", slg="org_slug")
    assert auth.org_role == "org:admin" and auth.org_permissions == ()


PERMISSION_NAMES = ",".join(f"permission_{i}" for i in range(54))


@pytest.mark.parametrize(
    ("fpm", "indexes"),
    [
        # jwtPayloadParser.spec.ts: masks above 2**53 decode exactly
        ("9007199254740993", [0, 53]),
        ("9007199254740995", [0, 1, 53]),
        # "discards mask bits outside the declared permission list" (2**54, 54 names)
        ("18014398509481984", []),
        # "preserves permissions for the safe mask"
        ("1", [0]), ("3", [0, 1]), ("7", [0, 1, 2]), ("21", [0, 2, 4]),
        # "fails closed for the malformed mask"
        ("1invalid", []), ("-1", []), ("1.5", []),
        # ours: what int() would take but JavaScript's /^\d+$/ does not
        ("+1", []), ("1_0", []), ("٣", []), ("0x3", []), ("3e0", []), ("", []),
        # trimmed as JavaScript trims; leading zeros are fine
        (" 3 ", [0, 1]), ("\u00a03\ufeff", [0, 1]), ("0003", [0, 1]),
        # far beyond int()'s 4300-digit limit: only the low bits count
        ("1" + "0" * 10_000 + "3", [0, 1]),
    ],
)
def test_v2_masks(fpm: str, indexes: list[int]) -> None:
    auth = v2("o:feature", id="org_id", rol="admin", per=PERMISSION_NAMES, fpm=fpm)
    assert list(auth.org_permissions) == [f"org:feature:permission_{i}" for i in indexes]
    assert auth.has(permission="org:feature:permission_2") is (2 in indexes)


def test_v2_malformed_claims_grant_nothing() -> None:
    org = {"id": "org_1", "rol": "admin", "per": "read,manage", "fpm": "3"}
    # a fea element without a colon: @clerk/shared's splitByScope throws
    for fea in ["feature", "o:a,", "o:a,,o:b", 5, ["o:a"], {"o": "a"}, True]:
        auth = v2(fea, **org)
        assert auth.org_permissions == () and auth.org_features == ()
        assert not auth.has(permission="org:a:read") and not auth.has(feature="a")
        assert auth.has(role="admin")  # the role does not depend on fea
    # per / fpm that are not (non-empty) strings
    for per, fpm in [(None, "3"), ("read", None), ("", "3"), ("read", ""), (["read"], "3"), ("read", 3)]:
        assert v2("o:a", id="org_1", rol="admin", per=per, fpm=fpm).org_permissions == ()
    # unknown scopes are skipped, and do not count for the mask alignment
    assert v2("x:a,org:b,o:c", id="o", per="read", fpm="1").org_permissions == ("org:c:read",)
    # fewer masks than features: the rest grant nothing; surplus masks are ignored
    assert v2("o:a,o:b", id="o", per="read", fpm="1").org_permissions == ("org:a:read",)
    assert v2("o:a", id="o", per="read", fpm="1,1,1").org_permissions == ("org:a:read",)
    # feature names keep what follows the first colon; entries and names are trimmed
    assert v2(" o:a:b , u:c", id="o", per=" read ,manage", fpm="1").org_permissions == ("org:a:b:read",)
    # ... as JavaScript trims: a BOM goes, an information separator stays (unknown scope "\x1co")
    assert v2("\ufeffo:a,\x1co:b,o:c", id="o", per="read", fpm="1,1").org_permissions == ("org:a:read", "org:c:read")


def test_v2_organization_fields() -> None:
    assert v2(None, id="org_1", rol="org:admin").org_role == "org:org:admin"  # as @clerk/shared: org: + rol
    assert v2(None, id="org_1", rol="org:admin").has(role="admin")
    assert v2(None, id="org_1", slg="acme").org_slug == "acme"
    # a present but non-string id or role counts as absent (Clerk's JS would take any truthy value)
    assert not v2(None, id=1, rol="admin").has(role="admin")
    assert not v2(None, id="org_1", rol=7).has(role="7")
    o: Any
    for o in [None, "org_1", ["org_1"], {}, 0]:
        auth = authorization_from_claims({**BASE, "v": 2, "o": o, "org_id": "org_v1"})
        assert auth.org_id is None  # v2 never reads the v1 claims
    # "v": 2.0 is 2 (JSON numbers), "2" is not
    assert authorization_from_claims({**BASE, "v": 2.0, "o": {"id": "org_1"}}).org_id == "org_1"
    assert authorization_from_claims({**BASE, "v": "2", "o": {"id": "org_1"}, "org_id": "x"}).org_id == "x"


# --- fea / pla scopes ----------------------------------------------------------
# packages/shared/src/__tests__/jwtPayloadParser.spec.ts and authorization.spec.ts ("splitByScope")
SPLIT_SPEC = [
    ("", (), ()),
    ("o:impersonation,o:payments", ("impersonation", "payments"), ()),
    ("u:impersonation,u:payments", (), ("impersonation", "payments")),
    ("o:payments,u:impersonation", ("payments",), ("impersonation",)),
    ("ou:payments,u:impersonation", ("payments",), ("payments", "impersonation")),
    ("o:reservations,u:dashboard", ("reservations",), ("dashboard",)),
    ("o:reservations,u:dashboard,ou:support-chat,uo:billing",
     ("reservations", "support-chat", "billing"), ("dashboard", "support-chat", "billing")),
    # throws in @clerk/shared ("Invalid claim element (missing colon)"): nothing here
    ("reservations,dashboard", (), ()),
]


@pytest.mark.parametrize(("fea", "org", "user"), SPLIT_SPEC)
def test_features_and_plans_by_scope(fea: str, org: tuple[str, ...], user: tuple[str, ...]) -> None:
    auth = authorization_from_claims({**BASE, "fea": fea, "pla": fea})
    assert (auth.org_features, auth.user_features) == (org, user)
    assert (auth.org_plans, auth.user_plans) == (org, user)


# --- has(): createCheckAuthorization ------------------------------------------
# packages/shared/src/__tests__/authorization.spec.ts, "correctly parses features"
@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ("o:reservations", True), ("org:reservations", True), ("organization:reservations", True),
        ("reservations", True), ("u:dashboard", True), ("user:dashboard", True), ("dashboard", True),
        ("lol:dashboard", False),
        # ours: the other scope never matches; only the text up to a second colon counts
        ("u:reservations", False), ("org:dashboard", False), ("org:reservations:extra", True),
        ("", False), ("org:", False), ("User:dashboard", False),
    ],
)
def test_has_feature_scopes(feature: str, expected: bool) -> None:
    auth = options(org_role="admin", features="o:reservations,u:dashboard", plans="free_user,plus_user",
                   fva=(1000, 2000))
    assert auth.has(feature=feature) is expected


def test_has_feature_empty_scope_name_means_the_scope() -> None:
    # checkForFeatureOrPlan: `rawId || rawScope` — "org:" asks for a feature named "org"
    assert options(features="o:org").has(feature="org:")


# packages/shared/src/__tests__/authorization.spec.ts: fail-closed and AND cases
# (options overrides, question, expected)
CHECK_SPEC: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"org_role": 123}, {"role": "org:admin"}, False),  # malformed orgRole claim
    ({"org_permissions": {}}, {"permission": "org:sys_profile:delete"}, False),  # malformed orgPermissions
    ({"features": {}}, {"feature": "org:premium"}, False),  # malformed features claim
    ({"plans": {}}, {"plan": "u:plus"}, False),  # malformed plans claim
    ({"features": "o:premium", "plans": "plus"}, {}, False),  # no dimension requested
    ({"org_id": None, "org_role": None, "org_permissions": None},
     {"permission": "org:sys_profile:delete", "reverification": "strict"}, False),
    ({"org_id": None, "org_role": None, "org_permissions": None},
     {"role": "org:admin", "reverification": "strict"}, False),
    ({"org_permissions": ("org:sys_profile:delete",), "fva": None},
     {"permission": "org:sys_profile:delete", "reverification": "strict"}, False),  # fva not opted in
    ({"org_id": None, "fva": ["0", "0"]}, {"reverification": "strict_mfa"}, False),  # malformed fva
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations"},
     {"permission": "org:sys_profile:delete", "feature": "org:reservations"}, False),
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations"},
     {"permission": "org:sys_memberships:read", "feature": "org:reservations"}, True),
    ({"org_permissions": ("org:sys_memberships:read",)},
     {"role": "org:admin", "permission": "org:sys_profile:delete"}, False),
    ({"org_permissions": ("org:sys_memberships:read",)},
     {"role": "org:admin", "permission": "org:sys_memberships:read"}, True),
    ({"features": "o:reservations", "plans": "u:plus"}, {"feature": "org:reservations", "plan": "u:plus"}, True),
    ({"features": "o:reservations", "plans": "u:plus"}, {"feature": "org:reservations", "plan": "u:free"}, False),
    ({"features": "o:reservations", "plans": "u:plus"}, {"feature": "org:missing", "plan": "u:plus"}, False),
    ({}, {"feature": "org:premium"}, False),  # features claim empty
    ({"org_id": None, "fva": (-0.5, 0)}, {"reverification": "strict"}, False),  # negative non-sentinel age
    ({"org_permissions": ("org:sys_profile:delete",), "features": "o:premium", "plans": "u:plus"},
     {"role": 123}, False),  # non-string values fail without raising
    ({"org_permissions": ("org:sys_profile:delete",)}, {"permission": 123}, False),
    ({"features": "o:premium"}, {"feature": 123}, False),
    ({"plans": "u:plus"}, {"plan": ["u:plus"]}, False),
    ({"org_permissions": ("org:sys_memberships:read",)},
     {"role": "org:member", "permission": "org:sys_memberships:read"}, False),
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations", "plans": "u:plus"},
     {"role": "org:admin", "feature": "org:missing"}, False),
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations", "plans": "u:plus"},
     {"role": "org:admin", "plan": "u:free"}, False),
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations", "plans": "u:plus"},
     {"role": "org:admin", "feature": "org:reservations"}, True),
    ({"org_permissions": ("org:sys_profile:delete",)}, {"feature": "org:premium", "reverification": "strict"}, False),
    ({"org_permissions": ("org:sys_memberships:read",)},
     {"permission": "org:sys_memberships:read", "reverification": "strict"}, True),
    ({"features": "o:reservations"}, {"role": "org:admin", "feature": "org:reservations"}, True),
    ({"org_permissions": ("org:sys_memberships:read",), "features": "o:reservations"},
     {"permission": "org:sys_memberships:read", "feature": "org:reservations", "reverification": "strict"}, True),
    ({"org_permissions": ("org:sys_memberships:read",), "fva": (0, -1)},
     {"permission": "org:sys_memberships:read", "reverification": "strict_mfa"}, True),  # graceful downgrade
    ({"org_permissions": ("org:sys_memberships:read",), "fva": (-1, -1)},
     {"permission": "org:sys_memberships:read", "reverification": "strict"}, False),  # no factor enrolled
    ({"user_id": None}, {"role": "org:admin"}, False),  # no user, no grant
    ({"user_id": ""}, {"feature": "reservations"}, False),
]


@pytest.mark.parametrize(("overrides", "question", "expected"), CHECK_SPEC)
def test_has_clerk_spec(overrides: dict[str, Any], question: dict[str, Any], expected: bool) -> None:
    assert options(**overrides).has(**question) is expected


# packages/backend/src/tokens/__tests__/authObjects.test.ts (signedInAuthObject)
V1_ORG = {"org_id": "orgId", "org_slug": "orgSlug", "org_permissions": ["org:f1:read", "org:f2:manage"]}
AUTH_OBJECT_SPEC: list[tuple[str, dict[str, Any], list[tuple[dict[str, Any], bool]]]] = [
    ("v1 user scope", {}, [
        ({"role": "org:admin"}, False), ({"role": "admin"}, False), ({"permission": "org:f1:read"}, False),
        ({"permission": "f1:read"}, False), ({"feature": "org:reservations"}, False),
        ({"feature": "org:impersonation"}, False)]),
    *[(f"v1 orgs, org_role {role!r}", {**V1_ORG, "org_role": role}, [
        ({"role": "org:admin"}, True), ({"role": "admin"}, True), ({"permission": "org:f1:read"}, True),
        ({"permission": "f1:read"}, True), ({"permission": "org:f1"}, False), ({"permission": "org:f2:manage"}, True),
        ({"permission": "org:f2"}, False), ({"feature": "org:reservations"}, False),
        ({"feature": "org:impersonation"}, False)]) for role in ("org:admin", "admin")],  # "old `admin` role"
    ("v2 orgs", {"v": 2, "fea": "o:reservations,o:impersonation",
                 "o": {"id": "orgId", "rol": "admin", "slg": "orgSlug", "per": "read,manage", "fpm": "3"}}, [
        ({"role": "org:admin"}, True), ({"role": "admin"}, True), ({"permission": "org:reservations:read"}, True),
        ({"permission": "reservations:read"}, True), ({"permission": "org:reservations"}, False),
        ({"permission": "org:reservations:manage"}, True), ({"permission": "org:impersonation:read"}, False),
        ({"permission": "org:impersonation:manage"}, False), ({"feature": "org:reservations"}, True),
        ({"feature": "org:impersonation"}, True)]),
    ("v2 rol with org:", {"v": 2, "fea": "o:reservations,o:impersonation",
                          "o": {"id": "orgId", "rol": "org:admin", "per": "read,manage", "fpm": "3"}}, [
        ({"role": "org:admin"}, True), ({"role": "admin"}, True)]),
    ("v2 billing", {"v": 2, "fea": "o:reservations,u:dashboard,uo:support-chat,o:impersonation",
                    "o": {"id": "orgId", "rol": "member", "slg": "orgSlug", "per": "read,manage", "fpm": "2,3"},
                    "pla": "u:pro,o:business"}, [
        ({"permission": "org:reservations:read"}, False), ({"permission": "org:reservations:manage"}, True),
        ({"permission": "org:support-chat:read"}, True), ({"permission": "org:support-chat:manage"}, True),
        ({"permission": "u:dashboard:manage"}, False), ({"permission": "u:dashboard:read"}, False),
        ({"feature": "org:reservations"}, True), ({"feature": "user:reservations"}, False),
        ({"feature": "org:impersonation"}, True), ({"feature": "user:impersonation"}, False),
        ({"feature": "org:dashboard"}, False), ({"feature": "user:dashboard"}, True),
        ({"feature": "org:support-chat"}, True), ({"feature": "user:support-chat"}, True),
        ({"plan": "org:business"}, True), ({"plan": "user:business"}, False),
        ({"plan": "org:pro"}, False), ({"plan": "user:pro"}, True),
        # "has() for billing without scopes"
        ({"feature": "reservations"}, True), ({"feature": "dashboard"}, True), ({"feature": "pro"}, False),
        ({"feature": "impersonation"}, True), ({"plan": "pro"}, True), ({"plan": "business"}, True)]),
]


@pytest.mark.parametrize(("name", "claims", "table"), AUTH_OBJECT_SPEC, ids=[c[0] for c in AUTH_OBJECT_SPEC])
def test_has_auth_object_spec(name: str, claims: dict[str, Any], table: list[tuple[dict[str, Any], bool]]) -> None:
    auth = authorization_from_claims({**BASE, "act": {"sub": "actor"}, "sid": "sessionId", "sub": "userId", **claims})
    for question, expected in table:
        assert auth.has(**question) is expected, question


def test_roles_and_permissions_prefix_rules() -> None:
    legacy = options(org_role="admin", org_permissions=("org:f1:read", "f2:manage"))
    assert legacy.has(role="admin") and legacy.has(role="org:admin") and legacy.has(role="org:org:admin")
    assert not legacy.has(role="org:member") and not legacy.has(role="")
    # the token's permissions are compared as they are: a bare one never matches
    assert legacy.has(permission="f1:read") and not legacy.has(permission="f2:manage")
    assert options(org_role="org:").has(role="")  # both sides are "org:" once prefixed
    assert not options(org_role="").has(role="")  # no role in the token
    assert not options(org_id="").has(permission="org:read")


# --- reverification ------------------------------------------------------------
# packages/clerk-js/src/core/resources/__tests__/Session.test.ts (checkAuthorization)
SESSION_SPEC: list[tuple[Any, Any, bool]] = [
    ([0, 11], {"level": "multi_factor", "after_minutes": 10}, False),  # with permission
    ([0, 0], {"level": "multi_factor", "after_minutes": 10}, True),
    ([0, 10], {"level": "multi_factor", "after_minutes": 10}, False),
    ([10, 0], {"level": "multi_factor", "after_minutes": 10}, False),
    ([0, -1], {"level": "multi_factor", "after_minutes": 10}, True),
    ([11, -1], "strict", False),
    ([0, -1], "strict_mfa", True),
    ([11, -1], {"level": "multi_factor", "after_minutes": 10}, False),
    ([10, 10], {"level": "multi_factor", "after_minutes": 10}, False),
    (None, {"level": "multi_factor", "after_minutes": 10}, False),
    (None, {"level": "first_factor", "after_minutes": 10}, False),
    (None, "strict", False),
]


@pytest.mark.parametrize(("fva", "config", "expected"), SESSION_SPEC)
def test_reverification_clerk_spec(fva: Any, config: Any, expected: bool) -> None:
    claims = {**BASE, "fva": fva} if fva is not None else dict(BASE)
    auth = authorization_from_claims(claims)
    assert auth.has(reverification=config) is expected
    assert parse_reverification(config).satisfied_by(fva) is expected


@pytest.mark.parametrize("preset", list(REVERIFICATION_PRESETS))
def test_presets_at_the_boundary(preset: str) -> None:
    level, minutes = REVERIFICATION_PRESETS[preset]  # type: ignore[index]
    rev = parse_reverification(preset)  # type: ignore[arg-type]
    assert (rev.level, rev.after_minutes, rev.preset) == (level, minutes, preset)
    assert rev == parse_reverification(rev)
    fresh, boundary, stale = minutes - 0.5, minutes, minutes + 1
    # verified less than after_minutes ago passes; exactly after_minutes ago does not
    assert rev.satisfied_by([fresh, fresh]) and rev.satisfied_by([0, minutes - 1])
    assert not rev.satisfied_by([boundary, boundary]) and not rev.satisfied_by([stale, stale])
    assert not rev.satisfied_by([-1, -1]) and not rev.satisfied_by(None)
    assert rev.satisfied_by([fresh, -1])  # no second factor enrolled: the first factor counts
    if level == "multi_factor":
        assert not rev.satisfied_by([-1, fresh])  # only a second factor enrolled: cannot be multi-factor
        assert not rev.satisfied_by([stale, fresh]) and not rev.satisfied_by([fresh, stale])
    else:
        assert rev.satisfied_by([-1, fresh]) and rev.satisfied_by([stale, fresh])
        assert not rev.satisfied_by([fresh, stale])  # the second factor, when enrolled, decides


@pytest.mark.parametrize(
    ("level", "fva", "expected"),
    [
        ("first_factor", [4, 99], True), ("first_factor", [5, 0], False), ("first_factor", [-1, 0], False),
        ("first_factor", [4.99, -1], True),
        ("second_factor", [99, 4], True), ("second_factor", [0, 5], False), ("second_factor", [4, -1], True),
        ("second_factor", [5, -1], False), ("second_factor", [-1, 4], True), ("second_factor", [-1, 5], False),
        ("multi_factor", [4, 4], True), ("multi_factor", [5, 4], False), ("multi_factor", [4, 5], False),
        ("multi_factor", [4, -1], True), ("multi_factor", [-1, 4], False), ("multi_factor", [0, 0], True),
    ],
)
def test_custom_reverification_at_the_boundary(level: str, fva: list[float], expected: bool) -> None:
    rev = parse_reverification({"level": level, "after_minutes": 5})  # type: ignore[arg-type]
    assert rev.satisfied_by(fva) is expected
    assert authorization_from_claims({**BASE, "fva": fva}).has(reverification=rev) is expected


@pytest.mark.parametrize(
    "fva",
    [
        None, [], [0], [0, 0, 0], "0,0", {"0": 0}, ["0", "0"], [True, 0], [0, None], [-0.5, 0], [0, -2],
        [10**400, 0], [0, 10**400],  # beyond float range: JavaScript reads Infinity
    ],
)
def test_malformed_fva_fails_closed(fva: Any) -> None:
    auth = authorization_from_claims({**BASE, "fva": fva})
    assert auth.factor_verification_age is None
    for config in ("strict", "lax", {"level": "first_factor", "after_minutes": 10**9}):
        assert not auth.has(reverification=config)  # type: ignore[arg-type]


def test_tokens_without_fva_never_pass_reverification() -> None:
    # Clerk's JS: `fva ?? null`, then "factorVerificationAge is null" fails (fail closed)
    auth = authorization_from_claims({**BASE, "org_id": "org_1", "org_role": "admin"})
    assert auth.factor_verification_age is None
    assert not auth.has(reverification="lax")
    assert not auth.has(role="admin", reverification="lax")
    assert auth.has(role="admin")


@pytest.mark.parametrize(
    "config",
    [
        # invalid in Clerk's own tests (has() answers false there): authorization.spec.ts
        "invalid-value", {"level": "multi_factor"}, {"level": "multi_factor", "after_minutes": 0},
        {"level": "multi_factor", "after_minutes": -1},
        # Session.test.ts
        {"level": "any level", "after_minutes": 10}, {"level": "any level", "after_minutes": "some-value"},
        123, {"level": "first_factor", "after_minutes": "10"}, {"level": "multiFactor", "after_minutes": 10},
        # ours
        "", "STRICT", [], ["strict"], {"after_minutes": 10},
        {"level": "first_factor", "after_minutes": True}, {"level": "first_factor", "after_minutes": float("inf")},
        {"level": "first_factor", "after_minutes": float("nan")}, {"level": "first_factor", "after_minutes": 10**400},
        {"level": ["first_factor"], "after_minutes": 10}, {"level": {}, "after_minutes": 10},
        {"level": "first_factor", "afterMinutes": 10}, {"level": "first_factor", "after_minutes": 10, "x": 1},
        Reverification("first_factor", 0), Reverification("bogus", 10),  # type: ignore[arg-type]
    ],
)
def test_bad_reverification_config_is_a_config_error(config: Any) -> None:
    with pytest.raises(ClerkConfigError) as raised:
        parse_reverification(config)
    assert raised.value.setting == "reverification"
    with pytest.raises(ClerkConfigError):
        options().has(reverification=config)
    with pytest.raises(ClerkConfigError):
        reverification_error_body(config)


def test_config_error_names_the_js_spelling() -> None:
    with pytest.raises(ClerkConfigError, match="after_minutes"):
        parse_reverification({"level": "first_factor", "afterMinutes": 10})  # type: ignore[arg-type]


def test_a_preset_reverification_cannot_be_tampered_with() -> None:
    tampered = Reverification("first_factor", 10**6, "strict")
    assert parse_reverification(tampered) == Reverification("second_factor", 10, "strict")


# packages/shared/src/authorization-errors.ts: reverificationError / reverificationErrorResponse
def test_reverification_error_body() -> None:
    assert REVERIFICATION_ERROR_STATUS == 403
    assert reverification_error_body("strict") == {
        "clerk_error": {
            "type": "forbidden", "reason": "reverification-error", "metadata": {"reverification": "strict"}
        }
    }
    assert reverification_error_body({"level": "first_factor", "after_minutes": 5})["clerk_error"]["metadata"] == {
        "reverification": {"level": "first_factor", "afterMinutes": 5}
    }
    # reverificationError() with no config: JSON.stringify drops the undefined value
    assert reverification_error_body() == {
        "clerk_error": {"type": "forbidden", "reason": REVERIFICATION_ERROR_REASON, "metadata": {}}
    }
    body = reverification_error_body(parse_reverification("moderate"))
    body["clerk_error"]["metadata"]["reverification"] = "lax"  # a new dict each time
    assert reverification_error_body("moderate")["clerk_error"]["metadata"]["reverification"] == "moderate"
    json.dumps(body)


# --- where clerk-backend-api (clerk-sdk-python) decodes differently -------------
@pytest.mark.parametrize(
    ("fea", "per", "fpm", "ours", "theirs"),
    [
        # fpm lines up with organization entries only (@clerk/shared), not with every fea entry
        ("u:a,o:b", "read", "1", ["org:b:read"], []),
        ("o:reservations,u:dashboard,uo:support-chat", "read,manage", "2,3",
         ["org:reservations:manage", "org:support-chat:read", "org:support-chat:manage"],
         ["org:reservations:manage"]),
        # masks: JavaScript's /^\d+$/ against Python's int()
        ("o:a", "read,manage", "-1", [], ["org:a:read"]),
        ("o:a", "read,manage", "+1", [], ["org:a:read"]),
        # scopes: exactly o/ou/uo against "contains an o"
        ("org:a", "read", "1", [], ["org:a:read"]),
    ],
)
def test_differences_from_clerk_backend_api(fea: str, per: str, fpm: str, ours: list[str], theirs: list[str]) -> None:
    from clerk_backend_api.security.authenticaterequest import _process_payload

    claims = {**BASE, "v": 2, "fea": fea, "o": {"id": "org_1", "rol": "admin", "per": per, "fpm": fpm}}
    assert list(authorization_from_claims(claims).org_permissions) == ours
    payload = json.loads(json.dumps(claims))
    _process_payload(payload)
    assert list(payload.get("org_permissions") or []) == theirs


# --- properties ------------------------------------------------------------------
EXAMPLES = int(os.environ.get("CLERK_FUZZ_EXAMPLES", "700"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_claim_text = st.text(alphabet="ou:x,0123456789- \u00a0.aborg", max_size=24)
_claims = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.one_of(st.just("user_1"), _json),
        "v": st.sampled_from([1, 2, 2.0, "2", None]),
        "o": st.one_of(
            _json,
            st.fixed_dictionaries(
                {}, optional={k: st.one_of(_claim_text, _json) for k in ("id", "rol", "slg", "per", "fpm")}
            ),
        ),
        "fea": st.one_of(_claim_text, _json),
        "pla": st.one_of(_claim_text, _json),
        "org_id": _json, "org_role": _json, "org_slug": _json, "org_permissions": _json,
        "fva": st.one_of(_json, st.lists(st.one_of(st.integers(-2, 10**20), st.floats()), max_size=3)),
    },
)
_questions = st.fixed_dictionaries(
    {},
    optional={k: st.one_of(_claim_text, _json) for k in ("permission", "role", "feature", "plan")}
    | {"reverification": st.sampled_from([*REVERIFICATION_PRESETS, {"level": "first_factor", "after_minutes": 1}])},
)


@pytest.mark.fuzz
@FUZZ
@given(claims=st.one_of(_claims, _json), question=_questions)
def test_never_raises_on_arbitrary_claims(claims: Any, question: dict[str, Any]) -> None:
    auth = authorization_from_claims(claims)
    assert isinstance(auth.has(**question), bool)
    assert all(isinstance(p, str) for p in auth.org_permissions)
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        assert not auth.has(**question)  # no user, no grant


# What JavaScript's trim() removes.
JS_WHITESPACE = "\t\n\x0b\x0c\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff" + "".join(map(chr, range(0x2000, 0x200B)))


def _ascii_digits_once_trimmed(mask: str) -> bool:
    core = mask.strip(JS_WHITESPACE)
    return core.isascii() and core.isdigit()


_malformed_mask = st.one_of(
    st.text(max_size=8), st.sampled_from(["-1", "+1", "1.5", "1_0", "0x3", "3e0", "\u0663", "1invalid", "\u00b2"])
).filter(lambda m: "," not in m and not _ascii_digits_once_trimmed(m))


@pytest.mark.fuzz
@FUZZ
@given(
    names=st.lists(st.text(alphabet="abc", min_size=1, max_size=3), min_size=1, max_size=5),
    per=st.lists(st.text(alphabet="rwx", min_size=1, max_size=3), min_size=1, max_size=8),
    masks=st.lists(_malformed_mask, min_size=1, max_size=5),
)
def test_malformed_masks_never_grant(names: list[str], per: list[str], masks: list[str]) -> None:
    fea = ",".join(f"o:{n}" for n in names)
    auth = v2(fea, id="org_1", rol="admin", per=",".join(per), fpm=",".join(masks))
    assert auth.org_permissions == ()
    for n in names:
        for p in per:
            assert not auth.has(permission=f"org:{n}:{p}")


@FUZZ
@given(
    scopes=st.lists(st.sampled_from(["o", "u", "ou", "uo"]), min_size=1, max_size=6),
    per=st.lists(st.sampled_from(["read", "manage", "delete", "create"]), min_size=1, max_size=4, unique=True),
    masks=st.lists(st.integers(0, 2**70), min_size=0, max_size=7),
)
def test_masks_decode_bit_by_bit(scopes: list[str], per: list[str], masks: list[int]) -> None:
    """Mixed u:/o:/uo: features: the i-th mask goes to the i-th org-scoped
    feature, bit j (least significant first) to per[j]."""
    features = [f"f{i}" for i in range(len(scopes))]
    org_features = [f for f, s in zip(features, scopes, strict=True) if "o" in s]
    expected = [
        f"org:{feature}:{name}"
        for feature, mask in zip(org_features, masks, strict=False)
        for j, name in enumerate(per)
        if mask >> j & 1
    ]
    auth = v2(",".join(f"{s}:{f}" for s, f in zip(scopes, features, strict=True)),
              id="org_1", per=",".join(per), fpm=",".join(map(str, masks)))
    assert list(auth.org_permissions) == expected
    assert auth.org_features == tuple(org_features)
    assert auth.user_features == tuple(f for f, s in zip(features, scopes, strict=True) if "u" in s)


# --- differential: the published @clerk/shared, run by node -----------------------
CLERK_SHARED = "@clerk/shared@4.41.0"  # matches packages/shared/src at e21ae9a4
ORACLE_JS = r"""
const { createCheckAuthorization, validateReverificationConfig } = require('./authorization.js');
const { __experimental_JWTPayloadToAuthObjectProperties: parse } = require('./jwtPayloadParser.js');
const { reverificationError, isReverificationHint } = require('./authorization-errors.js');
let input = '';
process.stdin.on('data', d => { input += d; });
process.stdin.on('end', () => {
  const { cases, bodies } = JSON.parse(input);
  const results = cases.map(({ claims, questions }) => {
    let p;
    try { p = parse(claims); } catch (e) { return { throws: String(e && e.message) }; }
    // as @clerk/backend's signedInAuthObject (authObjects.ts)
    const has = createCheckAuthorization({
      userId: p.userId, orgId: p.orgId, orgRole: p.orgRole, orgPermissions: p.orgPermissions,
      factorVerificationAge: p.factorVerificationAge, features: claims.fea || '', plans: claims.pla || '',
    });
    return {
      orgId: p.orgId === undefined ? null : p.orgId,
      orgRole: p.orgRole === undefined ? null : p.orgRole,
      orgPermissions: p.orgPermissions === undefined ? null : p.orgPermissions,
      verdicts: questions.map(q => has(q)),
    };
  });
  const errors = bodies.map(c => reverificationError(c === null ? undefined : c));
  const hints = bodies.map(c => {
    const body = JSON.parse(JSON.stringify(reverificationError(c === null ? undefined : c)));
    const valid = validateReverificationConfig(body.clerk_error.metadata.reverification);
    return { hint: isReverificationHint(body), level: valid ? valid().level : null };
  });
  process.stdout.write(JSON.stringify({ results, errors: JSON.parse(JSON.stringify(errors)), hints }));
});
"""


@pytest.fixture(scope="module")
def clerk_shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """@clerk/shared's authorization code from the npm registry, beside a
    small node script that answers for it."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if os.environ.get("CI"):
            pytest.fail("node and npm are needed in CI to run @clerk/shared")
        pytest.skip("node/npm not installed: @clerk/shared cannot be run")
    directory = tmp_path_factory.mktemp("clerk-shared")
    out = subprocess.run([npm, "pack", CLERK_SHARED, "--silent", "--pack-destination", str(directory)],
                         capture_output=True, text=True, timeout=300, cwd=directory)
    if out.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"npm pack {CLERK_SHARED} failed: {out.stderr[-500:]}")
        pytest.skip(f"npm pack {CLERK_SHARED} failed (registry unreachable?)")
    with tarfile.open(directory / out.stdout.strip().splitlines()[-1]) as archive:
        for name in ("authorization.js", "jwtPayloadParser.js", "authorization-errors.js"):
            member = archive.extractfile(f"package/dist/{name}")
            assert member is not None
            (directory / name).write_bytes(member.read())
    (directory / "oracle.js").write_text(ORACLE_JS)
    return directory


def _ask_clerk(directory: Path, cases: list[dict[str, Any]], bodies: list[Any]) -> dict[str, Any]:
    out = subprocess.run(["node", "oracle.js"], input=json.dumps({"cases": cases, "bodies": bodies}),
                         capture_output=True, text=True, timeout=120, cwd=directory, check=True)
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


def _js_truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") if not isinstance(value, list | dict) else True


def _js_config(config: Any) -> Any:
    return config if isinstance(config, str) else {"level": config["level"], "afterMinutes": config["after_minutes"]}


_WS = [" ", "\u00a0", "\ufeff", "\u2028", "\x1c", "\x85", "\t"]


def _corpus(seed: int, size: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    names = ["a", "b", "reports", "a:b", "", "org", "x y"]

    def pick(*options: Any) -> Any:
        return rnd.choice(options)

    def scoped(scopes: tuple[str, ...]) -> Any:
        if rnd.random() < 0.05:
            return pick(None, 5, [], "", "nocolon")
        parts = []
        for _ in range(rnd.randint(0, 5)):
            part = f"{rnd.choice(scopes)}:{rnd.choice(names)}" if rnd.random() < 0.95 else rnd.choice(names)
            if rnd.random() < 0.2:
                part = rnd.choice(_WS) + part + rnd.choice(_WS)
            parts.append(part)
        return ",".join(parts)

    def mask() -> str:
        m: str = pick(str(rnd.randint(0, 64)), str(rnd.randint(0, 2**80)), "9007199254740993", "-1", "1.5",
                      "1invalid", "", "+1", "1_0", "0x3", "\u0663", "3e0", "0003", "1" + "0" * 30 + "7")
        return m if rnd.random() < 0.8 else rnd.choice(_WS) + m + rnd.choice(_WS)

    def age() -> Any:
        return pick(-1, -1, 0, 0, 1, 1, 4.5, 5, 9, 10, 11, 59, 60, 61, 1439, 1440, 1441,
                    -0.5, -2, "0", True, None, 10**400)

    feature_scopes = ("o", "u", "ou", "uo", "o", "x", "org", "")
    role = ["admin", "org:admin", "org:org:admin", "member", "", "org:"]
    cases = []
    for _ in range(size):
        claims: dict[str, Any] = {"sub": "user_1" if rnd.random() < 0.9 else pick("", None, 5)}
        if rnd.random() < 0.6:
            claims["fea"] = scoped(feature_scopes)
        if rnd.random() < 0.5:
            claims["pla"] = scoped(("o", "u", "ou", "x"))
        if rnd.random() < 0.7:
            claims["fva"] = [age(), age()] if rnd.random() < 0.9 else pick([0], [0, 0, 0], "0,0", None)
        if rnd.random() < 0.5:
            claims["v"] = 2
            if rnd.random() < 0.9:
                org: dict[str, Any] = {"id": "org_1" if rnd.random() < 0.8 else pick("", None, 7),
                                       "rol": pick(*role, None, 3),
                                       "slg": "acme"}
                per = ",".join(rnd.choice(["read", "manage", " delete ", "x", "read"])
                               for _ in range(rnd.randint(0, 6)))
                org["per"] = per if rnd.random() < 0.95 else pick(None, 5, "")
                fpm = ",".join(mask() for _ in range(rnd.randint(0, 6)))
                org["fpm"] = fpm if rnd.random() < 0.95 else pick(None, 3)
                claims["o"] = org
            else:
                claims["o"] = pick(None, {}, "org_1", [], 0)
        else:
            if rnd.random() < 0.8:
                claims["org_id"] = "org_1" if rnd.random() < 0.8 else pick("", None, 7, [])
                claims["org_role"] = pick(*role, None, 3)
                perms = ["org:a:read", "org:reports:manage", "b:read", 5, "org:a:b:read", "org:b:delete"]
                claims["org_permissions"] = (rnd.sample(perms, rnd.randint(0, 4)) if rnd.random() < 0.9
                                             else pick("org:a:read", {}, None))
        # questions: half of them built from what this token holds, so that grants are common
        held = [f"{f}:{p}" for f in ("a", "b", "reports", "a:b", "org", "x y") for p in ("read", "manage", "delete")]
        permissions = [*held, *(f"org:{h}" for h in held), "org:org:a:read", "b:read", "", "org:x:x"]
        features = ["a", "b", "reports", "o:a", "org:a", "organization:b", "u:a", "user:b", "lol:a", "org:", "",
                    "u:a:b", "org:a:b", "x y", "org", "User:a", "user:reports", "org:reports", "o:x y"]
        pools: dict[str, Any] = {
            "permission": permissions, "role": role, "feature": features, "plan": features,
            "reverification": ["strict_mfa", "strict", "moderate", "lax",
                               *({"level": level, "after_minutes": minutes}
                                 for level in ("first_factor", "second_factor", "multi_factor")
                                 for minutes in (1, 5, 10, 4.5, 60))],
        }
        # permissions this token may hold, with and without org:
        mine = [p for p in claims.get("org_permissions") or [] if isinstance(p, str)] if isinstance(
            claims.get("org_permissions"), list) else []
        held_org = claims.get("o")
        if isinstance(held_org, dict) and isinstance(claims.get("fea"), str) and isinstance(held_org.get("per"), str):
            mine += [f"org:{f.partition(':')[2].strip()}:{p.strip()}"
                     for f in claims["fea"].split(",") for p in held_org["per"].split(",")]
        mine += [m.removeprefix("org:") for m in mine]
        questions: list[dict[str, Any]] = []
        for _ in range(10):
            pools["permission"] = mine if mine and rnd.random() < 0.7 else permissions
            asked = rnd.choices([0, 1, 2, 3], weights=[1, 30, 10, 2])[0]
            questions.append({key: rnd.choice(pools[key]) for key in rnd.sample(sorted(pools), asked)})
        cases.append({"claims": claims, "questions": questions})
    return cases


def _well_typed(claims: dict[str, Any]) -> bool:
    """No truthy non-string sub / organization ID / v2 role: where we are
    deliberately stricter than Clerk's JavaScript."""
    org = claims.get("o") if claims.get("v") == 2 else None
    values = [claims.get("sub")]
    values += [org.get("id"), org.get("rol")] if isinstance(org, dict) else []
    values += [claims.get("org_id")] if claims.get("v") != 2 else []
    return all(isinstance(v, str) or not _js_truthy(v) for v in values)


@pytest.mark.slow
def test_same_verdicts_as_clerk_shared(clerk_shared: Path) -> None:
    cases = _corpus(seed=20260821, size=4000)
    bodies: list[Any] = [None, "strict_mfa", "strict", "moderate", "lax", {"level": "first_factor", "after_minutes": 5},
                         {"level": "multi_factor", "after_minutes": 2.5}]
    answer = _ask_clerk(clerk_shared, [{"claims": c["claims"], "questions": [
        {k: (_js_config(v) if k == "reverification" else v) for k, v in q.items()} for q in c["questions"]]}
        for c in cases], [None if b is None else _js_config(b) for b in bodies])
    compared = threw = 0
    outcomes: dict[tuple[str, bool], int] = {}
    for case, theirs in zip(cases, answer["results"], strict=True):
        claims = json.loads(json.dumps(case["claims"]))
        ours = authorization_from_claims(claims)
        verdicts = [ours.has(**q) for q in case["questions"]]
        if "throws" in theirs:
            # Clerk's JavaScript throws (a fea element without a colon, a non-string
            # fea/per/fpm): the request would fail. We grant no permission from them.
            threw += 1
            assert ours.org_permissions == (), claims
            assert not any(v for q, v in zip(case["questions"], verdicts, strict=True) if "permission" in q)
            continue
        js_perms = theirs["orgPermissions"]
        assert list(ours.org_permissions) == (
            [p for p in js_perms if isinstance(p, str)] if isinstance(js_perms, list) else []), claims
        if _well_typed(claims):
            assert ours.org_id == (theirs["orgId"] or None), claims
            assert ours.org_role == (theirs["orgRole"] if isinstance(theirs["orgRole"], str) and theirs["orgRole"]
                                     else None), claims
            assert verdicts == theirs["verdicts"], (claims, case["questions"], verdicts, theirs["verdicts"])
        else:
            for q, mine, js in zip(case["questions"], verdicts, theirs["verdicts"], strict=True):
                assert js or not mine, (claims, q)  # stricter, never more generous
        compared += 1
        for q, verdict in zip(case["questions"], verdicts, strict=True):
            for key in q:
                outcomes[key, verdict] = outcomes.get((key, verdict), 0) + 1
    # the corpus exercises every dimension, both answers, and the paths where Clerk throws
    assert compared > 3000 and threw > 50, (compared, threw)
    for key in ("permission", "role", "feature", "plan", "reverification"):
        assert outcomes.get((key, True), 0) > 200 and outcomes.get((key, False), 0) > 200, outcomes
    for config, js_body, hint in zip(bodies, answer["errors"], answer["hints"], strict=True):
        assert reverification_error_body(config) == js_body
        assert hint["hint"] is True  # isReverificationHint: what useReverification() looks for
        if config is not None:
            assert hint["level"] == parse_reverification(config).level
