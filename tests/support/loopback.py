"""Servers on 127.0.0.1 for the tests: a free port, an ASGI app under a real uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[int]:
    """``app`` served by a real uvicorn on 127.0.0.1 (no lifespan, quiet); yields its port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(250):
            if server.started:
                break
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=5)
