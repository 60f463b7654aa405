"""JWT verification: good tokens pass, bad ones get 401/403 problems, production refuses the dev key."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, FastAPI

from carbon_common.auth import (
    DEV_PRIVATE_KEY,
    DEV_PUBLIC_KEY,
    SELF_READ,
    Principal,
    TokenVerifier,
    install_auth,
    mint_dev_token,
    require,
    require_own_or,
)
from carbon_common.problems import ProblemError, install_problem_handlers
from carbon_common.settings import AuthSettings, Environment


def verifier() -> TokenVerifier:
    return TokenVerifier(AuthSettings(enabled=True), Environment.DEVELOPMENT)


def test_dev_token_round_trip() -> None:
    p = verifier().verify(mint_dev_token("bank-a", "quotes:write ratings:read"))
    assert p.org == "bank-a" and p.has("quotes:write") and not p.has("loans:write")


@pytest.mark.parametrize(
    ("claims", "needle"),
    [
        ({"exp": int(time.time()) - 10}, "expired"),
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "evil"}, "issuer"),
    ],
)
def test_bad_claims_are_rejected(claims: dict[str, object], needle: str) -> None:
    base = {
        "sub": "x",
        "org": "bank-a",
        "scope": "",
        "iss": "carbon-bureau-dev",
        "aud": "carbon-bureau",
        "exp": int(time.time()) + 60,
    }
    token = jwt.encode(base | claims, DEV_PRIVATE_KEY.read_text(), algorithm="EdDSA")
    with pytest.raises(ProblemError) as err:
        verifier().verify(token)
    assert err.value.problem.status == 401 and needle in (err.value.problem.detail or "").lower()


def test_tampered_token_is_rejected() -> None:
    token = mint_dev_token("bank-a", "quotes:write")
    head, body, sig = token.split(".")
    with pytest.raises(ProblemError):
        verifier().verify(f"{head}.{body}.{sig[::-1]}")


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(RuntimeError, match="development signing key"):
        TokenVerifier(AuthSettings(enabled=True), Environment.PRODUCTION)


# --- key sources and algorithms ---------------------------------------------------------------------


def _rsa() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    base = {"sub": "u", "org": "bank-a", "scope": "loans:write", "iss": "idp", "aud": "carbon-bureau"}
    return base | {"exp": now + 60} | over


def test_rs256_from_a_jwks_file_selected_by_kid(tmp_path: Path) -> None:
    private, public = _rsa()
    other_private, other_public = _rsa()
    jwks = {
        "keys": [
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(serialization.load_pem_public_key(p.encode())))
            | {"kid": kid, "alg": "RS256"}
            for kid, p in (("k1", public), ("k2", other_public))
        ]
    }
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    v = TokenVerifier(
        AuthSettings(enabled=True, issuer="idp", jwks_url=str(tmp_path / "jwks.json")), Environment.PRODUCTION
    )
    good = jwt.encode(_claims(), other_private, algorithm="RS256", headers={"kid": "k2"})
    assert v.verify(good).org == "bank-a"
    wrong_kid = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k2"})
    unknown_kid = jwt.encode(_claims(), private, algorithm="RS256", headers={"kid": "k9"})
    for token in (wrong_kid, unknown_kid):
        with pytest.raises(ProblemError) as err:
            v.verify(token)
        assert err.value.problem.status == 401


def test_production_refuses_the_development_key_in_a_jwks_or_reformatted_pem(tmp_path: Path) -> None:
    dev = serialization.load_pem_public_key(DEV_PUBLIC_KEY.read_bytes())
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(dev))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (tmp_path / "dev.pem").write_text("\n" + DEV_PUBLIC_KEY.read_text() + "\n\n")
    for settings in (
        AuthSettings(enabled=True, jwks_url=f"file://{tmp_path / 'jwks.json'}"),
        AuthSettings(enabled=True, public_key_file=str(tmp_path / "dev.pem")),
    ):
        with pytest.raises(RuntimeError, match="development signing key"):
            TokenVerifier(settings, Environment.PRODUCTION)


def test_symmetric_and_unsigned_algorithms_are_refused() -> None:
    for algorithms in (["HS256"], ["none"], ["EdDSA", "HS512"], []):
        with pytest.raises(ValueError, match="asymmetric"):
            TokenVerifier(AuthSettings(enabled=True, algorithms=algorithms), Environment.DEVELOPMENT)
    # an HS256 token "signed" with the public key text is not accepted either
    forged = jwt.encode(
        _claims(iss="carbon-bureau-dev"), "a-shared-secret-someone-guessed-0123456789", algorithm="HS256"
    )
    with pytest.raises(ProblemError):
        verifier().verify(forged)


def test_a_token_without_org_is_rejected() -> None:
    token = jwt.encode(
        _claims(iss="carbon-bureau-dev", org=""), DEV_PRIVATE_KEY.read_text(), algorithm="EdDSA"
    )
    with pytest.raises(ProblemError, match="org"):
        verifier().verify(token)


# --- the FastAPI dependencies and the OpenAPI documentation ---------------------------------------


def _app(enabled: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/things", dependencies=[Depends(require("things:read"))])
    async def things() -> dict[str, str]:
        return {}

    @app.get("/v1/enterprises/{credit_code}")
    async def own(
        credit_code: str, p: Annotated[Principal, Depends(require_own_or("audit:read"))]
    ) -> dict[str, object]:
        return {"org": p.org, "authenticated": p.authenticated}

    @app.get("/v1/open", dependencies=[Depends(require())])
    async def open_() -> dict[str, str]:
        return {}

    install_problem_handlers(app)
    install_auth(app, AuthSettings(enabled=enabled), Environment.DEVELOPMENT)
    return app


async def test_dependencies_answer_401_403_or_pass() -> None:
    transport = httpx.ASGITransport(app=_app(enabled=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:

        def auth(org: str, scopes: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {mint_dev_token(org, scopes)}"}

        assert (await c.get("/v1/things")).status_code == 401
        assert (await c.get("/v1/things", headers={"X-Org": "bank-a"})).status_code == 401
        r = await c.get("/v1/things", headers=auth("bank-a", "loans:write"))
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert (await c.get("/v1/things", headers=auth("bank-a", "things:read"))).status_code == 200
        assert (await c.get("/v1/open", headers=auth("bank-a", ""))).status_code == 200
        me = auth("91140400MA0GRE0A0X", SELF_READ)
        assert (await c.get("/v1/enterprises/91140400MA0GRE0A0X", headers=me)).status_code == 200
        assert (await c.get("/v1/enterprises/91140400MA0GRE0B0X", headers=me)).status_code == 403
        assert (await c.get("/v1/enterprises/x", headers=auth("x", "audit:read"))).status_code == 200


async def test_disabled_auth_takes_the_caller_from_x_org() -> None:
    transport = httpx.ASGITransport(app=_app(enabled=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/v1/enterprises/E", headers={"X-Org": "bank-a"})
        assert r.json() == {"org": "bank-a", "authenticated": False}
        assert (await c.get("/v1/things")).status_code == 200


def test_openapi_documents_scopes_as_alternatives_and_problem_answers() -> None:
    schema = _app(enabled=False).openapi()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    own = schema["paths"]["/v1/enterprises/{credit_code}"]["get"]
    assert own["security"] == [{"bearer": ["audit:read"]}, {"bearer": [SELF_READ]}]
    assert {"401", "403"} <= set(own["responses"])
    open_ = schema["paths"]["/v1/open"]["get"]
    assert open_["security"] == [{"bearer": []}] and "403" not in open_["responses"]
    assert "Problem" in schema["components"]["schemas"]
