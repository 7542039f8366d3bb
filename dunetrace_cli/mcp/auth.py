"""Bearer-token auth for the HTTP transports: one shared secret, checked through the SDK's TokenVerifier seam."""

from __future__ import annotations

import hmac
from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings


class StaticTokenVerifier:
    """The SDK's TokenVerifier seam for one shared secret, compared in constant time."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("empty token")
        self._token = token.encode("utf-8")

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode("utf-8"), self._token):
            return AccessToken(token="static", client_id="dunetrace-mcp-client", scopes=["read"])
        return None


def auth_kwargs(token: str | None, issuer_url: str) -> dict[str, Any]:
    """MCPServer keyword arguments that require ``Authorization: Bearer <token>`` (none without a token)."""
    if not token:
        return {}
    return {
        "token_verifier": StaticTokenVerifier(token),
        "auth": AuthSettings(
            issuer_url=issuer_url,  # type: ignore[arg-type]  # pydantic coerces the string
            resource_server_url=None,
            validate_token_resource=False,
            required_scopes=["read"],
        ),
    }


__all__ = ["StaticTokenVerifier", "auth_kwargs"]
