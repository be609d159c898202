"""Which page origins a local run authorizes, and where that is set.

One setting drives both halves of "may this page call the API": the
template's origins parameter (``ClerkAuthorizedParties`` in the sample)
feeds ``CLERK_AUTHORIZED_PARTIES`` (the token's ``azp`` check) *and* the
APIs' CORS configuration. ``env.json`` can still override the variable, as
``sam local`` allows, but then the two halves disagree; this module finds
that and says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .devkeys import DEV_ORIGIN
from .template import Template

VARIABLE = "CLERK_AUTHORIZED_PARTIES"


@dataclass
class Origins:
    """The authorized origins of a template run with some ``--env-vars``."""

    parameter: str | None  # the template parameter feeding CLERK_AUTHORIZED_PARTIES
    origins: list[str]  # what the template gives: the azp check and CORS
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (env.json scope, its different value)


def _split(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def origins_parameter(template: Template) -> str | None:
    """The list parameter ``CLERK_AUTHORIZED_PARTIES`` is built from, if any."""
    return next((name for name in template.parameters_feeding(VARIABLE)
                 if isinstance(template.parameters[name], list)), None)


def authorized_origins(template: Template, env_vars: dict[str, Any] | None = None) -> Origins:
    """The origins ``template`` authorizes, and every ``env_vars`` scope that
    sets ``CLERK_AUTHORIZED_PARTIES`` to something else."""
    parameter = origins_parameter(template)
    if parameter is not None:
        origins = _split(template.parameters[parameter])
    else:
        functions = template.function_ids()
        origins = _split(template.function(functions[0]).environment.get(VARIABLE)) if functions else []
    conflicts = []
    for scope, values in (env_vars or {}).items():
        if isinstance(values, dict) and VARIABLE in values and sorted(_split(values[VARIABLE])) != sorted(origins):
            conflicts.append((scope, str(values[VARIABLE])))
    return Origins(parameter, origins, conflicts)


def banner(found: Origins, *, env_file: str | None = None, added: str | None = None,
           static_origin: str | None = None) -> list[str]:
    """The lines ``serve`` prints about origins: which are authorized, how to
    add one, a dev token that passes, and warnings for what would fail."""
    name = found.parameter or VARIABLE
    shown = ", ".join(found.origins) or "none"
    lines = [f"authorized origins ({name}: the token's azp and CORS): {shown}"]
    if added:
        lines.append(f"  {added} added for this run: the gateway's own pages (--static)")
    if found.parameter:
        example = (",".join([*found.origins, "http://localhost:5173"]) if "http://localhost:5173" not in found.origins
                   else ",".join(found.origins))
        lines.append(f"  another origin: --parameter-overrides {found.parameter}={example}")
    azp = DEV_ORIGIN if DEV_ORIGIN in found.origins or not found.origins else found.origins[0]
    flag = "" if azp == DEV_ORIGIN else f" --azp {azp}"
    lines.append(f"  a dev token: python -m clerk_serverless_local token{flag}   (azp {azp})")
    for scope, value in found.conflicts:
        where = f"{env_file or 'the env vars file'} ({scope})"
        fix = f"--parameter-overrides {found.parameter}={value}" if found.parameter else "the template"
        lines.append(f"warning: {where} sets {VARIABLE}={value}, which changes the azp check but not CORS "
                     f"({shown}); remove it from {env_file or 'that file'} and use {fix} (one setting for both)")
    if static_origin and static_origin not in found.origins:
        lines.append(f"warning: pages served from {static_origin} (--static) are not an authorized origin: "
                     f"add it to {name}")
    return lines
