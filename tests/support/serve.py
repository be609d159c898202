"""The real ``serve`` command in a child process, its banner read once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# A route's or the static directory's line ("    GET http://localhost:PORT/me -> ...",
# " STATIC http://localhost:PORT/ -> ..."); not a Function URL's own port ("    URL ...").
_API_LINE = re.compile(r"^ *(?!URL )[A-Z]+ http://localhost:(\d+)/", re.MULTILINE)


@dataclass
class Served:
    """A running ``serve``: its banner (lines up to ``serving on …`` or an
    ``error``), the API's port read from it (None when it printed none),
    and, once stopped, what it wrote after the banner."""

    banner: list[str]
    port: int | None
    rest: str = field(default="")

    @property
    def text(self) -> str:
        """The banner as one string."""
        return "\n".join(self.banner)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` of the API (asserts the banner named one)."""
        assert self.port is not None, self.banner
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(*args: str, cwd: Path) -> Iterator[Served]:
    """Run ``python -m clerk_serverless_local serve --port 0 *args`` in ``cwd``
    (no ``CLERK_*`` variables inherited), yield once its banner is out, then
    stop it with SIGTERM (serve stops its functions and exits; SIGINT may be
    ignored in background jobs) and keep what it wrote meanwhile in ``rest``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    proc = subprocess.Popen([sys.executable, "-m", "clerk_serverless_local", "serve", "--port", "0", *args],
                            cwd=cwd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    served = Served([], None)
    try:
        for line in proc.stderr:
            served.banner.append(line.rstrip("\n"))
            if line.startswith(("serving", "error")):
                break
        found = _API_LINE.search(served.text)
        served.port = int(found.group(1)) if found else None
        yield served
    finally:
        proc.terminate()
        served.rest = proc.communicate(timeout=60)[1]
