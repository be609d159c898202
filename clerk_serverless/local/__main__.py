"""``python -m clerk_serverless.local <command>``: dev tokens, sample events, the demo."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clerk_serverless.local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the decorators over sample requests of every event shape")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        return run()
    return 2


if __name__ == "__main__":
    sys.exit(main())
