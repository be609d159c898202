"""Cold start as a whole process: interpreter start → import → first verified
request (JWKS fetched over HTTPS from loopback) → response.

    python bench/coldstart.py [--runs 15] [--markdown] [--site]

Each contender runs in a fresh interpreter, as a new Lambda execution
environment would, against the same JWKS served by an HTTPS server on
127.0.0.1 (self-signed certificate made for the run, trusted through
SSL_CERT_FILE):

* **by-hand floor** — the least any Python implementation must do: ``import
  ssl, socket`` and cryptography's RSA, one HTTPS GET of the JWKS, the RSA key
  from the JWK's ``n``/``e``, one signature verify, the claims decoded and
  ``exp`` checked. No checks beyond that, no error handling: a floor, not a
  verifier;
* clerk_serverless — ``ClerkAuth(jwks_url=…)`` + ``require_session`` on an
  HTTP API v2 event, keys fetched by the first request;
* the same with ``auth.prefetch()`` at module level (what the README
  recommends: the init phase fetches the keys);
* clerk-backend-api — ``verify_token(token, VerifyTokenOptions(secret_key=…,
  api_url=…))`` (its ``authenticate_request`` cannot be pointed at another
  Backend API URL);
* Powertools ``auth_alpha.JWTVerifier(jwks_uri=…)`` (its token carries the
  ``aud`` it insists on).

How the processes are started, so that every contender starts alike and as it
would on Lambda: every library is loaded from compiled bytecode
(clerk_serverless from a copy of the package compiled for the run, as ``pip
install`` leaves it; the others from their installed ``__pycache__``), and the
interpreter runs with ``-S`` and the environment's site-packages on
``PYTHONPATH``, so the development venv's editable-install hooks (``.pth``
files importing ``pathlib`` & co., ~9 ms) are charged to no one. ``--site``
runs the venv's interpreter as it is instead (then clerk_serverless still
comes from the compiled copy). ``--preload json,logging,...`` imports those
modules in every contender before its clock starts, as a runtime that loaded
them itself would (AWS's awslambdaric bootstrap imports json, logging,
traceback and importlib before the handler's module).

Reports, per contender, the median and best wall time of the whole process,
the median import, init (construction, and the prefetch where there is one)
and first-request times each process measured itself, the median peak RSS
(the child's own ``VmHWM`` from ``/proc/self/status``, read after the
answer), and its process time against the floor's and Powertools': the
median over rounds of the ratio within a round. Rounds run every contender
once, back to back and in a shuffled order, so a slow patch of a noisy
machine weighs on both sides of a ratio and on no contender in particular.
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import ipaddress
import json
import os
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "https://api.example.com"

# Every script: the argument is parsed (json) before the clock starts, and
# the last line of stdout is {"import": s, "init": s, "first": s, "rss": KiB}.
# The peak RSS is the child's own VmHWM: a parent's rusage of a child started
# by fork/vfork + exec counts the parent's memory at the exec (Linux keeps
# the pre-exec high-water mark), which would hide every contender's own.
PEAK_RSS = r"""
def peak_rss_kib():
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

FLOOR = PEAK_RSS + r"""
import time, json, sys
t0 = time.perf_counter()
import base64, socket, ssl
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.hashes import SHA256
t1 = time.perf_counter()
a = json.loads(sys.argv[1])

def b64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

token = a["token"]
context = ssl.create_default_context()
with socket.create_connection((a["host"], a["port"]), timeout=3) as raw:
    with context.wrap_socket(raw, server_hostname=a["host"]) as tls:
        tls.sendall(f"GET /jwks HTTP/1.1\r\nHost: {a['host']}:{a['port']}\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := tls.recv(65536):
            response += chunk
head, body = response.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.1 200")
jwk = json.loads(body)["keys"][0]
key = RSAPublicNumbers(int.from_bytes(b64(jwk["e"]), "big"), int.from_bytes(b64(jwk["n"]), "big")).public_key()
header, payload, signature = token.split(".")
key.verify(b64(signature), f"{header}.{payload}".encode(), PKCS1v15(), SHA256())
claims = json.loads(b64(payload))
assert claims["exp"] > time.time()
response = {"statusCode": 200, "body": claims["sub"]}
t2 = time.perf_counter()
assert response["body"] == "user_1"
print(json.dumps({"import": t1 - t0, "init": 0.0, "first": t2 - t1, "rss": peak_rss_kib()}))
"""

