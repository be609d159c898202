"""The process-wide default ``ClerkAuth``, configured from ``CLERK_*`` variables.

Built on first use, so importing a module that applies the module-level
decorators never fails on configuration: the first request does (with a
:class:`~clerk_serverless.errors.ClerkConfigError` naming the variable).
"""

from __future__ import annotations

import threading

from .auth import ClerkAuth

_default_auth: ClerkAuth | None = None
_default_lock = threading.Lock()


def default_auth() -> ClerkAuth:
    """The process-wide ``ClerkAuth()`` configured from ``CLERK_*`` variables."""
    global _default_auth
    auth = _default_auth
    if auth is None:
        with _default_lock:
            if _default_auth is None:
                _default_auth = ClerkAuth()
            auth = _default_auth
    return auth


def reset_default_auth() -> None:
    """Forget the default ``ClerkAuth`` (it is rebuilt from the environment on next use)."""
    global _default_auth
    with _default_lock:
        _default_auth = None
