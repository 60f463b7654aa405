"""The walking skeleton, one fact end to end, as a scenario that runs on any deployment.

``api`` maps each service to the URL prefix where it answers: ``http://127.0.0.1:8001`` on the
real stack, ``/ingest`` behind the embedded host. The same assertions hold on both.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from stdnum.cn import uscc

T = TypeVar("T")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
RAW_COAL_EF = Decimal("1.9003")  # tCO2/t, shared/reference/domain-data.md §3
EXPECTED_SIGN = {"dark_green": -1, "light_green": -1, "yellow": 0, "red": 1}
_rng = random.Random()


def new_credit_code(region: str = "140400") -> str:
    """A fresh, valid 18-character USCC in ``region`` (check character from python-stdnum)."""
    body = "91" + region + "".join(_rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc.calc_check_digit(body)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 90.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy (eventual consistency across services)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    last: Any = None
    while loop.time() < end:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}")


def enterprise(code: str, industry: str = "4411") -> dict[str, Any]:
    return {
        "credit_code": code,
        "name": "长治市测试热电有限公司",
        "region_code": "140400",
        "industry_code": industry,
        "size_class": "large",
        "transition_stage": "mid",
        "ets_participant": True,
    }


@dataclass
class SkeletonResult:
    credit_code: str
    account: dict[str, Any]
    rating: dict[str, Any]
    rated_quote: dict[str, Any]
    unrated_quote: dict[str, Any]


async def register(client: httpx.AsyncClient, api: dict[str, str], code: str) -> None:
    r = await client.post(f"{api['ingest']}/v1/enterprises", json=enterprise(code))
    assert r.status_code in (200, 201), r.text


async def submit_raw_coal(
    client: httpx.AsyncClient, api: dict[str, str], code: str, tonnes: str = "1000"
) -> None:
    """One good raw-coal record between two bad ones; only the good one is accepted."""
    body = {
        "department": "stats-140400",
        "records": [
            {"record_id": f"{code}-bad-indicator", "credit_code": code, "indicator": "energy.unobtainium",
             "period": "2024-01", "value": "5", "unit": "t"},
            {"record_id": f"{code}-coal-2024-01", "credit_code": code, "indicator": "energy.raw_coal",
             "period": "2024-01", "value": tonnes, "unit": "t"},
            {"record_id": f"{code}-bad-code", "credit_code": code[:-1] + ("0" if code[-1] != "0" else "1"),
             "indicator": "energy.raw_coal", "period": "2024-01", "value": "5", "unit": "t"},
        ],
    }  # fmt: skip
    r = await client.post(f"{api['ingest']}/v1/submissions", json=body)
    assert r.status_code in (200, 201, 202), r.text
    out = r.json()
    assert out["accepted"] == 1, out
    rejected = {x["record_id"]: x for x in out["rejected"]}
    assert rejected[f"{code}-bad-indicator"]["field"] == "indicator"
    assert rejected[f"{code}-bad-code"]["field"] == "credit_code"
    assert all(x["reason"] for x in rejected.values())
    again = await client.get(f"{api['ingest']}/v1/submissions/{out['submission_id']}")
    assert again.status_code == 200 and again.json()["accepted"] == 1


async def account_for(client: httpx.AsyncClient, api: dict[str, str], code: str) -> dict[str, Any] | None:
    r = await client.get(
        f"{api['accounting']}/v1/accounts/{code}", params={"from": "2024-01", "to": "2024-01"}
    )
    if r.status_code != 200:
        return None
    items = [i for i in r.json()["items"] if i["period"] == "2024-01"]
    return items[0] if items else None


async def quote(client: httpx.AsyncClient, api: dict[str, str], code: str) -> dict[str, Any]:
    r = await client.post(
        f"{api['lending']}/v1/quotes",
        headers={"X-Org": "bank-a"},
        json={"credit_code": code, "product": "green_loan", "amount_cny": "10000000", "term_months": 36},
    )
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def components_sum(q: dict[str, Any]) -> Decimal:
    c = q["components"]
    bp = sum(Decimal(v) for k, v in c.items() if k.endswith("_bp"))
    return (Decimal(c["base_rate_pct"]) + bp / 100).quantize(Decimal("0.0001"))


async def run_skeleton(client: httpx.AsyncClient, api: dict[str, str]) -> SkeletonResult:
    code, unrated = new_credit_code(), new_credit_code()
    await register(client, api, code)
    await register(client, api, unrated)
    await submit_raw_coal(client, api, code)

    async def account_ready() -> dict[str, Any] | None:
        a = await account_for(client, api, code)
        return a if a and Decimal(a["scope1_combustion_tco2"]) > 0 else None

    account = await eventually(account_ready, what="the 2024-01 carbon account")
    assert Decimal(account["scope1_combustion_tco2"]) == Decimal(1000) * RAW_COAL_EF

    async def rating_ready() -> dict[str, Any] | None:
        r = await client.get(f"{api['rating']}/v1/ratings/{code}", headers={"X-Org": "bank-a"})
        return dict(r.json()) if r.status_code == 200 else None

    rating = await eventually(rating_ready, what="the first rating")
    assert 0 <= Decimal(rating["score"]) <= 100 and rating["label"] in EXPECTED_SIGN

    async def lending_knows_rating() -> dict[str, Any] | None:
        q = await quote(client, api, code)
        return q if q["rating"] and q["rating"]["rating_id"] == rating["rating_id"] else None

    rated = await eventually(lending_knows_rating, what="lending's read model of the rating")
    unrated_q = await quote(client, api, unrated)
    return SkeletonResult(code, account, rating, rated, unrated_q)


def assert_quote_reflects_rating(result: SkeletonResult) -> None:
    rated, unrated, label = result.rated_quote, result.unrated_quote, result.rating["label"]
    assert rated["rating"]["label"] == label
    assert unrated["rating"] is None and Decimal(unrated["components"]["rating_adjustment_bp"]) == 0
    adj = Decimal(rated["components"]["rating_adjustment_bp"])
    assert (adj > 0) - (adj < 0) == EXPECTED_SIGN[label], (label, adj)
    for q in (rated, unrated):
        assert Decimal(q["annual_rate_pct"]) == components_sum(q)
    if EXPECTED_SIGN[label] < 0:
        assert Decimal(rated["annual_rate_pct"]) < Decimal(unrated["annual_rate_pct"])
