"""Loans booked from quotes: registration, tenancy, status, ratchet repricing, margin calls, portfolio."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

A = {"X-Org": "bank-loans-a"}
B = {"X-Org": "bank-loans-b"}


async def book(
    client, code: str, product: str = "carbon_linked_loan", headers=A, ref: str | None = None, **extra
):  # type: ignore[no-untyped-def]
    q = await client.post(
        "/v1/quotes",
        json={"credit_code": code, "product": product, "amount_cny": "2000000", "term_months": 24} | extra,
        headers=headers,
    )
    assert q.status_code == 201, q.text
    quote = q.json()
    r = await client.post(
        "/v1/loans",
        json={
            "quote_id": quote["quote_id"],
            "bank_loan_ref": ref or f"L-{quote['quote_id'][:8]}",
            "drawn_amount_cny": "2000000",
            "drawn_on": "2025-01-15",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return quote, r.json()


async def test_register_loan_tenancy_and_retry(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("light_green")
    quote, loan = await book(client, code, ref="REF-1")
    assert loan["current_rate_pct"] == quote["annual_rate_pct"] == "3.3000"
    retry = await client.post(
        "/v1/loans",
        json={
            "quote_id": quote["quote_id"],
            "bank_loan_ref": "REF-1",
            "drawn_amount_cny": "2000000",
            "drawn_on": "2025-01-15",
        },
        headers=A,
    )
    assert retry.status_code == 200 and retry.json()["loan_id"] == loan["loan_id"]
    # bank B cannot read, list, change or book on bank A's business
    assert (await client.get(f"/v1/loans/{loan['loan_id']}", headers=B)).status_code == 404
    assert (await client.get("/v1/loans", params={"credit_code": code}, headers=B)).json()["items"] == []
    assert (
        await client.post(f"/v1/loans/{loan['loan_id']}/status", json={"status": "overdue"}, headers=B)
    ).status_code == 404
    stolen = await client.post(
        "/v1/loans",
        json={
            "quote_id": quote["quote_id"],
            "bank_loan_ref": "X",
            "drawn_amount_cny": "1",
            "drawn_on": "2025-01-15",
        },
        headers=B,
    )
    assert stolen.status_code == 404
    assert (await client.get("/v1/portfolio", headers=B)).json()["total"]["loans"] == 0
    listed = (await client.get("/v1/loans", params={"credit_code": code}, headers=A)).json()["items"]
    assert [x["loan_id"] for x in listed] == [loan["loan_id"]]


async def test_expired_quote_and_status_rules(app_env, up, clock) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("yellow")
    q = (
        await client.post(
            "/v1/quotes",
            json={"credit_code": code, "product": "green_loan", "amount_cny": "1000000", "term_months": 12},
            headers=A,
        )
    ).json()
    clock.now = clock.now + timedelta(days=31)
    r = await client.post(
        "/v1/loans",
        json={
            "quote_id": q["quote_id"],
            "bank_loan_ref": "EXP",
            "drawn_amount_cny": "1000000",
            "drawn_on": "2025-03-01",
        },
        headers=A,
    )
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    clock.now = clock.now - timedelta(days=31)
    # an indicative green-loan quote (no classified purpose) cannot be booked
    r = await client.post(
        "/v1/loans",
        json={
            "quote_id": q["quote_id"],
            "bank_loan_ref": "NOPURPOSE",
            "drawn_amount_cny": "1000000",
            "drawn_on": "2025-03-01",
        },
        headers=A,
    )
    assert r.status_code == 409 and "classified" in r.json()["detail"]
    _, loan = await book(client, code, product="green_loan", activity_code="G-3.2")
    url = f"/v1/loans/{loan['loan_id']}/status"
    assert (await client.post(url, json={"status": "repaid"}, headers=A)).json()["outstanding_cny"] == "0.00"
    bad = await client.post(url, json={"status": "overdue"}, headers=A)
    assert bad.status_code == 409 and "repaid" in bad.json()["detail"]


async def test_downgrade_then_upgrade_reprices_within_caps_from_next_period(app_env, up, clock) -> None:  # type: ignore[no-untyped-def]
    container, bus, client = app_env
    code = await up.rated("light_green", issued_at=datetime(2025, 1, 1, tzinfo=UTC))
    _, loan = await book(client, code)  # 300 + 60 − 30 = 3.30 %, drawn 2025-01-15, quarterly periods
    await up.publish(up.rating(code, "red", issued_at=datetime(2025, 2, 5, tzinfo=UTC)))
    got = (await client.get(f"/v1/loans/{loan['loan_id']}", headers=A)).json()
    assert got["current_rate_pct"] == "3.3000"  # not in the current period
    assert got["rate_changes"] == [
        {
            "effective_from": "2025-04-15",
            "rate_pct": "3.5000",
            "ratchet_bp": "20.00",
            "rating_id": got["rating_id"],
        }
    ]
    await up.publish(up.rating(code, "dark_green", issued_at=datetime(2025, 2, 8, tzinfo=UTC)))
    clock.now = datetime(2025, 4, 20, tzinfo=UTC)
    got = (await client.get(f"/v1/loans/{loan['loan_id']}", headers=A)).json()
    assert (
        got["current_rate_pct"] == "3.2000"
    )  # −10 bp from 2025-04-15, the upgrade replaced the pending change
    assert len(got["rate_changes"]) == 1
    events = (await client.get("/v1/loan-events", params={"loan_id": loan["loan_id"]}, headers=A)).json()[
        "items"
    ]
    assert [e["type"] for e in events] == ["repriced", "downgrade", "repriced"]
    assert (await client.get("/v1/loan-events", params={"loan_id": loan["loan_id"]}, headers=B)).json()[
        "items"
    ] == []
    await container.runtime.relay.relay_once()
    types = [
        dict(r.headers)["ce_type"].decode() for r in bus.records("lending.loans.v1") if r.key == code.encode()
    ]
    assert types.count("cn.carbonbureau.lending.loan.repriced.v1") == 2
    assert types.count("cn.carbonbureau.lending.loan.alert.v1") == 1


async def test_cea_price_fall_raises_exactly_one_margin_call(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("yellow")
    _, loan = await book(
        client,
        code,
        product="allowance_pledge_loan",
        term_months=12,
        collateral={"allowance_quantity_t": "60000", "compliance_gap_share": "0.1"},
    )
    # coverage threshold 1.20 × 2,000,000 / 60,000 t = 40.00 CNY/t
    raised = []
    for price in ("45.00", "39.00", "38.00"):
        r = await client.post(
            "/v1/market/cea-price", json={"price_cny": price, "as_of": "2025-02-10"}, headers=A
        )
        raised.append(r.json()["margin_calls_raised"])
    events = (
        await client.get(
            "/v1/loan-events", params={"loan_id": loan["loan_id"], "kind": "margin_call"}, headers=A
        )
    ).json()
    assert len(events["items"]) == 1
    assert raised == [0, 1, 0]
    assert (await client.get(f"/v1/loans/{loan['loan_id']}", headers=A)).json()["margin_call_open"] is True


async def test_portfolio_by_label_weighted_rate_and_npl(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    headers = {"X-Org": "bank-portfolio"}
    dark = await up.rated("dark_green")
    yellow = await up.rated("yellow")
    unrated = up.code()
    await up.publish(up.enterprise(unrated))
    await book(client, dark, product="transition_loan", headers=headers)  # 300 + 80 − 55 bp: 3.25 %
    await book(client, yellow, product="transition_loan", headers=headers)  # 300 + 80 bp: 3.80 %
    _, bad = await book(client, unrated, product="transition_loan", headers=headers)  # 3.80 %, unrated
    url = f"/v1/loans/{bad['loan_id']}/status"
    await client.post(url, json={"status": "overdue"}, headers=headers)
    await client.post(url, json={"status": "non_performing"}, headers=headers)
    p = (await client.get("/v1/portfolio", headers=headers)).json()
    assert p["total"]["loans"] == 3
    assert p["total"]["outstanding_cny"] == "6000000.00"
    # (3.25 + 3.80 + 3.80) / 3 at equal balances = 3.61666… → 3.6167
    assert p["total"]["weighted_rate_pct"] == "3.6167"
    assert set(p["by_label"]) == {"dark_green", "yellow", "unrated"}
    assert p["rated_vs_unrated"]["unrated"]["npl_ratio"] == "1.0000"
    assert p["rated_vs_unrated"]["rated"]["npl_ratio"] == "0.0000"
    assert Decimal(p["rated_vs_unrated"]["rated"]["avg_approval_sla_days"]) < Decimal(
        p["rated_vs_unrated"]["unrated"]["avg_approval_sla_days"]
    )
    assert p["financed_emissions"]["status"] == "unavailable"
