"""Bearer JWT verification (PyJWT) and scope checks for FastAPI routes.

Tokens are issued by the deployment's identity provider (in development by ``bureau token``,
signed with the public development key pair in ``devkeys/``), verified against configured
public keys (a PEM file, a JWKS file or a JWKS URL), with expiry, issuer and audience checked;
only asymmetric algorithms (RS256, EdDSA, …) are accepted. Claims: ``sub``, ``org`` (bank id,
department id or enterprise credit code), ``scope`` (space-separated). Outside development the
development key is refused. The roles and scopes are documented in ``docs/security.md``.

Routes declare what they need with :func:`require` (any of some scopes) or :func:`require_own_or`
(any of some scopes, or the enterprise itself with ``self:read``); :func:`install_auth` puts the
verifier on the app and documents each route's scopes and 401/403 answers in the OpenAPI schema.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import fastapi.routing
import jwt
from cryptography.hazmat.primitives import serialization
from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carbon_common.problems import PROBLEM_JSON, ProblemError, add_problem_schema
from carbon_common.settings import AuthSettings, Environment

DEV_KEYS = Path(__file__).parent / "devkeys"
DEV_PRIVATE_KEY = DEV_KEYS / "dev-ed25519.pem"
DEV_PUBLIC_KEY = DEV_KEYS / "dev-ed25519.pub.pem"

#: an enterprise reading its own account, rating, report, query log and data quality
SELF_READ = "self:read"
#: the organisation of a development caller without ``X-Org`` (auth disabled)
ANONYMOUS = "anonymous"
#: symmetric algorithms (HS*) and ``none`` are never accepted: a public key is not a shared secret
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
SCHEME = "bearer"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name=SCHEME,
    bearerFormat="JWT",
    description="A JWT from the identity provider (development: `bureau token --org … --scope …`). "
    "Claims: `sub`, `org` (bank id, department id or enterprise credit code), `scope` "
    "(space-separated). Roles and scopes: docs/security.md.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: ``authenticated`` is false for the development principal (auth disabled)."""

    subject: str
    org: str
    scopes: frozenset[str]
    authenticated: bool = True

    def has(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def has_any(self, scopes: tuple[str, ...]) -> bool:
        return not scopes or any(self.has(s) for s in scopes)

    def owns(self, org: str) -> bool:
        """True when ``org`` (e.g. a credit code) is the caller's own organisation."""
        return self.org.strip().upper() == org.strip().upper()

    @property
    def anonymous(self) -> bool:
        """A development caller that named no organisation (auth disabled, no ``X-Org``)."""
        return not self.authenticated and self.org == ANONYMOUS

    @property
    def acting_org(self) -> str | None:
        """The organisation to record as the actor, ``None`` for an anonymous development call."""
        return None if self.anonymous else self.org


def _raw_public_key(pem_or_key: Any) -> bytes:
    key = (
        serialization.load_pem_public_key(pem_or_key.encode()) if isinstance(pem_or_key, str) else pem_or_key
    )
    raw: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return raw


class TokenVerifier:
    """Verifies tokens against a PEM public key, a JWKS file or a JWKS URL."""

    def __init__(self, settings: AuthSettings, environment: Environment) -> None:
        self.settings = settings
        unsafe = set(settings.algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe or not settings.algorithms:
            raise ValueError(
                f"auth.algorithms must be asymmetric ({sorted(ASYMMETRIC_ALGORITHMS)}); got {unsafe}"
            )
        self._jwks_client: jwt.PyJWKClient | None = None
        self._jwks: jwt.PyJWKSet | None = None
        self._key: Any = None
        source = settings.jwks_url
        if source and source.startswith(("http://", "https://")):
            self._jwks_client = jwt.PyJWKClient(source, cache_keys=True)
        elif source:
            self._jwks = jwt.PyJWKSet.from_json(Path(source.removeprefix("file://")).read_text())
        else:
            path = Path(settings.public_key_file) if settings.public_key_file else DEV_PUBLIC_KEY
            self._key = path.read_text()
        if not environment.allows_dev_secrets and self._uses_dev_key():
            raise RuntimeError(
                "refusing to start: the development signing key is configured outside development"
            )

    def _uses_dev_key(self) -> bool:
        dev = _raw_public_key(DEV_PUBLIC_KEY.read_text())
        keys: list[Any] = [self._key] if self._key is not None else []
        if self._jwks is not None:
            keys = [k.key for k in self._jwks.keys]
        return any(_raw_public_key(k) == dev for k in keys)

    def _signing_key(self, token: str) -> Any:
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        if self._jwks is not None:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid is None and len(self._jwks.keys) == 1:
                return self._jwks.keys[0].key
            try:
                return self._jwks[str(kid)].key
            except KeyError as exc:
                raise jwt.InvalidKeyError(f"no key with kid {kid!r} in the configured JWKS") from exc
        return self._key

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
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


@dataclass(frozen=True, slots=True)
class AuthRule:
    """What a route needs: any of ``scopes`` (none: any authenticated caller), or — when
    ``own_param`` names a path parameter — the organisation it names holding ``self:read``."""

    scopes: tuple[str, ...]
    own_param: str | None = None


def forbidden(detail: str) -> ProblemError:
    return ProblemError(403, "Forbidden", detail, slug="forbidden")


async def _authenticate(request: Request, creds: HTTPAuthorizationCredentials | None) -> Principal:
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        org = request.headers.get("X-Org", "").strip() or ANONYMOUS
        return Principal(org, org, frozenset({"*"}), authenticated=False)
    if creds is None:
        raise ProblemError(
            401, "Authentication required", "send `Authorization: Bearer <token>`", slug="unauthenticated"
        )
    return verifier.verify(creds.credentials)


def _dependency(rule: AuthRule) -> Any:
    async def dependency(
        request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        principal = await _authenticate(request, creds)
        if principal.has_any(rule.scopes):
            return principal
        own = request.path_params.get(rule.own_param) if rule.own_param else None
        if own is not None and principal.has(SELF_READ) and principal.owns(str(own)):
            return principal
        needs = " or ".join(f"`{s}`" for s in rule.scopes)
        if rule.own_param:
            needs += f" (or `{SELF_READ}` for your own {rule.own_param})"
        raise forbidden(f"this needs {needs}")

    dependency.auth_rule = rule  # type: ignore[attr-defined]
    return dependency


def require(*scopes: str | None) -> Any:
    """A FastAPI dependency: the caller's ``Principal``, holding any of ``scopes`` (none given:
    any authenticated caller). Missing/invalid token: 401; missing scope: 403.

    With auth disabled (development only), the caller is taken from the ``X-Org`` header and
    holds every scope, so the walking skeleton works without tokens.
    """
    return _dependency(AuthRule(tuple(s for s in scopes if s)))


def require_own_or(*scopes: str, param: str = "credit_code") -> Any:
    """Like :func:`require`, but the organisation named by the path parameter ``param`` (an
    enterprise's credit code) may also pass with ``self:read``."""
    return _dependency(AuthRule(tuple(scopes), param))


def check_own(principal: Principal, org: str, what: str = "organisation") -> None:
    """403 unless ``org`` is the caller's own (a no-op for the development principal)."""
    if principal.authenticated and not principal.owns(org):
        raise forbidden(f"you may only act for your own {what} ({principal.org})")


AUTH_RESPONSES: dict[str, dict[str, Any]] = {
    "401": {
        "description": "Missing, expired, forged or otherwise invalid bearer token",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
    "403": {
        "description": "The token lacks the scope, or the resource belongs to another organisation",
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    },
}


def _rules(dependant: Dependant) -> Iterator[AuthRule]:
    rule = getattr(dependant.call, "auth_rule", None)
    if isinstance(rule, AuthRule):
        yield rule
    for sub in dependant.dependencies:
        yield from _rules(sub)


def route_rule(route: Any) -> AuthRule | None:
    """The auth rule an API route declares (through any depth of dependencies), if any."""
    dependant = getattr(route, "dependant", None)
    return None if dependant is None else next(_rules(dependant), None)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route of the app with its effective path, methods and dependencies — including
    routes of included routers, which recent FastAPI versions keep as lazy ``_IncludedRouter``s."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI < 0.16x: included routes are flattened APIRoutes
        yield from (r for r in app.routes if isinstance(r, APIRoute))
        return
    for ctx in iter_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute):
            yield ctx


def document_security(app: FastAPI) -> None:
    """Write each route's required scopes (OR-ed security requirements) and its 401/403 problem
    answers into the app's OpenAPI schema."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        add_problem_schema(schema)
        for route in api_routes(app):
            rule = route_rule(route)
            if rule is None or not route.include_in_schema:
                continue
            alternatives = [[s] for s in rule.scopes] + ([[SELF_READ]] if rule.own_param else [])
            for method in route.methods or ():
                op = schema["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                op["security"] = [{SCHEME: a} for a in alternatives] or [{SCHEME: []}]
                op.setdefault("responses", {})["401"] = AUTH_RESPONSES["401"]
                if alternatives:
                    op["responses"]["403"] = AUTH_RESPONSES["403"]
        return schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to customise the schema


def install_auth(app: FastAPI, settings: AuthSettings, environment: Environment) -> None:
    """Install the token verifier when auth is enabled (else the development principal applies)
    and document the security scheme; call from every service's ``create_app``."""
    app.state.token_verifier = TokenVerifier(settings, environment) if settings.enabled else None
    document_security(app)


# --- bearer tokens in Kafka record headers ---------------------------------------------------------
#: the Kafka record header that carries a producer's bearer JWT (value ``Bearer <token>``)
RECORD_TOKEN_HEADER = "authorization"


def record_token_header(token: str) -> tuple[str, bytes]:
    """The Kafka record header a producer adds to sign its records with ``token``."""
    return RECORD_TOKEN_HEADER, f"Bearer {token}".encode()


class RecordTokenError(ValueError):
    """A Kafka record's token is missing or invalid (``reason`` says which and why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecordTokenVerifier:
    """Verifies the bearer JWT in a Kafka record's headers with the HTTP verifier (same keys,
    algorithms, issuer, audience and expiry rules).

    A producer signs many records with one token, so each verified token is cached (bounded)
    with its expiry; a cached token is accepted only until its ``exp``.
    """

    def __init__(self, verifier: TokenVerifier, max_cached: int = 1024) -> None:
        self._verifier = verifier
        self._max = max_cached
        self._cache: dict[str, tuple[Principal, float]] = {}

    def principal(self, headers: Any) -> Principal | None:
        """The verified principal of the record, ``None`` when it carries no token;
        :class:`RecordTokenError` when the token is malformed, forged or expired."""
        raw = None
        for k, v in headers or ():
            if k.lower() == RECORD_TOKEN_HEADER:
                raw = v
        if raw is None:
            return None
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else str(raw)
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() != SCHEME or not token.strip():
            raise RecordTokenError(f"the `{RECORD_TOKEN_HEADER}` header must be `Bearer <token>`")
        token = token.strip()
        cached = self._cache.get(token)
        if cached is not None:
            if cached[1] > time.time():
                return cached[0]
            del self._cache[token]
            raise RecordTokenError("invalid token: Signature has expired")
        try:
            principal = self._verifier.verify(token)
        except ProblemError as exc:
            raise RecordTokenError(f"invalid token: {exc.problem.detail}") from exc
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]  # verified (required) above
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))  # oldest first
        self._cache[token] = (principal, float(exp))
        return principal