OURS = PEAK_RSS + r"""
import time, json, sys
t0 = time.perf_counter()
from clerk_serverless import ClerkAuth
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
auth = ClerkAuth(jwks_url=a["jwks_url"], issuer=a["issuer"])
if a["prefetch"]:
    auth.prefetch()
@auth.require_session
def handler(event, context):
    return {"statusCode": 200, "body": event["session"].user_id}
t2 = time.perf_counter()
event = {"version": "2.0", "rawPath": "/me", "headers": {"authorization": "Bearer " + a["token"]},
         "requestContext": {"http": {"method": "GET", "path": "/me", "sourceIp": "203.0.113.1"}}}
response = handler(event, None)
t3 = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "first": t3 - t2, "rss": peak_rss_kib()}))
"""

CLERK = PEAK_RSS + r"""
import time, json, sys
t0 = time.perf_counter()
from clerk_backend_api.security.verifytoken import verify_token
from clerk_backend_api.security.types import VerifyTokenOptions
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
options = VerifyTokenOptions(secret_key="sk_test_bench", api_url=a["base_url"], audience=a["audience"])
t2 = time.perf_counter()
claims = verify_token(a["token"], options)
t3 = time.perf_counter()
assert claims["sub"] == "user_1"
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "first": t3 - t2, "rss": peak_rss_kib()}))
"""

POWERTOOLS = PEAK_RSS + r"""
import time, json, sys
t0 = time.perf_counter()
from aws_lambda_powertools.utilities.auth_alpha import JWTVerifier
t1 = time.perf_counter()
a = json.loads(sys.argv[1])
verifier = JWTVerifier(issuer=a["issuer"], audience=a["audience"], algorithms=["RS256"], jwks_uri=a["jwks_url"], required_claims=["sub"])
t2 = time.perf_counter()
claims = verifier.verify(a["token"])
t3 = time.perf_counter()
assert claims["sub"] == "user_1"
print(json.dumps({"import": t1 - t0, "init": t2 - t1, "first": t3 - t2, "rss": peak_rss_kib()}))
"""

FLOOR_NAME = "by-hand floor"
OURS_NAME = "clerk_serverless"
PREFETCH_NAME = "clerk_serverless, prefetch() at module level"
CLERK_NAME = "clerk-backend-api"
POWERTOOLS_NAME = "Powertools auth_alpha"
CONTENDERS: dict[str, tuple[str, dict[str, Any]]] = {
    FLOOR_NAME: (FLOOR, {}),
    OURS_NAME: (OURS, {"prefetch": False}),
    PREFETCH_NAME: (OURS, {"prefetch": True}),
    CLERK_NAME: (CLERK, {}),
    POWERTOOLS_NAME: (POWERTOOLS, {}),
}
LABELS = {
    FLOOR_NAME: "by-hand floor (ssl + socket + cryptography, no checks)",
    OURS_NAME: "clerk_serverless (`require_session`)",
    PREFETCH_NAME: "clerk_serverless, `auth.prefetch()` at module level",
    CLERK_NAME: "clerk-backend-api (`verify_token`)",
    POWERTOOLS_NAME: "Powertools `auth_alpha.JWTVerifier`",
}


class Run(NamedTuple):
    total: float  # seconds, the whole process as its parent saw it
    phases: dict[str, float]
    max_rss_kib: int


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
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
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
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


