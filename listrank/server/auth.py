"""Optional bearer-token auth. Compared in constant time so response timing says nothing
about how much of a guessed key was right."""

from __future__ import annotations

import hmac


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorized(authorization: str | None, api_key: str | None) -> bool:
    """True when no key is configured or the header carries exactly that key. The configured
    key is taken without surrounding whitespace: a key read from a secret file or an
    environment variable often ends in a newline, which no client sends (a header cannot)."""
    if api_key is None:
        return True
    api_key = api_key.strip()
    token = bearer_token(authorization)
    if token is None:
        return False
    return hmac.compare_digest(token.encode("utf-8"), api_key.encode("utf-8"))
