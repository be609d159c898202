"""Griffe extension: render Sphinx cross-reference roles as code.

The library's docstrings use roles such as ``:class:`Session``` and
``:mod:`clerk_serverless.integrations.asgi```, which Markdown would show
verbatim. This turns each into an inline code span (``~a.b.C`` into ``C``),
before mkdocstrings renders the docstring.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|mod|func|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def _code_span(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class SphinxRoles(griffe.Extension):
    """Replace Sphinx roles by code spans in every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code_span, obj.docstring.value)
