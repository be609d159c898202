"""Authorization checks on a session token's claims, with the verdicts of
Clerk's ``has()`` (``@clerk/shared``: ``createCheckAuthorization`` in
``authorization.ts``, ``__experimental_JWTPayloadToAuthObjectProperties`` in
``jwtPayloadParser.ts``, as ``@clerk/backend``'s ``signedInAuthObject`` wires
them together).

Pure: no I/O, standard library only, nothing imported beyond what
``import clerk_serverless`` already loads.

* :func:`authorization_from_claims` decodes v1 and v2 session-token claims
  into an :class:`Authorization` (organization, permissions, features, plans,
  factor verification age).
* :meth:`Authorization.has` answers ``permission=``, ``role=``, ``feature=``,
  ``plan=`` and ``reverification=`` questions exactly as ``has()`` does.
* :func:`parse_reverification` validates a reverification requirement once
  (bad values raise :class:`~clerk_serverless.errors.ClerkConfigError`);
  :func:`reverification_error_body` is the 403 body ``useReverification()``
  recognises.

Claims of the wrong JSON type never raise and never grant. Where
``@clerk/shared`` itself would throw (a ``fea`` element without a colon, a
non-string ``fea``/``o.per``/``o.fpm``), nothing is granted from that claim.
Deliberately stricter than ``@clerk/shared``: an organization ID, ``o.rol`` or
``sub`` that is present but not a non-empty string counts as absent (Clerk's
JavaScript would accept any truthy value, e.g. ``"o": {"id": 1}``).

Differences from ``clerk-backend-api`` (clerk-sdk-python, ``authenticate_request``),
where this module follows ``@clerk/shared``:

* ``o.fpm`` lines up with the organization-scoped ``fea`` entries only
  (``o``, ``ou``, ``uo``); the Python SDK indexes it against every entry, so
  ``fea="u:a,o:b", fpm="1"`` grants ``org:b:<per[0]>`` here and nothing there.
* a mask must be ASCII digits (after trimming): ``-1``, ``+1``, ``1_0`` or
  ``1.5`` grant nothing here; the Python SDK's ``int()`` accepts the first
  three, and ``-1`` grants ``per[0]``.
* a ``fea`` scope is exactly ``o``, ``u``, ``ou`` or ``uo`` and the feature is
  everything after the first colon; the Python SDK takes any scope containing
  ``o`` and drops entries with two colons.
* ``fea`` and ``o.per`` entries are trimmed of whitespace.
* a v2 role is ``org:<o.rol>`` (the Python SDK leaves ``o.rol`` bare).
"""

# Annotations are evaluated (no `from __future__ import annotations`): with
# strings, typing would compile each NamedTuple/TypedDict field at import, a
# cold start's loss.

import math
from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple, TypeAlias, TypedDict, cast

from .errors import ClerkConfigError, config_value

__all__ = [
    "REVERIFICATION_ERROR_REASON",
    "REVERIFICATION_ERROR_STATUS",
    "REVERIFICATION_PRESETS",
    "Authorization",
    "Reverification",
    "ReverificationConfig",
    "ReverificationDict",
    "ReverificationLevel",
    "ReverificationPreset",
    "authorization_from_claims",
    "parse_reverification",
    "reverification_error_body",
]

ReverificationLevel: TypeAlias = Literal["first_factor", "second_factor", "multi_factor"]
"""Which factors a reverification requirement looks at."""

ReverificationPreset: TypeAlias = Literal["strict_mfa", "strict", "moderate", "lax"]
"""Clerk's named reverification requirements (see :data:`REVERIFICATION_PRESETS`)."""


class ReverificationDict(TypedDict):
    """A custom reverification requirement: the ``level`` must have been
    verified less than ``after_minutes`` minutes ago (Clerk's
    ``{level, afterMinutes}``)."""

    level: ReverificationLevel
    after_minutes: int | float


