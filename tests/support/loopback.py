"""Servers on 127.0.0.1 for the tests: a free port, a raw TCP listener to build
misbehaving servers on, an ASGI app under a real uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpListener:
    """A TCP listener on 127.0.0.1 for servers that misbehave below HTTP: a
    thread accepts connections and hands each to :meth:`connected` until
    :meth:`stop`. Subclasses say what a connection gets (nothing, a relay, a
    trickled answer)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # the accept loop sees stop() within this
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._listener.getsockname()[1])

    @property
    def stopped(self) -> bool:
        """True once :meth:`stop` was called: connection threads give up."""
        return self._stopped.is_set()

    def start(self) -> Self:
        """Start accepting; returns the listener."""
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            self.connected(conn)

    def connected(self, conn: socket.socket) -> None:
        """Called on the accepting thread with each new connection."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop accepting and close the listener (subclasses close their connections)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()
        self._listener.close()


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
