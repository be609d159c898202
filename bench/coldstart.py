"""Cold start as a whole process: interpreter start → import → first verified
request (JWKS fetched over HTTPS from loopback) → response.

    python bench/coldstart.py [--runs 9]

Each contender runs in a fresh interpreter, as a new Lambda execution
environment would, against the same JWKS served by an HTTPS server on
127.0.0.1 (self-signed certificate made for the run, trusted through
SSL_CERT_FILE):

* clerk_serverless — ``ClerkAuth(jwks_url=…)`` + ``require_session`` on an
  HTTP API v2 event;
* clerk-backend-api — ``verify_token(token, VerifyTokenOptions(secret_key=…,
  api_url=…))`` (its ``authenticate_request`` cannot be pointed at another
  Backend API URL);
* Powertools ``auth_alpha.JWTVerifier(jwks_uri=…)`` (its token carries the
  ``aud`` it insists on).

Reports the median and best wall time of the whole process over the runs,
and the import and first-request times each process measured itself.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "https://api.example.com"

OURS = r"""
import time, json, sys
t0 = time.perf_counter()
from clerk_serverless import ClerkAuth
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
auth = ClerkAuth(jwks_url=a["jwks_url"], issuer=a["issuer"])
@auth.require_session
def handler(event, context):
    return {"statusCode": 200, "body": event["session"].user_id}
event = {"version": "2.0", "rawPath": "/me", "headers": {"authorization": "Bearer " + a["token"]},
         "requestContext": {"http": {"method": "GET", "path": "/me", "sourceIp": "203.0.113.1"}}}
response = handler(event, None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import": t1 - t0, "first": t2 - t1}))
"""

CLERK = r"""
import time, json, sys
t0 = time.perf_counter()
from clerk_backend_api.security.verifytoken import verify_token
from clerk_backend_api.security.types import VerifyTokenOptions
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
options = VerifyTokenOptions(secret_key="sk_test_bench", api_url=a["base_url"], audience=a["audience"])
claims = verify_token(a["token"], options)
t2 = time.perf_counter()
assert claims["sub"] == "user_1"
print(json.dumps({"import": t1 - t0, "first": t2 - t1}))
"""

POWERTOOLS = r"""
import time, json, sys
t0 = time.perf_counter()
from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
verifier = JWTVerifier(
    issuer=a["issuer"], audience=a["audience"], algorithms=["RS256"], jwks_uri=a["jwks_url"], required_claims=["sub"]
)
claims = verifier.verify(a["token"])
t2 = time.perf_counter()
assert claims["sub"] == "user_1"
print(json.dumps({"import": t1 - t0, "first": t2 - t1}))
"""


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_path.write_bytes(pem)
    return cert_path, key_path


def _serve(document: bytes, cert: Path, key: Path) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _run(script: str, args: dict[str, Any], env: dict[str, str]) -> tuple[float, dict[str, float]]:
    started = time.perf_counter()
    command = [sys.executable, "-c", script, json.dumps(args)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    total = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"contender failed:\n{out.stderr[-2000:]}")
    return total, json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert, tls_key = _certificate(Path(tmp))
        signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key()))
        jwk = {**public_jwk, "kid": "ins_cold", "use": "sig", "alg": "RS256"}
        server = _serve(json.dumps({"keys": [jwk]}).encode(), cert, tls_key)
        base_url = f"https://127.0.0.1:{server.server_address[1]}"
        now = int(time.time())
        claims = {"sub": "user_1", "sid": "sess_1", "iss": base_url, "aud": AUDIENCE,
                  "iat": now, "nbf": now - 5, "exp": now + 3600}
        token = jwt.encode(claims, signing, algorithm="RS256", headers={"kid": "ins_cold", "typ": "JWT"})
        shared = {"token": token, "jwks_url": f"{base_url}/jwks", "base_url": base_url,
                  "issuer": base_url, "audience": AUDIENCE}
        env = {**os.environ, "SSL_CERT_FILE": str(cert), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("CLERK_SECRET_KEY", None)
        contenders = {"clerk_serverless": OURS, "clerk-backend-api": CLERK, "Powertools auth_alpha": POWERTOOLS}
        results: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in contenders}
        for _ in range(args.runs):  # interleaved, as in bench.py
            for name, script in contenders.items():
                results[name].append(_run(script, shared, env))
        server.shutdown()

    ours = statistics.median(t for t, _ in results["clerk_serverless"])
    print(f"{'contender':<24} {'process ms (median)':>20} {'best':>8} {'import ms':>10} "
          f"{'first request ms':>17} {'× ours':>7}")
    for name, runs in results.items():
        totals = [t for t, _ in runs]
        median = statistics.median(totals)
        imports = statistics.median(r["import"] for _, r in runs) * 1000
        firsts = statistics.median(r["first"] for _, r in runs) * 1000
        print(f"{name:<24} {median * 1000:>20.0f} {min(totals) * 1000:>8.0f} {imports:>10.1f} "
              f"{firsts:>17.1f} {median / ours:>7.2f}")
    print(f"\npython {sys.version.split()[0]}, {args.runs} runs each, JWKS over HTTPS from 127.0.0.1", file=sys.stderr)


if __name__ == "__main__":
    main()