ReverificationConfig: TypeAlias = ReverificationPreset | ReverificationDict
"""What :func:`parse_reverification` accepts: a preset name or a :class:`ReverificationDict`."""

REVERIFICATION_PRESETS: Final[Mapping[ReverificationPreset, tuple[ReverificationLevel, int]]] = {
    "strict_mfa": ("multi_factor", 10),
    "strict": ("second_factor", 10),
    "moderate": ("second_factor", 60),
    "lax": ("second_factor", 1440),
}
"""Preset → ``(level, after_minutes)``, as ``TYPES_TO_OBJECTS`` in @clerk/shared's authorization.ts."""

REVERIFICATION_ERROR_STATUS: Final = 403
"""HTTP status of a failed reverification (``reverificationErrorResponse``)."""

REVERIFICATION_ERROR_REASON: Final = "reverification-error"
"""``clerk_error.reason`` of a failed reverification, what ``isReverificationHint`` looks for."""

_LEVELS: Final = frozenset(("first_factor", "second_factor", "multi_factor"))
_ORG_SCOPES: Final = frozenset(("o", "org", "organization"))
_USER_SCOPES: Final = frozenset(("u", "user"))
JS_WHITESPACE: Final = (
    "\t\n\x0b\x0c\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""What JavaScript's ``String.prototype.trim`` and ``parseInt`` skip (WhiteSpace
and LineTerminator, StrWhiteSpaceChar); Python's ``str.strip()`` differs (it
strips ``\\x1c``-``\\x1f`` and ``\\x85``, keeps ``\\ufeff``)."""
# int() refuses decimal strings above sys.int_info.default_max_str_digits.
_INT_CHUNK: Final = 1000


class Reverification(NamedTuple):
    """A validated reverification requirement (build it with
    :func:`parse_reverification`). ``preset`` is the preset name it came from,
    if any; it is what the 403 body names, as Clerk's SDKs do."""

    level: ReverificationLevel
    after_minutes: int | float
    preset: ReverificationPreset | None = None

    @property
    def metadata(self) -> str | dict[str, Any]:
        """The requirement as ``useReverification()`` reads it from
        ``clerk_error.metadata.reverification``: the preset name, or
        ``{"level", "afterMinutes"}``."""
        if self.preset is not None:
            return self.preset
        return {"level": self.level, "afterMinutes": self.after_minutes}

    def satisfied_by(self, factor_verification_age: object) -> bool:
        """Whether an ``fva`` claim (``[first_factor_minutes,
        second_factor_minutes]``, ``-1`` for a factor group the user has not
        enrolled) meets this requirement, as @clerk/shared's
        ``checkReverificationAuthorization``.

        A factor counts when verified *less than* ``after_minutes`` ago. A
        missing or malformed ``fva`` fails (Clerk fails closed: instances
        that do not emit ``fva`` never pass a reverification check), and so
        does ``[-1, -1]``. ``second_factor`` falls back to the first factor
        when no second factor is enrolled; ``multi_factor`` needs both, falls
        back to the first factor alone when no second factor is enrolled, and
        fails when only a second factor is.
        """
        ages = _factor_ages(factor_verification_age)
        if ages is None:
            return False
        first, second = ages
        if first == -1 and second == -1:
            return False
        after = float(self.after_minutes)
        first_fresh = first != -1 and after > first
        second_fresh = second != -1 and after > second
        if self.level == "first_factor":
            return first_fresh
        if self.level == "second_factor":
            return first_fresh if second == -1 else second_fresh
        if second == -1:
            return first_fresh
        return first_fresh and second_fresh  # False too when only a second factor is enrolled


