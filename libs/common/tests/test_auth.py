"""JWT verification: good tokens pass, bad ones get 401/403 problems, production refuses the dev key."""

from __future__ import annotations

import time

import jwt
import pytest

from carbon_common.auth import DEV_PRIVATE_KEY, TokenVerifier, mint_dev_token
from carbon_common.problems import ProblemError
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
