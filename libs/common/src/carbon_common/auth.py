"""Bearer JWT verification (PyJWT) and scope checks for FastAPI routes.

Tokens are issued by the deployment's identity provider (in development by ``bureau token``,
signed with the public development key pair in ``devkeys/``), verified against configured
public keys (a PEM file or a JWKS), with expiry, issuer and audience checked. Claims: ``sub``,
``org`` (bank id, department id or enterprise credit code), ``scope`` (space-separated).
Outside development the development key is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carbon_common.problems import ProblemError
from carbon_common.settings import AuthSettings, Environment

DEV_KEYS = Path(__file__).parent / "devkeys"
DEV_PRIVATE_KEY = DEV_KEYS / "dev-ed25519.pem"
DEV_PUBLIC_KEY = DEV_KEYS / "dev-ed25519.pub.pem"

bearer = HTTPBearer(auto_error=False, description="A JWT from the identity provider (dev: `bureau token`).")


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    org: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


class TokenVerifier:
    def __init__(self, settings: AuthSettings, environment: Environment) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKClient | None = None
        self._key: str | None = None
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url)
        else:
            path = Path(settings.public_key_file) if settings.public_key_file else DEV_PUBLIC_KEY
            self._key = path.read_text()
        if not environment.allows_dev_secrets and self._key == DEV_PUBLIC_KEY.read_text():
            raise RuntimeError(
                "refusing to start: the development signing key is configured outside development"
            )

    def verify(self, token: str) -> Principal:
        try:
            key: Any = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=self.settings.algorithms,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise ProblemError(401, "Invalid token", str(exc), slug="invalid-token") from exc
        org = claims.get("org")
        if not isinstance(org, str) or not org:
            raise ProblemError(401, "Invalid token", "the token has no `org` claim", slug="invalid-token")
        return Principal(str(claims["sub"]), org, frozenset(str(claims.get("scope", "")).split()))


def mint_dev_token(
    org: str,
    scopes: str,
    subject: str | None = None,
    ttl_seconds: int = 8 * 3600,
    issuer: str = "carbon-bureau-dev",
    audience: str = "carbon-bureau",
) -> str:
    """A development token signed with the public development key (never valid in production)."""
    now = int(time.time())
    claims = {
        "sub": subject or org,
        "org": org,
        "scope": scopes,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, DEV_PRIVATE_KEY.read_text(), algorithm="EdDSA")


def require(scope: str | None = None) -> Any:
    """A FastAPI dependency: the caller's ``Principal``, with ``scope`` required when given.

    With auth disabled (development only), the caller is taken from the ``X-Org`` header and
    holds every scope, so the walking skeleton works without tokens.
    """

    async def dependency(
        request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
        if verifier is None:
            org = request.headers.get("X-Org", "anonymous")
            return Principal(org, org, frozenset({"*"}))
        if creds is None:
            raise ProblemError(
                401, "Authentication required", "send `Authorization: Bearer <token>`", slug="unauthenticated"
            )
        principal = verifier.verify(creds.credentials)
        if scope and not principal.has(scope):
            raise ProblemError(403, "Forbidden", f"this needs the `{scope}` scope", slug="forbidden")
        return principal

    return dependency
