"""Whether this interpreter's ``json`` parses a deeply nested document.

How deep ``json.loads`` goes is the interpreter's business: CPython up to
3.13 raises ``RecursionError`` at its recursion limit; 3.14 guards the C
stack instead and parses, say, 50 000 nested objects while still refusing
100 000 nested arrays. Tests of "nested past the parser's depth" ask this
first: a document that parses is read as the JSON it is; only one that does
not must be answered as unreadable.
"""

from __future__ import annotations

import json


def parses(document: str | bytes) -> bool:
    """True when ``json.loads(document)`` succeeds here, False when it raises
    ``RecursionError`` (other errors propagate: the document must be JSON)."""
    try:
        json.loads(document)
    except RecursionError:
        return False
    return True
