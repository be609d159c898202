"""What a route requires, and the checks that decide it (pure, no I/O).

A :class:`Policy` is built once, when a decorator or middleware is applied
(so a mistake is a :class:`~clerk_serverless.errors.ClerkConfigError` at cold
start), and checked on every request by every entry point alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .config import parse_authorized_parties
from .errors import ClerkConfigError, OriginInvalidError, PermissionDeniedError, RoleDeniedError

if TYPE_CHECKING:
    from .session import Session

#: Methods that must not change state, so need no cross-site request check.
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class Inherit:
    """Marker for "not set here: use the ``ClerkAuth`` setting"."""

    _instance: Inherit | None = None

    def __new__(cls) -> Inherit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<inherit>"


INHERIT: Final = Inherit()


@dataclass(frozen=True, slots=True)
class Policy:
    """A route's requirements. Build it with :meth:`build`, which validates.

    ``authorized_parties`` overrides the ``ClerkAuth`` setting when given;
    every entry of ``permissions`` is required; any one of ``roles`` is enough.
    """

    authorized_parties: frozenset[str] | None | Inherit = INHERIT
    permissions: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    treat_pending_as_signed_out: bool = True

    @classmethod
    def build(
        cls,
        *,
        authorized_parties: Iterable[str] | str | None | Inherit = INHERIT,
        permissions: Iterable[str] | str | None = None,
        roles: Iterable[str] | str | None = None,
        treat_pending_as_signed_out: bool = True,
    ) -> Policy:
        """Validate decorator options (raises :class:`ClerkConfigError`)."""
        parties = (
            authorized_parties
            if isinstance(authorized_parties, Inherit)
            else parse_authorized_parties(authorized_parties, "authorized_parties")
        )
        if not isinstance(treat_pending_as_signed_out, bool):
            raise ClerkConfigError("treat_pending_as_signed_out", "must be True or False")
        return cls(parties, names(permissions, "permissions"), names(roles, "roles"), treat_pending_as_signed_out)

    def parties(self, default: frozenset[str] | None) -> frozenset[str] | None:
        """The authorized parties in force: this policy's, else ``default``."""
        parties = self.authorized_parties
        return default if isinstance(parties, Inherit) else parties

    @property
    def checks_access(self) -> bool:
        """True when :func:`check_access` has anything to check."""
        return bool(self.permissions or self.roles)


DEFAULT_POLICY: Final = Policy()


def names(values: Iterable[str] | str | None, setting: str) -> tuple[str, ...]:
    """A tuple of non-empty strings from a string or an iterable of them."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    try:
        items: tuple[Any, ...] = tuple(values)
    except TypeError:
        raise ClerkConfigError(setting, "must be a list of strings") from None
    if not all(isinstance(v, str) and v for v in items):
        raise ClerkConfigError(setting, "must be a list of non-empty strings")
    return items


def check_access(session: Session, policy: Policy) -> None:
    """Every permission, and one of the roles, of ``policy`` (403 otherwise)."""
    for permission in policy.permissions:
        if not session.has(permission=permission):
            raise PermissionDeniedError()
    if policy.roles and not any(session.has(role=role) for role in policy.roles):
        raise RoleDeniedError()


def check_origin(method: str, origin: str | None, parties: frozenset[str] | None) -> None:
    """Refuse a cookie-authenticated write from an origin that is not an
    authorized party (``null`` included): the browser attached the cookie to a
    cross-site request. Safe methods, requests without ``Origin`` (not from a
    browser page) and instances without authorized parties pass."""
    if origin is None or parties is None or method in SAFE_METHODS:
        return
    if origin not in parties:
        raise OriginInvalidError()
