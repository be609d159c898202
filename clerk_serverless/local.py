"""``python -m clerk_serverless.local`` forwards to the dev tools' own package.

The local runner, gateway, dev keys and demo live in the separate
``clerk-serverless-local`` distribution (``python -m clerk_serverless_local``),
so that neither the wheel's runtime nor the Lambda layer carries them. This
module imports nothing unless run.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Run ``clerk_serverless_local``'s command line, or say how to get it."""
    try:
        from clerk_serverless_local.__main__ import main as run  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print(
            "the local tools are a separate package: pip install clerk-serverless-local "
            "(from a checkout: pip install -e ./local), then python -m clerk_serverless_local",
            file=sys.stderr,
        )
        return 2
    code: int = run()
    return code


if __name__ == "__main__":
    sys.exit(main())
