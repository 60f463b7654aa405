"""The walking skeleton over HTTP: events in (enterprise, rating) → quote → LoanQuoted out."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from carbon_common.events import Topics, decode
from carbon_common.events.contracts import EVENT_TYPES

BANK_A = {"X-Org": "bank-a"}
BANK_B = {"X-Org": "bank-b"}


def body(code: str, **extra: object) -> dict[str, object]:
    return {"credit_code": code, "product": "green_loan", "amount_cny": "5000000", "term_months": 36} | extra


async def test_quote_reflects_rating_label_and_emits_loan_quoted(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, bus, client = app_env
    rates = {}
    for label in ("dark_green", "light_green", "yellow", "red"):
        code = await up.rated(label)
        r = await client.post("/v1/quotes", json=body(code), headers=BANK_A)
        assert r.status_code == 201, r.text
        q = r.json()
        rates[label] = Decimal(q["annual_rate_pct"])
        assert q["rating"]["label"] == label
        assert q["components"]["base_rate_source"].startswith("configured 1-year LPR")
    # LPR 3.00 % + 50 bp spread + label adjustment (-55/-30/0/+50 bp), no purpose → no subsidy/refinancing
    assert rates == {
        "dark_green": Decimal("2.9500"),
        "light_green": Decimal("3.2000"),
        "yellow": Decimal("3.5000"),
        "red": Decimal("4.0000"),
    }
    await container.runtime.relay.relay_once()
    published = [decode(r.value, r.headers, EVENT_TYPES) for r in bus.records(Topics.LOANS)]
    quoted = [e.data for e in published if e.type.endswith("loan.quoted.v1")]
    assert {q.label for q in quoted} >= {"dark_green", "red"}
    assert all(q.bank_id == "bank-a" for q in quoted)


async def test_dark_green_with_classified_purpose_gets_170bp_advantage(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    green = await up.rated("dark_green")
    unrated = up.code()
    await up.publish(up.enterprise(unrated))
    g = (await client.post("/v1/quotes", json=body(green, activity_code="G-3.2"), headers=BANK_A)).json()
    u = (await client.post("/v1/quotes", json=body(unrated), headers=BANK_A)).json()
    # 300 + 50 − 55 − 100 (subsidy) − 0.60×(3.00−1.75)×0.20×100 = 15 (refinancing) = 180 bp
    assert g["annual_rate_pct"] == "1.8000"
    assert g["components"]["subsidy_bp"] == "100"
    assert g["components"]["pboc_refinancing_bp"] == "15.00"
    assert g["approval"]["track"] == "fast_track"
    assert (Decimal(u["annual_rate_pct"]) - Decimal(g["annual_rate_pct"])) * 100 == 170
    assert u["approval"]["track"] == "manual_review"
    assert "no carbon credit rating" in " ".join(u["approval"]["reasons"])
    assert u["rating"] is None


async def test_older_rating_arriving_late_is_ignored(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = up.code()
    newer = up.rating(code, "dark_green", issued_at=datetime(2025, 2, 5, tzinfo=UTC))
    older = up.rating(code, "red", issued_at=datetime(2025, 1, 5, tzinfo=UTC))
    await up.publish(up.enterprise(code), newer)
    await up.publish(older)
    q = (await client.post("/v1/quotes", json=body(code), headers=BANK_A)).json()
    assert q["rating"]["rating_id"] == newer.rating_id


async def test_unknown_enterprise_is_404_problem(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    r = await client.post("/v1/quotes", json=body(up.code()), headers=BANK_A)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "credit_code"


async def test_idempotency_key_returns_same_quote_and_creates_one(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    code = await up.rated("light_green")
    headers = BANK_A | {"Idempotency-Key": f"k-{code}"}
    first = await client.post("/v1/quotes", json=body(code), headers=headers)
    second = await client.post("/v1/quotes", json=body(code), headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    async with container.uow() as uow:
        from sqlalchemy import func, select, text

        from carbon_lending.adapters.orm import quotes

        n = (await uow.session.execute(select(func.count()).where(quotes.c.credit_code == code))).scalar_one()
        assert n == 1
        events = (await uow.session.execute(text("SELECT key FROM outbox_records"))).scalars().all()
        assert events.count(code.encode()) == 1
    other = await client.post("/v1/quotes", json=body(code, term_months=24), headers=headers)
    assert other.status_code == 409


async def test_other_bank_cannot_read_quote(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("yellow")
    q = (await client.post("/v1/quotes", json=body(code), headers=BANK_A)).json()
    assert (await client.get(f"/v1/quotes/{q['quote_id']}", headers=BANK_A)).json() == q
    assert (await client.get(f"/v1/quotes/{q['quote_id']}", headers=BANK_B)).status_code == 404
    assert (await client.get(f"/v1/quotes/{q['quote_id']}")).status_code == 401


async def test_bad_input(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("yellow")
    cases = [
        (body(code, product="moon_loan"), 422, "product"),
        (body(code, amount_cny="0"), 422, "amount_cny"),
        (body(code, amount_cny="900000000"), 422, "amount_cny"),
        (body(code, term_months=2), 422, "term_months"),
        (body(code, product="allowance_pledge_loan", term_months=12), 422, "collateral.allowance_quantity_t"),
        (body(code, purpose="a new office building"), 422, "purpose"),
    ]
    for payload, status, fld in cases:
        r = await client.post("/v1/quotes", json=payload, headers=BANK_A)
        assert r.status_code == status, (payload, r.text)
        assert r.json()["errors"][0]["field"] == fld
    unrated = up.code()
    await up.publish(up.enterprise(unrated))
    r = await client.post("/v1/quotes", json=body(unrated, product="rating_credit_loan"), headers=BANK_A)
    assert r.status_code == 409
    assert "no rating yet" in r.json()["detail"]
