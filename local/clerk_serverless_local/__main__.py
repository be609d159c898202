"""python -m clerk_serverless_local — local tools for Clerk-authenticated Lambdas.

  demo                 run the sample functions on the sample events, print a table
  invoke ID -e FILE    run one function of template.yaml on one event (no Docker)
  serve                serve the template's APIs on 127.0.0.1 like API Gateway (no Docker)
  events               (re)write env.json and events/ signed with the dev key
  token                mint a dev session token for curl or a browser
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _overrides(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"parameter override {item!r} is not Name=Value")
        values[name] = value
    return values


def cmd_invoke(args: argparse.Namespace) -> int:
    from .runner import InitError, LocalFunction, read_env_vars
    from .template import Template, TemplateError

    try:
        event: Any = json.loads(Path(args.event).read_text()) if args.event != "-" else json.load(sys.stdin)
    except OSError as exc:
        return _fail(f"cannot read event file {args.event}: {exc.strerror}")
    except ValueError as exc:
        return _fail(f"event file {args.event} is not JSON: {exc}")
    try:
        template = Template(args.template, _overrides(args.parameter_overrides or []))
        env_vars = read_env_vars(args.env_vars) if args.env_vars else {}
        with LocalFunction(template, args.logical_id, env_vars=env_vars, python=args.python,
                           runtime_client=args.runtime_client, build_dir=args.build_dir or "auto",
                           log_sink=lambda line: sys.stderr.write(line)) as function:
            result = function.invoke(event)
    except (TemplateError, ValueError) as exc:
        return _fail(str(exc))
    except InitError as exc:
        return _fail(f"{args.logical_id} cannot start: {exc}")
    print(result.to_json())
    print(f"REPORT Duration: {result.duration_ms:.2f} ms{' (cold start)' if result.cold_start else ''}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from .gateway import LocalGateway
    from .runner import read_env_vars
    from .template import Template, TemplateError

    try:
        template = Template(args.template, _overrides(args.parameter_overrides or []))
        env_vars = read_env_vars(args.env_vars) if args.env_vars else {}
        gateway = LocalGateway(template, env_vars=env_vars, host=args.host, port=args.port, static_dir=args.static,
                               log=lambda line: print(line, file=sys.stderr, flush=True), python=args.python)
    except (TemplateError, ValueError, OSError) as exc:
        return _fail(str(exc))
    with gateway:
        for route in gateway.routes:
            prefix = f"/{route.stage}" if route.api == "rest" else ""
            print(f"{route.method:>6} {gateway.urls['api']}{prefix}{route.path} -> {route.function} ({route.api} API)", file=sys.stderr)
        for function in gateway.url_functions:
            print(f"   URL {gateway.urls[function]}/ -> {function} (Function URL)", file=sys.stderr)
        print("serving; Ctrl+C to stop", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    from .samples import write_samples

    written = write_samples(Path(args.root))
    print(f"wrote {len(written)} files (env.json, events/) signed with dev/clerk-dev-key.pem — for local use only")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from .devkeys import DevKey
    from .samples import DEV_KEY_FILE

    key = DevKey.load_or_create(Path(args.root) / DEV_KEY_FILE)
    try:
        token = key.token(args.sub, sid=args.sid, org=args.org, org_role=args.role, org_permissions=args.permission,
                          azp=args.azp, expired=args.expired, lifetime=args.lifetime)
    except ValueError as exc:
        return _fail(str(exc))
    print(token)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(Path(args.root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clerk_serverless_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the sample functions on the sample events")
    demo.add_argument("--root", default=".", help="project directory (template.yaml, events/, env.json)")
    demo.set_defaults(run=cmd_demo)

    invoke = commands.add_parser("invoke", help="invoke one function of the template on one event, without containers")
    invoke.add_argument("logical_id", help="the function's logical ID in the template")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file ('-' for stdin)")
    invoke.add_argument("-t", "--template", default="template.yaml")
    invoke.add_argument("-n", "--env-vars", help="JSON file of environment overrides (sam local format)")
    invoke.add_argument("--parameter-overrides", nargs="*", metavar="NAME=VALUE")
    invoke.add_argument("--python", help="interpreter to run the function with (default: the runtime's, else this one)")
    invoke.add_argument("--runtime-client", choices=["bootstrap", "awslambdaric"], default="bootstrap")
    invoke.add_argument("--build-dir", help="sam build output to run from (default: .aws-sam/build when present)")
    invoke.set_defaults(run=cmd_invoke)

    serve = commands.add_parser("serve", help="serve the template's APIs over HTTP on 127.0.0.1, like sam local start-api")
    serve.add_argument("-p", "--port", type=int, default=3001, help="API port (Function URLs take the next ones); default 3001")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    serve.add_argument("-t", "--template", default="template.yaml")
    serve.add_argument("-n", "--env-vars", help="JSON file of environment overrides (sam local format), e.g. env.json")
    serve.add_argument("--parameter-overrides", nargs="*", metavar="NAME=VALUE")
    serve.add_argument("--static", help="serve files from this directory for paths no route matches")
    serve.add_argument("--python", help="interpreter to run functions with")
    serve.set_defaults(run=cmd_serve)

    events = commands.add_parser("events", help="(re)write env.json and the sample events")
    events.add_argument("--root", default=".")
    events.set_defaults(run=cmd_events)

    token = commands.add_parser("token", help="mint a session token signed with the dev key")
    token.add_argument("--sub", default="user_dev_123", help="user ID (default user_dev_123)")
    token.add_argument("--sid", help="session ID (default derived from --sub)")
    token.add_argument("--org", help="active organization ID")
    token.add_argument("--role", default="admin", help="role in --org (default admin)")
    token.add_argument("--permission", action="append", default=[], help="org:<feature>:<permission>, repeatable")
    token.add_argument("--azp", default="http://localhost:3000", help="authorized party (default http://localhost:3000)")
    token.add_argument("--expired", action="store_true", help="mint an already expired token")
    token.add_argument("--lifetime", type=float, default=3600.0, help="seconds until exp (default 3600)")
    token.add_argument("--root", default=".")
    token.set_defaults(run=cmd_token)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
