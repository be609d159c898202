"""Local development tools: dev keys and tokens, sample events, the demo.

Run ``python -m clerk_serverless_local --help``. Nothing here is imported by
the library itself, and nothing here is needed on Lambda.
"""
