"""A real HTTP(S) JWKS server on 127.0.0.1 with fault modes and a fetch
counter; a TCP listener that never answers; a relay that trickles what a
server sends; throwaway TLS certificates."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from clerk_serverless_local.runtime_api import QuietServer

from .loopback import TcpListener

STALL_LIMIT = 30.0  # a stalling handler gives up after this long (or when the server stops)


class _Server(QuietServer):
    """Quiet about clients that hang up or time out, TLS ones included."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class JwksServer:
    """Serves ``/jwks`` (and ``/v1/jwks``, ``/.well-known/jwks.json``).

    ``mode`` picks the behaviour of the next responses:

    ``ok``            the current ``keys`` as a JWKS document
    ``status``        ``status`` code with optional ``headers`` (e.g. Retry-After)
    ``garbage``       200 with a non-JSON body
    ``no-rsa``        200 with a JWKS holding only an EC key
    ``no-keys``       200 with ``{}``
    ``oversized``     200 with a body over 1 MiB
    ``oversized-chunked`` the same, without Content-Length
    ``slow``          waits ``delay`` seconds before answering
    ``trickle``       sends the body one byte every ``delay`` seconds
    ``truncated``     Content-Length larger than the body, then closes
    ``redirect``      302 to another URL
    ``refuse``        closes the connection without answering
    ``chunked``       200 with ``Transfer-Encoding: chunked``: 7-byte chunks with
                      extensions, then a trailer (a correct, unusual answer)
    ``interim``       a ``103 Early Hints`` before the 200
    ``stall``         reads the request, then never answers (until
                      :meth:`release` or :meth:`stop`)
    ``trickle-status``  the status line one byte every ``delay`` seconds
    ``trickle-headers`` the status line, then the headers one byte every ``delay``
    ``trickle-chunked`` chunked; the first chunk-size line (with a long extension)
                        one byte every ``delay`` seconds
    ``trickle-chunks``  chunked; the body in 1-byte chunks, one every ``delay``

    ``tls`` (an :class:`ssl.SSLContext`, see :func:`tls_files`) serves HTTPS.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.keys: list[dict[str, Any]] = []
        self.mode = "ok"
        self.status = 503
        self.headers: dict[str, str] = {}
        self.delay = 0.0
        self.count = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._released = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:  # the handshake runs in the handler's thread, on first read
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True, do_handshake_on_connect=False)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/jwks"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> JwksServer:
        self._thread.start()
        return self

    def release(self) -> None:
        """End every stall now: stalled answers close without a response."""
        self._released.set()

    def stop(self) -> None:
        self._stopped.set()
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def set(self, mode: str = "ok", **kw: Any) -> None:
        self.mode = mode
        if not self._stopped.is_set():
            self._released.clear()  # stalls stall again
        for name, value in kw.items():
            setattr(self, name, value)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small writes must not wait for delayed ACKs

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if length is not None:
                    self.send_header("Content-Length", str(length))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def _trickle(self, data: bytes) -> None:
                for byte in data:
                    if server._stopped.is_set():
                        raise ConnectionAbortedError
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(server.delay)

            def _head(self, status: int, headers: dict[str, str]) -> bytes:
                lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}"]
                lines += [f"{name}: {value}" for name, value in headers.items()]
                return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.request_body = self.rfile.read(length)
                self.do_GET()

            def do_GET(self) -> None:  # noqa: N802
                with server._lock:
                    server.count += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    request = {k.lower(): v for k, v in self.headers.items()}
                    request[":method"] = self.command
                    request[":path"] = self.path
                    request[":body"] = getattr(self, "request_body", b"").decode("latin-1")
                    server.requests.append(request)
                try:
                    self._answer()
                except OSError:  # the client gave up: what the fault modes are for
                    self.close_connection = True
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
                mode = server.mode
                if mode == "refuse":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "slow":
                    time.sleep(server.delay)
                document = json.dumps({"keys": server.keys}).encode()
                json_type = {"Content-Type": "application/json"}
                if mode in ("ok", "slow"):
                    self._send(200, document, json_type, len(document))
                elif mode == "status":
                    self._send(server.status, b'{"error":"x"}', {**json_type, **server.headers}, 13)
                elif mode == "garbage":
                    self._send(200, b"<html>not json</html>", {"Content-Type": "text/html"}, 21)
                elif mode == "no-rsa":
                    body = json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec", "x": "AA", "y": "AA"}]}).encode()
                    self._send(200, body, json_type, len(body))
                elif mode == "no-keys":
                    self._send(200, b"{}", json_type, 2)
                elif mode == "oversized":
                    body = b'{"keys":[' + b" " * (1024 * 1024 + 10) + b"]}"
                    self._send(200, body, json_type, len(body))
                elif mode == "oversized-chunked":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for _ in range(20):
                            self.wfile.write(b" " * 65536)
                    except OSError:
                        pass
                elif mode == "trickle":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(document)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self._trickle(document)
                elif mode == "truncated":
                    self._send(200, document[: len(document) // 2], json_type, len(document))
                elif mode == "redirect":
                    self._send(302, b"", {"Location": "https://evil.example/jwks"}, 0)
                elif mode == "chunked":
                    chunks = [document[i : i + 7] for i in range(0, len(document), 7)]
                    framed = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in chunks)
                    head = self._head(200, {**json_type, "Transfer-Encoding": "chunked", "Connection": "close"})
                    self.wfile.write(head + framed + b"0\r\nX-Trailer: yes\r\n\r\n")
                elif mode == "interim":
                    self.wfile.write(self._head(103, {"Link": "</style.css>; rel=preload"}))
                    self._send(200, document, json_type, len(document))
                elif mode == "stall":
                    server._released.wait(STALL_LIMIT)
                    self.close_connection = True
                elif mode == "trickle-status":
                    head = self._head(200, {**json_type, "Content-Length": str(len(document)), "Connection": "close"})
                    line, rest = head.split(b"\r\n", 1)
                    self._trickle(line + b"\r\n")
                    self.wfile.write(rest + document)
                elif mode == "trickle-headers":
                    head = self._head(200, {**json_type, "Content-Length": str(len(document)), "Connection": "close"})
                    line, rest = head.split(b"\r\n", 1)
                    self.wfile.write(line + b"\r\n")
                    self._trickle(rest)
                    self.wfile.write(document)
                elif mode == "trickle-chunked":
                    self.wfile.write(self._head(200, {**json_type, "Transfer-Encoding": "chunked", "Connection": "close"}))
                    self._trickle(b"%x;%s\r\n" % (len(document), b"x" * 200))
                    self.wfile.write(document + b"\r\n0\r\n\r\n")
                elif mode == "trickle-chunks":
                    self.wfile.write(self._head(200, {**json_type, "Transfer-Encoding": "chunked", "Connection": "close"}))
                    for byte in document:
                        if server._stopped.is_set():
                            return
                        self.wfile.write(b"1\r\n%c\r\n" % byte)
                        self.wfile.flush()
                        time.sleep(server.delay)
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    raise AssertionError(f"unknown mode {mode}")

        return Handler


class SilentServer(TcpListener):
    """Accepts TCP connections on 127.0.0.1 and never reads or writes: a
    server that hangs after the connect (a TLS client waits for the
    ServerHello forever)."""

    def __init__(self) -> None:
        super().__init__()
        self._held: list[socket.socket] = []
        self.accepted = 0

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/jwks"

    def connected(self, conn: socket.socket) -> None:
        self.accepted += 1
        self._held.append(conn)

    def stop(self) -> None:
        super().stop()
        for conn in self._held:
            conn.close()


class TrickleRelay(TcpListener):
    """A TCP relay on 127.0.0.1 in front of ``target_port``: what the client
    sends goes through at once; what the server answers comes back one byte
    every ``delay`` seconds (in front of an HTTPS server: a trickled TLS
    handshake)."""

    def __init__(self, target_port: int, delay: float) -> None:
        super().__init__()
        self.target_port = target_port
        self.delay = delay
        self._sockets: list[socket.socket] = []

    def url(self, scheme: str = "https") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/jwks"

    def connected(self, client: socket.socket) -> None:
        client.settimeout(None)
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self._sockets += [client, upstream]
        threading.Thread(target=self._pump, args=(client, upstream, 0.0), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client, self.delay), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            # A stop closes both sockets: recv then raises, or a piece below sees it.
            while data := source.recv(65536):
                for i in range(0, len(data), 1 if delay else len(data)):
                    if self.stopped:
                        return
                    sink.sendall(data[i : i + 1] if delay else data)
                    time.sleep(delay)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        super().stop()
        for sock in self._sockets:
            sock.close()


def tls_files(directory: Path) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and a server certificate for ``localhost`` and
    ``127.0.0.1`` signed by it: the CA's PEM path (for ``SSL_CERT_FILE``) and a
    server-side TLS context."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "clerk-serverless test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server-key.pem"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(leaf.public_bytes(pem))
    key_path.write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return ca_path, context
