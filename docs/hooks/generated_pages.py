"""MkDocs hook: pages generated at build time, so they cannot drift.

* ``reference/reasons.md`` — every member of
  :class:`clerk_serverless.errors.Reason`, with the HTTP status, exception
  classes and message that carry it, read from the package itself;
* ``readme.md`` — the project's README, the front door, as it is in the
  repository.

The README links into ``docs/`` and the guide pages (``docs/guide/``) link
back to ``../../README.md``, so that both work on GitHub; in the site those
links are rewritten to the pages' own places.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]


def reason_codes_page() -> str:
    """Markdown table of the reason codes, from ``clerk_serverless.errors``."""
    from clerk_serverless import errors
    from clerk_serverless.errors import Reason

    carriers: dict[Reason, list[type]] = {reason: [] for reason in Reason}
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.ClerkError) and isinstance(cls.__dict__.get("reason"), Reason):
            carriers[cls.__dict__["reason"]].append(cls)
    lines = [
        "# Reason codes",
        "",
        "Every refusal names its reason in the `x-clerk-auth-reason` response header, in the JSON body's",
        "`reason`, in the audit record and in the `clerk.<reason>` metric. The codes are spelled as Clerk's",
        "SDKs spell them, plus a few of this package's own. They are the values of",
        "[`clerk_serverless.Reason`][clerk_serverless.Reason] (a `StrEnum`); this page is generated from it",
        "at build time.",
        "",
        "| code | `Reason` member | status | raised as | meaning |",
        "|---|---|---:|---|---|",
    ]
    # Codes no exception carries: answered by the decorators themselves.
    answered_only = {
        Reason.HANDLER_ASYNC: ("500", "the handler returned an awaitable (an `async def` behind a sync wrapper), "
                               "which Lambda never awaits: closed unrun and answered 500"),
    }
    for reason in Reason:
        if reason in answered_only:
            status, meaning = answered_only[reason]
            lines.append(f"| `{reason.value}` | `{reason.name}` | {status} | — | {meaning} |")
            continue
        classes = sorted(carriers[reason], key=lambda c: (len(c.__mro__), c.__name__), reverse=True)
        statuses = sorted({str(getattr(c, "status", "")) for c in classes if getattr(c, "status", None)})
        names = ", ".join(f"`{c.__name__}`" for c in classes) or "—"
        messages = [m for m in (getattr(c, "message", None) for c in classes) if isinstance(m, str)]
        meaning = (messages[0] if messages else (inspect.getdoc(classes[0]) or "").split("\n")[0] if classes else "")
        meaning = meaning.replace("|", "\\|")
        lines.append(f"| `{reason.value}` | `{reason.name}` | {', '.join(statuses) or '—'} | {names} | {meaning} |")
    lines += ["", f"{len(Reason)} codes.", ""]
    return "\n".join(lines)


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages to the site."""
    files.append(File.generated(config, "reference/reasons.md", content=reason_codes_page()))
    files.append(File.generated(config, "readme.md", content=(ROOT / "README.md").read_text(encoding="utf-8")))
    return files


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """Point the README's ``docs/…`` links, and the guide's links back to the
    README, at their pages in the site."""
    if page.file.src_uri == "readme.md":
        return markdown.replace("](docs/", "](")
    if page.file.src_uri.startswith("guide/"):
        return markdown.replace("](../../README.md", "](../readme.md")
    return markdown
