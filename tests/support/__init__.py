"""Real parts for the test suite: a loopback JWKS server, RS256 token minting
with generated keys, and events built from ``sam local generate-event`` output."""
