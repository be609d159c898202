"""Audit trail and metrics for authenticated requests (Powertools Logger / Metrics).

An audit log says which user acted, and from which device. With a Powertools
``Logger`` given to :class:`~clerk_serverless.ClerkAuth`:

* every log line of an authenticated invocation carries ``token_type``,
  ``user_id``, ``session_id``, ``org_id``, ``source_ip`` and ``user_agent``
  (and, for a machine token, ``subject``), appended for the handler's
  duration and removed afterwards, so a warm container never mixes two users;
* one structured record per authentication, ``"clerk auth"`` with a
  ``clerk_audit`` object: outcome, status, reason, method, route, identity,
  device. Never the token or a cookie.

With a Powertools ``Metrics`` given, each outcome counts one metric
(``clerk.signed-in``, ``clerk.<reason>`` such as ``clerk.token-expired``), and
the key store counts ``clerk.jwks-fetch`` and ``clerk.jwks-stale-served``.
Both are duck-typed: anything with ``append_keys``/``remove_keys``/``info``
(a stdlib ``logging.Logger`` gets the records only) and ``add_metric`` works.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .errors import AuthError

if TYPE_CHECKING:
    from .machine import MachineAuth
    from .session import Session
    from .sources import Request

log = logging.getLogger("clerk_serverless")

CONTEXT_KEYS = ("token_type", "subject", "user_id", "session_id", "org_id", "source_ip", "user_agent")
_MAX_UA = 256


def _printable(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    value = value[:limit]
    return value if value.isprintable() else "".join(c if c.isprintable() else "?" for c in value)


def _route(request: Request) -> str | None:
    event = request.event
    for field in ("routeKey", "resource"):
        value = event.get(field) if isinstance(event, dict) else None
        if isinstance(value, str) and value and value != "$default":
            return value
    return _printable(request.path, 512)


class Observer:
    """Writes the audit trail and metrics of one ``ClerkAuth``."""

    def __init__(self, logger: Any = None, metrics: Any = None) -> None:
        self.logger = logger
        self.metrics = metrics
        # Powertools' thread_safe_* keys live in a ContextVar: right for one
        # Lambda invocation, and for concurrent requests under uvicorn too.
        if logger is not None and hasattr(logger, "thread_safe_append_keys"):
            self._append, self._remove = logger.thread_safe_append_keys, logger.thread_safe_remove_keys
        elif logger is not None and hasattr(logger, "append_keys"):
            self._append, self._remove = logger.append_keys, logger.remove_keys
        else:
            self._append = self._remove = None

    # -- outcomes ------------------------------------------------------------------

    def signed_in(self, request: Request, identity: Session | MachineAuth) -> None:
        """Record an admitted request, and count ``clerk.signed-in``."""
        self._record(request, "signed-in", 200, None, identity)
        self._count("clerk.signed-in")

    def refused(self, request: Request, error: AuthError, *, required: bool) -> None:
        """Record a refusal (``signed-out`` where the route does not require
        a session), and count ``clerk.<reason>``."""
        outcome = "refused" if required else "signed-out"
        if error.status == 503:
            outcome = "unavailable" if required else "signed-out"
        self._record(request, outcome, error.status if required else None, str(error.reason), None)
        self._count(f"clerk.{error.reason}")

    def key_event(self, name: str) -> None:
        """Key store listener: ``jwks-fetch`` / ``jwks-stale-served``."""
        self._count(f"clerk.{name}")

    # -- per-invocation log context --------------------------------------------------

    def bind(self, request: Request, identity: Session | MachineAuth) -> bool:
        """Append the identity and device to every log line; True when done."""
        if self._append is None:
            return False
        try:
            self._append(**self._identity(request, identity))
            return True
        except Exception:
            log.debug("clerk_serverless: logger.append_keys failed", exc_info=True)
            return False

    def unbind(self) -> None:
        """Remove what :meth:`bind` appended (after the handler, whatever it did)."""
        try:
            self._remove(list(CONTEXT_KEYS))
        except Exception:
            log.debug("clerk_serverless: logger.remove_keys failed", exc_info=True)

    # -- internals ---------------------------------------------------------------------

    @staticmethod
    def _identity(request: Request, session: Session | MachineAuth | None) -> dict[str, Any]:
        try:
            source_ip, user_agent = request.source_ip, request.user_agent
        except Exception:
            source_ip = user_agent = None
        identity = {
            "token_type": getattr(session, "token_type", None),
            "user_id": getattr(session, "user_id", None),
            "session_id": getattr(session, "session_id", None),
            "org_id": getattr(session, "org_id", None),
            "source_ip": _printable(source_ip, 64),
            "user_agent": _printable(user_agent, _MAX_UA),
        }
        subject = getattr(session, "subject", None)
        if subject is not None:  # machine tokens: who the token acts for
            identity["subject"] = subject
        return identity

    def _record(
        self,
        request: Request,
        outcome: str,
        status: int | None,
        reason: str | None,
        session: Session | MachineAuth | None,
    ) -> None:
        if self.logger is None:
            return
        try:
            audit = {
                "outcome": outcome,
                "status": status,
                "reason": reason,
                "method": request.method or None,
                "route": _route(request),
                **self._identity(request, session),
            }
            self.logger.info("clerk auth", extra={"clerk_audit": audit})
        except Exception:  # the audit trail must never break a request
            log.debug("clerk_serverless: audit record failed", exc_info=True)

    def _count(self, name: str) -> None:
        if self.metrics is None:
            return
        try:
            self.metrics.add_metric(name=name, unit="Count", value=1)
        except Exception:
            log.debug("clerk_serverless: metric %s failed", name, exc_info=True)
