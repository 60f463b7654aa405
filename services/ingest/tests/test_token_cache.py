"""Verified bearer tokens are remembered until they expire (carbon_common/token_cache.py): a
department's token is verified once, not with every submission — and the cache never lets an
expired, forged or other organisation's token through."""

from __future__ import annotations

import time
from typing import Any

import pytest

from carbon_common.auth import Principal, TokenVerifier, mint_dev_token
from carbon_common.problems import ProblemError
from carbon_common.settings import AuthSettings, Environment
from carbon_common.token_cache import CachingVerifier

DEPT = "stats-140400"


class CountingVerifier:
    def __init__(self) -> None:
        self.inner = TokenVerifier(AuthSettings(enabled=True), Environment.DEVELOPMENT)
        self.calls = 0

    def verify(self, token: str) -> Principal:
        self.calls += 1
        return self.inner.verify(token)


def test_verified_tokens_are_remembered_until_they_expire() -> None:
    inner = CountingVerifier()
    now = [time.time()]
    cache = CachingVerifier(inner, clock=lambda: now[0])
    token = mint_dev_token(DEPT, "submissions:write", ttl_seconds=60)
    assert cache.verify(token).org == DEPT
    assert cache.verify(token).org == DEPT
    assert inner.calls == 1
    now[0] += 61  # past exp: verified again
    cache.verify(token)
    assert inner.calls == 2
    for _ in range(2):  # a refused token is never remembered
        with pytest.raises(ProblemError):
            cache.verify(token + "forged")
    assert inner.calls == 4
    expired = mint_dev_token(DEPT, "submissions:write", ttl_seconds=-60)
    with pytest.raises(ProblemError):
        cache.verify(expired)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"auth": AuthSettings(enabled=True)}


async def test_the_app_verifies_a_department_token_once(client: Any, code: Any, sql: Any) -> None:
    app = client._transport.app
    cache = app.state.token_verifier
    assert isinstance(cache, CachingVerifier)
    counting = CountingVerifier()
    cache.inner = counting
    c = code(71)
    admin = mint_dev_token("bureau", "enterprises:write")
    r = await client.post(
        "/v1/enterprises",
        headers={"Authorization": f"Bearer {admin}"},
        json={
            "credit_code": c,
            "name": "长治市测试有限公司",
            "region_code": "140400",
            "industry_code": "3120",
            "size_class": "large",
            "transition_stage": "mid",
        },
    )
    assert r.status_code in (200, 201), r.text
    token = mint_dev_token(DEPT, "submissions:write")
    for i in range(3):
        body = {"department": DEPT, "records": [{"record_id": f"r{i}", "credit_code": c, "indicator": "energy.raw_coal",
                                                 "period": "2024-03", "value": "1", "unit": "t"}]}  # fmt: skip
        r = await client.post("/v1/submissions", json=body, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    assert counting.calls == 2  # the admin's token once, the department's once for three POSTs
    # the cached principal is still checked: another department's body is refused
    other = {"department": "stats-140300", "records": body["records"]}
    r = await client.post("/v1/submissions", json=other, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
    expired = mint_dev_token(DEPT, "submissions:write", ttl_seconds=-60)
    r = await client.post("/v1/submissions", json=body, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert await sql.fetchval("SELECT count(*) FROM facts") == 3
