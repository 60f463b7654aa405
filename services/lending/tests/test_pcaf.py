"""PCAF financed emissions: attribution by hand, the documented fallback, and the figures
arriving as events (accounts from accounting, finance facts from ingest)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select

from carbon_lending.adapters.orm import enterprise_finance
from carbon_lending.adapters.policy_store import load_policies
from carbon_lending.domain.pcaf import (
    Borrower,
    FinanceFact,
    MonthlyAccount,
    annual_revenue,
    attribute,
    debt_plus_equity,
    summarise,
    trailing_emissions,
)

TERMS = load_policies().for_bank("default").pcaf
D = Decimal


def months(first: str, n: int) -> list[str]:
    y, m = (int(x) for x in first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_attribution_and_fallback_by_hand() -> None:
    # A: 12 months × 1,000 t at score 2; debt 30,000 + equity 20,000 (10k CNY) = 500 M CNY
    a_acc = [MonthlyAccount(p, D(1000), None, None, D(2)) for p in months("2024-01", 12)]
    a_fin = [
        FinanceFact("finance.total_debt", "2024-06", D(25000), "10k CNY"),
        FinanceFact("finance.total_debt", "2024-12", D(30000), "10k CNY"),  # the latest counts
        FinanceFact("finance.total_equity", "2024-12", D(20000), "10k CNY"),
    ]
    a = Borrower("A", "4411", trailing_emissions(a_acc), debt_plus_equity(a_fin), annual_revenue(a_fin))
    assert a.emissions is not None and a.emissions.annual_tco2 == D("12000.000")
    assert a.debt_plus_equity_cny == D(500_000_000)
    # B: 6 months × 500 t, scores 3,3,3,5,5,5 (equal weights → 4); no balance sheet;
    # revenue 6 × 1,000 (10k CNY) → 120 M CNY a year × 3.0 (division 44) = 360 M CNY
    b_acc = [
        MonthlyAccount(p, D(500), None, None, D(3) if i < 3 else D(5))
        for i, p in enumerate(months("2024-07", 6))
    ]
    b_fin = [FinanceFact("finance.revenue", p, D(1000), "10k CNY") for p in months("2024-07", 6)]
    b = Borrower("B", "4411", trailing_emissions(b_acc), debt_plus_equity(b_fin), annual_revenue(b_fin))
    assert b.emissions is not None and (b.emissions.annual_tco2, b.emissions.data_quality_score) == (
        D("6000.000"),
        D("4.00"),
    )
    assert b.debt_plus_equity_cny is None and b.annual_revenue_cny == D(120_000_000)

    la = attribute("la", D(50_000_000), a, TERMS)
    lb = attribute("lb", D(36_000_000), b, TERMS)
    lc = attribute("lc", D(14_000_000), Borrower("C", "2520", None, None, None), TERMS)
    assert (la.method, la.factor, la.financed_tco2, la.score) == (
        "debt_plus_equity",
        D("0.1"),
        D("1200.000"),
        D(2),
    )
    assert (lb.method, lb.factor, lb.financed_tco2, lb.score) == (
        "revenue_proxy",
        D("0.1"),
        D("600.000"),
        D(4),
    )
    assert (lc.method, lc.financed_tco2) == ("not_covered", None)

    s = summarise([la, lb, lc])
    assert s["financed_tco2"] == "1800.000"
    # (2 × 50 M + 4 × 36 M) / 86 M = 2.8372… → 2.84
    assert s["weighted_data_quality_score"] == "2.84"
    assert (s["covered_outstanding_cny"], s["uncovered_outstanding_cny"], s["coverage_ratio"]) == (
        "86000000",
        "14000000",
        "0.8600",
    )


def test_window_is_the_trailing_twelve_months_and_factor_is_capped() -> None:
    acc = [
        MonthlyAccount(p, D(100) if p < "2024-01" else D(10), None, None, D(1)) for p in months("2023-01", 24)
    ]
    em = trailing_emissions(acc)
    assert em is not None and (em.annual_tco2, em.months) == (D("120.000"), 12)
    big = attribute(
        "x",
        D(9_000_000),
        Borrower("X", "3110", em, D(1_000_000), None),
        TERMS,
    )
    assert big.factor == D(1) and big.financed_tco2 == D("120.000")


async def test_portfolio_financed_emissions_from_events(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    bank = {"X-Org": f"bank-pcaf-{uuid.uuid4().hex[:6]}"}
    code = await up.rated("light_green")
    await up.publish(
        *(up.account(code, p, "100") for p in months("2024-01", 12)),
        up.fact(code, "finance.total_debt", "2024-12", "1500"),
        up.fact(code, "finance.total_equity", "2024-12", "500"),
        up.fact(code, "energy.raw_coal", "2024-12", "999", unit="t"),  # not lending's business
    )
    q = await client.post(
        "/v1/quotes",
        json={
            "credit_code": code,
            "product": "carbon_linked_loan",
            "amount_cny": "2000000",
            "term_months": 24,
        },
        headers=bank,
    )
    loan = {"quote_id": q.json()["quote_id"], "bank_loan_ref": "P-1", "drawn_amount_cny": "2000000"}
    assert (
        await client.post("/v1/loans", json=loan | {"drawn_on": "2025-01-15"}, headers=bank)
    ).status_code == 201
    fe = (await client.get("/v1/portfolio", headers=bank)).json()["financed_emissions"]
    # 2 M / (15 M + 5 M) = 0.1 × 12 × 100 t = 120 t, at the accounts' score 2
    assert fe["status"] == "available"
    assert (fe["financed_tco2"], fe["weighted_data_quality_score"], fe["coverage_ratio"]) == (
        "120.000",
        "2.00",
        "1.0000",
    )
    assert fe["by_method"]["debt_plus_equity"]["loans"] == 1
    async with container.uow() as uow:
        kept = (
            await uow.session.execute(
                select(enterprise_finance.c.indicator).where(enterprise_finance.c.credit_code == code)
            )
        ).scalars()
        assert sorted(kept) == ["finance.total_debt", "finance.total_equity"]
    # a bank without loans to covered borrowers sees nothing attributed, and nothing of bank A's
    other = (await client.get("/v1/portfolio", headers={"X-Org": "bank-pcaf-empty"})).json()
    assert other["financed_emissions"]["status"] == "unavailable"
    assert other["financed_emissions"]["financed_tco2"] == "0"