def parse_reverification(config: ReverificationConfig | Reverification) -> Reverification:
    """Validate a reverification requirement once: a preset name
    (``"strict_mfa"``, ``"strict"``, ``"moderate"``, ``"lax"``) or
    ``{"level": "first_factor" | "second_factor" | "multi_factor",
    "after_minutes": <number > 0>}``. A :class:`Reverification` is checked
    again (it may have been built directly; a preset's level and minutes are
    its own).

    Raises ``ClerkConfigError("reverification", …)`` for anything else (where
    Clerk's ``has()`` would silently answer false). Also refused, though
    @clerk/shared would take them: an infinite ``after_minutes`` and keys
    other than ``level`` and ``after_minutes`` (Clerk's ``afterMinutes``
    spelling included, so a typo cannot pass unnoticed).
    """
    if isinstance(config, str):
        if config not in REVERIFICATION_PRESETS:
            raise ClerkConfigError(
                "reverification",
                f"{config_value(config)} is not a preset; use one of {', '.join(REVERIFICATION_PRESETS)} "
                "or {'level': ..., 'after_minutes': ...}",
            )
        level, minutes = REVERIFICATION_PRESETS[config]
        return Reverification(level, minutes, config)
    if isinstance(config, Reverification):
        if config.preset is not None:  # a preset always means its own level and minutes
            return parse_reverification(config.preset)
        return _custom(config.level, config.after_minutes)
    if not isinstance(config, Mapping):
        raise ClerkConfigError(
            "reverification", f"expected a preset name or a mapping, got {type(config).__name__}"
        )
    unknown = [k for k in config if k not in ("level", "after_minutes")]
    if unknown:
        hint = " (Python spelling: after_minutes)" if "afterMinutes" in unknown else ""
        names = ", ".join(sorted(config_value(k) for k in unknown))
        raise ClerkConfigError("reverification", f"unknown key(s) {names}{hint}")
    return _custom(config.get("level"), config.get("after_minutes"))


def _custom(level: object, minutes: object) -> Reverification:
    if not isinstance(level, str) or level not in _LEVELS:
        raise ClerkConfigError(
            "reverification", "level must be 'first_factor', 'second_factor' or 'multi_factor'"
        )
    if (
        isinstance(minutes, bool)
        or not isinstance(minutes, int | float)
        or not _finite(minutes)
        or not minutes > 0
    ):
        raise ClerkConfigError("reverification", "after_minutes must be a finite number of minutes above 0")
    return Reverification(cast(ReverificationLevel, level), minutes)


def reverification_error_body(
    reverification: ReverificationConfig | Reverification | None = None,
) -> dict[str, Any]:
    """The JSON body of Clerk's reverification 403, as @clerk/shared's
    ``reverificationError(config)`` (``reverificationErrorResponse`` sends it
    with status :data:`REVERIFICATION_ERROR_STATUS`)::

        {"clerk_error": {"type": "forbidden", "reason": "reverification-error",
                         "metadata": {"reverification": "strict"}}}

    ``useReverification()`` in Clerk's frontend SDKs recognises it by
    ``clerk_error.type`` and ``clerk_error.reason``, opens the reverification
    modal at the level ``metadata.reverification`` names, and retries the
    request. Without a requirement, ``metadata`` is ``{}`` (what
    ``JSON.stringify`` makes of ``reverificationError()``). A new dict on each
    call.
    """
    metadata: dict[str, Any] = {}
    if reverification is not None:
        metadata["reverification"] = parse_reverification(reverification).metadata
    return {"clerk_error": {"type": "forbidden", "reason": REVERIFICATION_ERROR_REASON, "metadata": metadata}}


