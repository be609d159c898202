"""python -m clerk_serverless_local — local tools for Clerk-authenticated Lambdas.

  demo                 run the sample functions on the sample events, print a table
  invoke ID -e FILE    run one function of template.yaml on one event (no Docker)
  serve                serve the template's APIs on 127.0.0.1 like API Gateway (no Docker)
  events               (re)write env.json and events/ signed with the dev key (creating it if needed)
  token                mint a dev session or machine token for curl or a browser

Every command finds the project from any directory inside it (the nearest
one holding template.yaml), or takes --root DIR.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .template import INSTALL_HINT


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


def _template_path(args: argparse.Namespace) -> Path:
    """``-t`` as given, else ``template.yaml`` at the project root."""
    from .project import TEMPLATE_FILE, find_root

    if args.template:
        return Path(args.template)
    return find_root(args.root) / TEMPLATE_FILE


def cmd_invoke(args: argparse.Namespace) -> int:
    """``invoke``: run one function of the template on one event, print its answer."""
    from .origins import authorized_origins
    from .runner import InitError, LocalFunction, read_env_vars
    from .template import Template, TemplateError

    try:
        event: Any = json.loads(Path(args.event).read_text()) if args.event != "-" else json.load(sys.stdin)
    except OSError as exc:
        return _fail(f"cannot read event file {args.event}: {exc.strerror}")
    except ValueError as exc:
        return _fail(f"event file {args.event} is not JSON: {exc}")
    try:
        template = Template(_template_path(args), _overrides(args.parameter_overrides or []))
        env_vars = read_env_vars(args.env_vars) if args.env_vars else {}
        for scope, value in authorized_origins(template, env_vars).conflicts:
            print(f"warning: {args.env_vars} ({scope}) sets CLERK_AUTHORIZED_PARTIES={value}, "
                  "unlike the template's origins parameter (CORS): prefer --parameter-overrides", file=sys.stderr)
        with LocalFunction(template, args.logical_id, env_vars=env_vars, python=args.python,
                           runtime_client=args.runtime_client, build_dir=args.build_dir or "auto",
                           log_sink=_stderr_raw) as function:
            result = function.invoke(event)
    except (TemplateError, ValueError) as exc:
        return _fail(str(exc))
    except InitError as exc:
        return _fail(f"{args.logical_id} cannot start: {exc}")
    print(result.to_json())
    print(f"REPORT Duration: {result.duration_ms:.2f} ms{' (cold start)' if result.cold_start else ''}",
          file=sys.stderr)
    return 0


def _stderr_raw(text: str) -> None:
    sys.stderr.write(text)


def _stderr_line(line: str) -> None:
    sys.stderr.write(line + "\n")  # one write per line: the gateway serialises the calls
    sys.stderr.flush()


def cmd_serve(args: argparse.Namespace) -> int:
    """``serve``: the template's APIs on loopback, until interrupted."""
    import signal
    import time

    from clerk_serverless.urls import is_loopback_host

    from .gateway import LocalGateway
    from .origins import authorized_origins, banner
    from .runner import read_env_vars
    from .template import Template, TemplateError

    if args.spa and not args.static:
        return _fail("--spa answers the --static directory's index.html: give --static DIR too")
    try:
        template = Template(_template_path(args), _overrides(args.parameter_overrides or []))
        env_vars = read_env_vars(args.env_vars) if args.env_vars else {}
        gateway = LocalGateway(template, env_vars=env_vars, host=args.host, port=args.port, static_dir=args.static,
                               spa=args.spa, log=_stderr_line, warn=lambda message: _stderr_line(f"warning: {message}"),
                               authorize_static_origin=True, function_logs=True, python=args.python,
                               allowed_hosts=args.allowed_host or ())
    except (TemplateError, ValueError, OSError) as exc:
        return _fail(str(exc))
    with gateway:
        lines = []
        for route in gateway.routes:
            prefix = f"/{route.stage}" if route.api == "rest" else ""
            lines.append(f"{route.method:>7} {gateway.origin()}{prefix}{route.path} -> "
                         f"{route.function} ({route.api} API)")
        for function in gateway.url_functions:
            lines.append(f"    URL {gateway.origin(function)}/ -> {function} (Function URL)")
        if args.static:
            lines.append(f" STATIC {gateway.origin()}/ -> {args.static}"
                         + (" (--spa: index.html for unknown pages)" if args.spa else ""))
        lines += banner(authorized_origins(gateway.template, env_vars), env_file=args.env_vars,
                        added=", ".join(gateway.added_origins) or None,
                        static_origin=gateway.origin() if args.static else None)
        bound = gateway.urls["api"].removeprefix("http://").rsplit(":", 1)[0]
        reach = "loopback only" if is_loopback_host(bound) else "reachable from other machines"
        lines.append(f"serving on {bound} ({reach}); Ctrl+C to stop")
        for line in lines:
            gateway.log(line)
        # Ctrl+C or a plain kill: either way the warm functions are stopped on the way out.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def cmd_events(args: argparse.Namespace) -> int:
    """``events``: (re)write ``env.json`` and ``events/``, signed with the dev key."""
    from .project import TEMPLATE_FILE, find_root
    from .samples import DEV_KEY_FILE, write_samples
    from .template import Template, TemplateError

    root = find_root(args.root)
    try:
        template = root / TEMPLATE_FILE
        functions = Template(template).function_ids() if template.exists() else None
        written = write_samples(root, functions=functions)
    except (TemplateError, ValueError) as exc:
        return _fail(str(exc))
    if written and written[0] == root / DEV_KEY_FILE:
        print(f"created a new dev key: {root / DEV_KEY_FILE}")
    print(f"wrote {len(written)} files (env.json, events/) signed with dev/clerk-dev-key.pem — for local use only")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """``token``: print a dev session or machine token signed with the dev key."""
    from .project import find_root, load_dev_key

    key = load_dev_key(find_root(args.root))
    try:
        if args.type != "session_token":
            token = key.machine_token(args.type, expired=args.expired, lifetime=args.lifetime,
                                      sub=None if args.sub == "user_dev_123" else args.sub,
                                      scopes=args.scope or None)
        elif args.scope:
            return _fail("--scope is for machine tokens: add --type m2m_token or --type oauth_token "
                         "(a session token carries permissions: --org and --permission)")
        else:
            token = key.token(args.sub, sid=args.sid, org=args.org, org_role=args.role, org_permissions=args.permission,
                              azp=args.azp, expired=args.expired, lifetime=args.lifetime)
    except ValueError as exc:
        return _fail(str(exc))
    print(token)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: run every sample function on its sample events, print the table."""
    from .demo import run
    from .project import find_root

    return run(find_root(args.root))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for any usage or setup error)."""
    from .devkeys import DEV_ORIGIN

    parser = argparse.ArgumentParser(prog="python -m clerk_serverless_local", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    root_help = "project directory (default: the nearest one, from here upwards, holding template.yaml)"

    demo = commands.add_parser("demo", help="run the sample functions on the sample events")
    demo.add_argument("--root", help=root_help)
    demo.set_defaults(run=cmd_demo)

    invoke = commands.add_parser("invoke", help="invoke one function of the template on one event, without containers")
    invoke.add_argument("logical_id", help="the function's logical ID in the template")
    invoke.add_argument("-e", "--event", required=True, help="event JSON file ('-' for stdin)")
    invoke.add_argument("-t", "--template", help="template file (default: template.yaml at the project root)")
    invoke.add_argument("--root", help=root_help)
    invoke.add_argument("-n", "--env-vars", help="JSON file of environment overrides (sam local format)")
    invoke.add_argument("--parameter-overrides", nargs="*", metavar="NAME=VALUE")
    invoke.add_argument("--python", help="interpreter to run the function with (default: the runtime's, else this one)")
    invoke.add_argument("--runtime-client", choices=["bootstrap", "awslambdaric"], default="bootstrap")
    invoke.add_argument("--build-dir", help="sam build output to run from (default: .aws-sam/build when present)")
    invoke.set_defaults(run=cmd_invoke)

    serve = commands.add_parser("serve",
                                help="serve the template's APIs over HTTP on 127.0.0.1, like sam local start-api")
    serve.add_argument("-p", "--port", type=int, default=3001,
                       help="API port (Function URLs take the next ones); default 3001")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    serve.add_argument("-t", "--template", help="template file (default: template.yaml at the project root)")
    serve.add_argument("--root", help=root_help)
    serve.add_argument("-n", "--env-vars", help="JSON file of environment overrides (sam local format), e.g. env.json")
    serve.add_argument("--parameter-overrides", nargs="*", metavar="NAME=VALUE",
                       help="e.g. ClerkAuthorizedParties=http://localhost:3000,http://localhost:5173 "
                            "(the azp check and CORS)")
    serve.add_argument("--static",
                       help="serve files from this directory for paths no route matches (its origin is authorized)")
    serve.add_argument("--spa", action="store_true",
                       help="with --static: answer index.html for unknown pages a browser opens (client-side routes)")
    serve.add_argument("--python", help="interpreter to run functions with")
    serve.add_argument("--allowed-host", action="append", metavar="NAME",
                       help="also answer requests for this Host name, repeatable ('*': any); by default only "
                            "localhost, *.localhost and IP addresses are answered (DNS rebinding)")
    serve.set_defaults(run=cmd_serve)

    events = commands.add_parser("events",
                                 help="(re)write env.json and the sample events; creates the dev key if missing")
    events.add_argument("--root", help=root_help)
    events.set_defaults(run=cmd_events)

    token = commands.add_parser("token", help="mint a session or machine token signed with the project's dev key")
    token.add_argument("--sub", default="user_dev_123", help="user ID (default user_dev_123)")
    token.add_argument("--sid", help="session ID (default derived from --sub)")
    token.add_argument("--org", help="active organization ID")
    token.add_argument("--role", default="admin", help="role in --org (default admin)")
    token.add_argument("--permission", action="append", default=[], help="org:<feature>:<permission>, repeatable")
    token.add_argument("--azp", default=DEV_ORIGIN,
                       help=f"authorized party (default {DEV_ORIGIN}, the template's default origin)")
    token.add_argument("--expired", action="store_true", help="mint an already expired token")
    token.add_argument("--lifetime", type=float, default=3600.0, help="seconds until exp (default 3600)")
    token.add_argument("--root", help=root_help)
    token.add_argument("--type", default="session_token", choices=["session_token", "m2m_token", "oauth_token"],
                       help="a session token (default), or an M2M / OAuth access token in JWT form")
    token.add_argument("--scope", action="append", default=[],
                       help="a scope of the machine token (with --type), repeatable; default: the dev token's own")
    token.set_defaults(run=cmd_token)

    args = parser.parse_args(argv)
    from .template import MissingDependencyError, TemplateError

    try:
        code: int = args.run(args)
    except MissingDependencyError as exc:
        return _fail(str(exc))
    except ModuleNotFoundError as exc:  # an optional dependency of the local tools
        return _fail(f"{exc.name or 'a module'} is not installed, and the local tools need it: {INSTALL_HINT}")
    except TemplateError as exc:  # includes ProjectError: no project, no dev key
        return _fail(str(exc))
    return code


if __name__ == "__main__":
    sys.exit(main())
