"""The library's log records, without paying for :mod:`logging` at import.

Below WARNING a record is seen only once logging is configured, and nothing
configures it while nothing has imported the module: then :func:`log` returns
before importing it (~4 ms of a cold start).
"""

from __future__ import annotations

import sys
from typing import Any

#: ``logging.WARNING``, without importing :mod:`logging` to read it.
WARNING = 30


def log(name: str, level: int, message: str, *args: Any, exc_info: bool = False) -> None:
    """Log ``message % args`` at ``level`` to logger ``name``, importing
    :mod:`logging` only when the record could be seen."""
    if level < WARNING and "logging" not in sys.modules:
        return
    import logging

    logging.getLogger(name).log(level, message, *args, exc_info=exc_info)
