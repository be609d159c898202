"""Where the project is, and the dev key it trusts.

Every command works from anywhere inside the project: the root is the nearest
directory, from the current one upwards, holding ``template.yaml`` (or
``--root``). Only ``events`` creates a dev key; every other command refuses,
in one line, rather than mint tokens with a key nothing trusts.
"""

from __future__ import annotations

import json
from pathlib import Path

from .devkeys import DevKey
from .samples import DEV_KEY_FILE, ENV_FILE
from .template import TemplateError

TEMPLATE_FILE = "template.yaml"


class ProjectError(TemplateError):
    """The project, or its dev key, cannot be found or is inconsistent."""


def find_root(explicit: str | Path | None = None, start: Path | None = None) -> Path:
    """``explicit`` when given (it must be a directory); otherwise the nearest
    directory from ``start`` (default: the current one) upwards that holds
    ``template.yaml``."""
    if explicit is not None:
        root = Path(explicit).expanduser().resolve()
        if not root.is_dir():
            raise ProjectError(f"--root {explicit}: no such directory")
        return root
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / TEMPLATE_FILE).is_file():
            return directory
    raise ProjectError(f"no {TEMPLATE_FILE} in {here} or any directory above it: "
                       "run this inside the project, or pass --root DIR")


def load_dev_key(root: Path) -> DevKey:
    """The project's dev key, checked against ``env.json``: never a new one."""
    path = root / DEV_KEY_FILE
    if not path.is_file():
        raise ProjectError(f"no dev key at {path}: create it (and re-sign env.json and events/) with "
                           f"python -m clerk_serverless_local events --root {root}")
    key = DevKey.load(path)
    trusted = trusted_public_key(root)
    if trusted and trusted.strip() != key.public_pem.strip():
        raise ProjectError(f"{root / ENV_FILE} trusts another key than {path} (CLERK_JWT_KEY differs), "
                           "so its functions would refuse these tokens: "
                           f"run python -m clerk_serverless_local events --root {root}")
    return key


def trusted_public_key(root: Path) -> str:
    """``CLERK_JWT_KEY`` as ``env.json`` hands it to every function ("" if none)."""
    try:
        data = json.loads((root / ENV_FILE).read_text())
    except (OSError, ValueError):
        return ""
    parameters = data.get("Parameters") if isinstance(data, dict) else None
    value = parameters.get("CLERK_JWT_KEY") if isinstance(parameters, dict) else None
    return value if isinstance(value, str) else ""