def stage_package(directory: Path) -> Path:
    """A copy of clerk_serverless compiled to bytecode, as an installed
    package is (the source tree has no ``__pycache__`` under
    ``PYTHONDONTWRITEBYTECODE``, and compiling on every start is a cost no
    deployment pays)."""
    task = directory / "task"
    shutil.copytree(ROOT / "clerk_serverless", task / "clerk_serverless", ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(task, quiet=1):
        raise SystemExit("could not compile the staged clerk_serverless")
    return task


def _run(command: list[str], env: dict[str, str], workdir: Path) -> Run:
    # The working directory heads sys.path under -c: not the checkout, whose
    # uncompiled clerk_serverless would shadow the staged one.
    with (workdir / "stderr").open("w+b") as errors:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None
        out = proc.stdout.read()
        returncode = proc.wait()
        total = time.perf_counter() - started
        proc.stdout.close()
        if returncode != 0:
            errors.seek(0)
            raise SystemExit(f"contender failed:\n{errors.read().decode(errors='replace')[-3000:]}")
    phases = json.loads(out.decode().strip().splitlines()[-1])
    return Run(total, phases, phases.pop("rss"))


class Row(NamedTuple):
    name: str
    median_ms: float
    best_ms: float
    import_ms: float
    init_ms: float
    first_ms: float
    rss_mib: float
    vs_floor: float
    vs_powertools: float


def _paired_ratio(runs: list[Run], baseline: list[Run] | None) -> float:
    """The median over rounds of this contender's process time divided by the
    baseline's in the same round: contenders of one round run back to back,
    so a slow patch of the machine weighs on both sides of each ratio."""
    if not baseline:
        return float("nan")
    return statistics.median(r.total / b.total for r, b in zip(runs, baseline, strict=True))


def summarize(results: dict[str, list[Run]]) -> list[Row]:
    """Medians per contender, and the paired ratios to the floor and to Powertools."""
    floor, powertools = results.get(FLOOR_NAME), results.get(POWERTOOLS_NAME)
    rows = []
    for name, runs in results.items():
        median = statistics.median(r.total for r in runs)
        rows.append(Row(
            name,
            median * 1000,
            min(r.total for r in runs) * 1000,
            statistics.median(r.phases["import"] for r in runs) * 1000,
            statistics.median(r.phases["init"] for r in runs) * 1000,
            statistics.median(r.phases["first"] for r in runs) * 1000,
            statistics.median(r.max_rss_kib for r in runs) / 1024,
            _paired_ratio(runs, floor),
            _paired_ratio(runs, powertools),
        ))
    return rows


def print_table(rows: list[Row]) -> None:
    width = max(len(r.name) for r in rows)
    print(f"{'contender':<{width}}  {'process ms':>10}  {'best':>6}  {'import':>7}  {'init':>6}  {'first':>6}  {'peak RSS MiB':>12}  {'× floor':>7}  {'× Powertools':>12}")
    for r in rows:
        print(f"{r.name:<{width}}  {r.median_ms:>10.1f}  {r.best_ms:>6.1f}  {r.import_ms:>7.1f}  {r.init_ms:>6.1f}  {r.first_ms:>6.1f}  "
              f"{r.rss_mib:>12.1f}  {r.vs_floor:>7.2f}  {r.vs_powertools:>12.2f}")


def markdown(rows: list[Row], runs: int, how: str) -> str:
    """The README's cold-start table, for this run."""
    import platform

    lines = [
        f"`python bench/coldstart.py` — Python {platform.python_version()}, {platform.machine()}, "
        f"{runs} fresh processes per contender, interleaved{how}; times are medians, ratios the median "
        "of per-round ratios:",
        "",
        "| contender | process | import | init | first request | peak RSS | × floor | × Powertools |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {LABELS.get(r.name, r.name)} | {r.median_ms:.0f} ms | {r.import_ms:.1f} ms | {r.init_ms:.1f} ms | "
                     f"{r.first_ms:.1f} ms | {r.rss_mib:.1f} MiB | {r.vs_floor:.2f} | {r.vs_powertools:.2f} |")
    by_name = {r.name: r for r in rows}
    ours, floor, powertools = by_name.get(OURS_NAME), by_name.get(FLOOR_NAME), by_name.get(POWERTOOLS_NAME)
    if ours and floor and powertools:
        lines += ["", f"A cold process verifying its first token takes {ours.vs_floor:.2f}× the by-hand floor "
                  f"({ours.median_ms - floor.median_ms:+.0f} ms) and {ours.vs_powertools:.2f}× Powertools' verifier; "
                  f"its peak RSS is {ours.rss_mib - floor.rss_mib:+.1f} MiB against the floor's."]
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> str:
    by_name = {r.name: r for r in rows}
    lines = []
    for name in (OURS_NAME, PREFETCH_NAME):
        r = by_name.get(name)
        if r is None:
            continue
        floor_ok = "met" if r.vs_floor <= 1.25 else "NOT met"
        pt_ok = "met" if r.vs_powertools <= 0.80 else "NOT met"
        lines.append(f"{name}: {r.vs_floor:.2f}× floor (target ≤ 1.25: {floor_ok}), "
                     f"{r.vs_powertools:.2f}× Powertools (target ≤ 0.80: {pt_ok})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--markdown", action="store_true", help="also print the README table (Markdown)")
    parser.add_argument("--site", action="store_true", help="start interpreters with site (and the venv's .pth hooks)")
    parser.add_argument("--preload", default="", metavar="MODULES",
                        help="comma-separated modules every contender imports before its clock starts, e.g. what "
                             "a runtime loads first (awslambdaric's bootstrap: json,logging,traceback,importlib)")
    parser.add_argument("--raw", action="store_true", help="print every run's process time")
    parser.add_argument("--seed", type=int, default=1, help="seed of the per-round order")
    parser.add_argument("--only", action="append", choices=list(CONTENDERS), help="run only these contenders (repeatable)")
    args = parser.parse_args()
    chosen = {name: CONTENDERS[name] for name in (args.only or CONTENDERS)}
    preload = [m.strip() for m in args.preload.split(",") if m.strip()]
    if not all(all(part.isidentifier() for part in m.split(".")) for m in preload):
        raise SystemExit("--preload takes module names separated by commas")
    preamble = f"import {', '.join(preload)}\n" if preload else ""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, tls_key = _certificate(tmp)
        task = stage_package(tmp)
        signing = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing.public_key())), "kid": "ins_cold", "use": "sig", "alg": "RS256"}
        server = _serve(json.dumps({"keys": [jwk]}).encode(), cert, tls_key)
        host, port = server.server_address[:2]
        base_url = f"https://{host}:{port}"
        now = int(time.time())
        token = jwt.encode({"sub": "user_1", "sid": "sess_1", "iss": base_url, "aud": AUDIENCE, "iat": now, "nbf": now - 5, "exp": now + 3600},
                           signing, algorithm="RS256", headers={"kid": "ins_cold", "typ": "JWT"})
        shared = {"token": token, "jwks_url": f"{base_url}/jwks", "base_url": base_url, "issuer": base_url,
                  "audience": AUDIENCE, "host": str(host), "port": port}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLERK_", "PYTHON"))}
        env.update({"SSL_CERT_FILE": str(cert), "PYTHONDONTWRITEBYTECODE": "1"})
        site_packages = sysconfig.get_path("purelib")
        if args.site:
            interpreter = [sys.executable]
            env["PYTHONPATH"] = str(task)
        else:
            interpreter = [sys.executable, "-S"]
            env["PYTHONPATH"] = os.pathsep.join([str(task), site_packages])
        results: dict[str, list[Run]] = {name: [] for name in chosen}
        order = list(chosen.items())
        shuffle = random.Random(args.seed).shuffle
        for _ in range(args.runs):
            shuffle(order)  # no contender always runs first, or right after the slowest
            for name, (script, extra) in order:
                command = [*interpreter, "-c", preamble + script, json.dumps({**shared, **extra})]
                results[name].append(_run(command, env, tmp))
        server.shutdown()

    if args.raw:
        for name, runs in results.items():
            print(f"{name}: " + " ".join(f"{r.total * 1000:.0f}" for r in runs))
    rows = summarize(results)
    print_table(rows)
    print()
    print(verdicts(rows))
    how = ", with site" if args.site else ", -S with site-packages on PYTHONPATH"
    how += f", {', '.join(preload)} preloaded" if preload else ""
    if args.markdown:
        print()
        print(markdown(rows, args.runs, how))
    print(f"\npython {sys.version.split()[0]}, {args.runs} interleaved runs each, JWKS over HTTPS from 127.0.0.1{how}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
