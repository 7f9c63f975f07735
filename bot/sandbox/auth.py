"""Verifies Rollout auth tokens as Rollout does: HS512 JWTs signed with the client secret, issued by the client id."""

from __future__ import annotations

import jwt
from mcp.server.auth.provider import AccessToken

_REQUIRED_CLAIMS = ["iss", "sub", "iat", "exp"]


class RolloutTokenVerifier:
    """Implements the MCP SDK's `TokenVerifier` protocol; also used directly by the credentials page."""

    def __init__(self, *, client_id: str, client_secret: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret

    def verify(self, token: str) -> AccessToken | None:
        """The verified token, or None for anything bad, missing, expired or from another issuer."""
        try:
            claims = jwt.decode(
                token,
                key=self._client_secret,
                algorithms=["HS512"],
                issuer=self._client_id,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        return AccessToken(
            token=token, client_id=self._client_id, scopes=[], subject=subject, expires_at=int(claims["exp"])
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        return self.verify(token)
