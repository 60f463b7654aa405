"""KPI-linked margin ratchet: targets agreed at the quote, observed on the borrower's carbon
account, −/+ one step per KPI met/missed within caps, from the next interest period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from carbon_lending.adapters.policy_store import load_policies
from carbon_lending.domain.loan import LoanState, evaluate_kpis
from carbon_lending.domain.ratchet import KpiTarget, kpi_ratchet_bp

POLICY = load_policies().for_bank("default")
TERMS = POLICY.products["carbon_linked_loan"].ratchet
D = Decimal
A = {"X-Org": "bank-kpi-a"}


def test_kpi_ratchet_by_hand() -> None:
    assert TERMS is not None  # step 10 bp, caps ±25 bp
    two = (KpiTarget("total_tco2", D(1000)), KpiTarget("intensity_per_output", D("0.5")))
    assert kpi_ratchet_bp(TERMS, two, {"total_tco2": D(900), "intensity_per_output": D("0.4")}) == D(-20)
    assert kpi_ratchet_bp(TERMS, two, {"total_tco2": D(1000), "intensity_per_output": D("0.6")}) == D(0)
    assert kpi_ratchet_bp(TERMS, two, {"total_tco2": D(1001), "intensity_per_output": None}) == D(10)
    three = (*two, KpiTarget("total_tco2", D(10)))
    assert kpi_ratchet_bp(TERMS, three, {"total_tco2": D(2000), "intensity_per_output": D(9)}) == D(25)  # cap


def test_evaluate_kpis_moves_from_the_next_period() -> None:
    from datetime import date

    loan = LoanState(
        loan_id="l",
        bank_id="b",
        credit_code="c",
        product="carbon_linked_loan",
        outstanding=D(1),
        drawn_on=date(2025, 1, 15),
        status="performing",
        rate_pct=D("3.3000"),
        origin_bp=D(330),
        ratchet_bp=D(0),
        origin_label="light_green",
        current_label="light_green",
        kpi_targets=(KpiTarget("total_tco2", D(1000)),),
        rating_id="r1",
    )
    rep = evaluate_kpis(loan, {"total_tco2": D(1200)}, POLICY, date(2025, 2, 10))
    assert rep is not None
    assert (rep.effective_from, rep.new_rate_pct, rep.ratchet_bp, rep.basis) == (
        date(2025, 4, 15),
        D("3.4000"),
        D(10),
        "kpi",
    )
    assert evaluate_kpis(loan, {"total_tco2": None}, POLICY, date(2025, 2, 10)) is None


async def test_kpi_loan_reprices_on_accounts_not_on_labels(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("light_green")
    kpis = [{"metric": "total_tco2", "target": "1000"}]
    q = await client.post(
        "/v1/quotes",
        json={
            "credit_code": code,
            "product": "carbon_linked_loan",
            "amount_cny": "2000000",
            "term_months": 24,
            "kpi_targets": kpis,
        },
        headers=A,
    )
    assert q.status_code == 201, q.text
    quote = q.json()
    assert quote["ratchet_start"]["basis"] == "kpi"
    assert quote["ratchet_start"]["kpi_targets"] == kpis
    assert quote["annual_rate_pct"] == "3.3000"  # 300 + 60 − 30 bp, no KPI observed yet
    r = await client.post(
        "/v1/loans",
        json={
            "quote_id": quote["quote_id"],
            "bank_loan_ref": "K-1",
            "drawn_amount_cny": "2000000",
            "drawn_on": "2025-01-15",
        },
        headers=A,
    )
    loan_id = r.json()["loan_id"]
    assert r.json()["kpi_targets"] == kpis
    # 12 × 100 t = 1,200 t > 1,000: missed → +10 bp from the next quarterly period (2025-04-15)
    await up.publish(*(up.account(code, p, "100") for p in up.months("2024-01", 12)))
    loan = (await client.get(f"/v1/loans/{loan_id}", headers=A)).json()
    assert loan["ratchet_bp"] == "10.00"
    assert loan["current_rate_pct"] == "3.3000"  # not in the current period
    assert loan["rate_changes"] == [
        {
            "effective_from": "2025-04-15",
            "rate_pct": "3.4000",
            "ratchet_bp": "10.00",
            "rating_id": loan["rating_id"],
        }
    ]
    # a red label would move a label-linked loan +25 bp; this one only gets the downgrade alert
    await up.publish(up.rating(code, "red", issued_at=datetime(2025, 2, 8, tzinfo=UTC)))
    loan = (await client.get(f"/v1/loans/{loan_id}", headers=A)).json()
    assert loan["ratchet_bp"] == "10.00"
    events = (await client.get("/v1/loan-events", params={"loan_id": loan_id}, headers=A)).json()["items"]
    assert [(e["type"], e.get("basis")) for e in events] == [("repriced", "kpi"), ("downgrade", None)]
    # restated accounts: 12 × 80 t = 960 t ≤ 1,000: met → −10 bp, replacing the pending change
    await up.publish(*(up.account(code, p, "80", version=2) for p in up.months("2024-01", 12)))
    loan = (await client.get(f"/v1/loans/{loan_id}", headers=A)).json()
    assert loan["ratchet_bp"] == "-10.00"
    assert [(c["effective_from"], c["rate_pct"]) for c in loan["rate_changes"]] == [("2025-04-15", "3.2000")]


async def test_kpi_targets_need_a_ratcheted_product(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("light_green")
    r = await client.post(
        "/v1/quotes",
        json={
            "credit_code": code,
            "product": "green_loan",
            "amount_cny": "2000000",
            "term_months": 24,
            "kpi_targets": [{"metric": "total_tco2", "target": "1000"}],
        },
        headers=A,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "kpi_targets"