class Authorization(NamedTuple):
    """What a session token says about the user's rights, decoded by
    :func:`authorization_from_claims` (or built directly, e.g. in tests).

    ``org_role`` is as the token gives it (v1 ``org_role``, possibly a legacy
    role without ``org:``; v2 ``org:`` + ``o.rol``). Features and plans are
    split by scope: ``ou:``/``uo:`` entries are in both tuples.
    ``factor_verification_age`` is the validated ``fva`` claim as floats, or
    None when absent or malformed.
    """

    user_id: str | None = None
    org_id: str | None = None
    org_role: str | None = None
    org_slug: str | None = None
    org_permissions: tuple[str, ...] = ()
    org_features: tuple[str, ...] = ()
    user_features: tuple[str, ...] = ()
    org_plans: tuple[str, ...] = ()
    user_plans: tuple[str, ...] = ()
    factor_verification_age: tuple[float, float] | None = None

    def has(
        self,
        *,
        permission: str | None = None,
        role: str | None = None,
        feature: str | None = None,
        plan: str | None = None,
        reverification: ReverificationConfig | Reverification | None = None,
    ) -> bool:
        """Clerk's ``has()``: true when every condition asked for holds, false
        when none is asked for (``None`` means not asked) or there is no user.

        * ``permission``, ``role``: need an active organization. ``org:`` is
          optional on either side (``"admin"``, ``"org:admin"`` and a legacy v1
          ``org_role: "admin"`` all match each other); permissions in the
          token are compared as they are.
        * ``feature``, ``plan``: ``org:``/``o:``/``organization:`` looks only
          at organization entries (``o:``, ``ou:``, ``uo:``),
          ``user:``/``u:`` only at user entries; a bare name at both; any
          other prefix never matches.
        * ``reverification``: see :meth:`Reverification.satisfied_by`. A raw
          config is validated here and raises ``ClerkConfigError`` when bad:
          on the request path, pass one parsed once with
          :func:`parse_reverification`.

        A value that is not a string never matches.
        """
        rev = parse_reverification(reverification) if reverification is not None else None
        if not self.user_id:
            return False
        asked = False
        if permission is not None or role is not None:
            asked = True
            if not self.org_id:
                return False
            if role is not None and (
                not isinstance(role, str)
                or not self.org_role
                or _with_org_prefix(self.org_role) != _with_org_prefix(role)
            ):
                return False
            if permission is not None and (
                not isinstance(permission, str) or _with_org_prefix(permission) not in self.org_permissions
            ):
                return False
        if feature is not None:
            asked = True
            if not _entitled(feature, self.org_features, self.user_features):
                return False
        if plan is not None:
            asked = True
            if not _entitled(plan, self.org_plans, self.user_plans):
                return False
        if rev is not None:
            asked = True
            if not rev.satisfied_by(self.factor_verification_age):
                return False
        return asked


def authorization_from_claims(claims: object) -> Authorization:
    """Decode the verified claims of a v1 or v2 session token.

    v1: ``org_id``, ``org_role``, ``org_slug``, ``org_permissions`` as given.
    v2 (``"v": 2``): from ``o`` — ``id``, ``slg``, ``rol`` (→ ``org:<rol>``)
    and the permissions packed in ``o.per`` / ``o.fpm``: the ``i``-th mask of
    ``o.fpm`` belongs to the ``i``-th organization-scoped ``fea`` entry and
    its bit ``j`` (least significant first) grants ``org:<feature>:<per[j]>``;
    bits beyond ``per``, and masks that are not plain decimal digits, grant
    nothing; surplus masks are ignored, missing ones grant nothing. Both
    versions: features from ``fea``, plans from ``pla``, ``fva``.

    Never raises, whatever the JSON.
    """
    if not isinstance(claims, Mapping):
        return Authorization()
    org_features, user_features = _split_by_scope(claims.get("fea"))
    org_plans, user_plans = _split_by_scope(claims.get("pla"))
    org_id = org_role = org_slug = None
    org_permissions: tuple[str, ...] = ()
    if claims.get("v") == 2:
        org = claims.get("o")
        if isinstance(org, Mapping):
            org_id = _non_empty_str(org.get("id"))
            org_slug = _non_empty_str(org.get("slg"))
            rol = _non_empty_str(org.get("rol"))
            org_role = f"org:{rol}" if rol else None
            org_permissions = _v2_org_permissions(org_features, org.get("per"), org.get("fpm"))
    else:
        org_id = _non_empty_str(claims.get("org_id"))
        org_role = _non_empty_str(claims.get("org_role"))
        org_slug = _non_empty_str(claims.get("org_slug"))
        perms = claims.get("org_permissions")
        if isinstance(perms, list):
            org_permissions = tuple(p for p in perms if isinstance(p, str))
    return Authorization(
        user_id=_non_empty_str(claims.get("sub")),
        org_id=org_id,
        org_role=org_role,
        org_slug=org_slug,
        org_permissions=org_permissions,
        org_features=org_features,
        user_features=user_features,
        org_plans=org_plans,
        user_plans=user_plans,
        factor_verification_age=_factor_ages(claims.get("fva")),
    )


def _non_empty_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def _with_org_prefix(value: str) -> str:
    """``org:`` + ``value`` without its leading ``org:``s (any number of them)."""
    start = 0
    while value.startswith("org:", start):
        start += 4
    return "org:" + value[start:]


def _split_by_scope(claim: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(org, user)`` names of a ``fea``/``pla`` claim such as
    ``"o:reports,u:dashboard,ou:chat"``. Unknown scopes are skipped; a claim
    that is not a string, or with an element lacking a colon (where
    @clerk/shared throws), yields nothing at all."""
    if not isinstance(claim, str) or not claim:
        return (), ()
    org: list[str] = []
    user: list[str] = []
    for element in claim.split(","):
        scope, colon, name = element.strip(JS_WHITESPACE).partition(":")
        if not colon:
            return (), ()
        if scope == "o":
            org.append(name)
        elif scope == "u":
            user.append(name)
        elif scope in ("ou", "uo"):
            org.append(name)
            user.append(name)
    return tuple(org), tuple(user)


def _v2_org_permissions(org_features: tuple[str, ...], per: object, fpm: object) -> tuple[str, ...]:
    if not isinstance(per, str) or not isinstance(fpm, str) or not per or not fpm:
        return ()
    names = [p.strip(JS_WHITESPACE) for p in per.split(",")]
    masks = fpm.split(",")
    granted: list[str] = []
    for feature, mask in zip(org_features, masks, strict=False):
        bits = _low_bits(mask.strip(JS_WHITESPACE), len(names))
        if bits:
            granted.extend(f"org:{feature}:{name}" for j, name in enumerate(names) if bits >> j & 1)
    return tuple(granted)


def _low_bits(mask: str, count: int) -> int:
    """The decimal ``mask`` modulo ``2**count`` (0 unless it is ASCII digits).

    Only the last ``count`` digits matter (``10**i`` is a multiple of
    ``2**count`` for ``i >= count``), so masks of any length decode exactly
    and cheaply."""
    if not (mask.isascii() and mask.isdigit()):  # JavaScript's /^\d+$/
        return 0
    digits = mask[-count:] if count else ""
    value = 0
    for i in range(0, len(digits), _INT_CHUNK):
        chunk = digits[i : i + _INT_CHUNK]
        value = value * 10 ** len(chunk) + int(chunk)
    return value % (1 << count)


def _factor_ages(value: object) -> tuple[float, float] | None:
    """A well-formed ``fva``: two finite numbers, each ``-1`` or ``>= 0``
    (JSON numbers as JavaScript sees them: doubles)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    ages: list[float] = []
    for age in value:
        if isinstance(age, bool) or not isinstance(age, int | float):
            return None
        try:
            age = float(age)
        except OverflowError:
            return None
        if not math.isfinite(age) or not (age == -1 or age >= 0):
            return None
        ages.append(age)
    return ages[0], ages[1]


def _entitled(name: object, org: tuple[str, ...], user: tuple[str, ...]) -> bool:
    """@clerk/shared's ``checkForFeatureOrPlan``: ``scope:name`` (only the
    text up to a second colon counts; an empty name means the scope itself)
    or a bare ``name``."""
    if not isinstance(name, str):
        return False
    scope, colon, rest = name.partition(":")
    if not colon:
        return name in org or name in user
    wanted = rest.partition(":")[0] or scope
    if scope in _ORG_SCOPES:
        return wanted in org
    if scope in _USER_SCOPES:
        return wanted in user
    return False
