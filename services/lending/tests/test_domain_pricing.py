"""Pricing tables, hand-computed: every product × label against the packaged default policy.

Hand computation (default.yaml): LPR 3.00 % = 300 bp; spreads green 50, carbon-linked 60,
pledge 40, transition 80, rating-credit 90 bp; label adjustments −55 / −30 / 0 / +50 bp;
subsidy 100 bp (dark/light green with a subsidy-eligible purpose); PBOC refinancing pass-through
0.60 × (3.00 − 1.75) × 0.20 = 0.15 pp = 15 bp (refinancing-eligible purpose); floor 1.50 %.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from carbon_lending.adapters.policy_store import load_catalogue, load_policies
from carbon_lending.domain.classification import classify
from carbon_lending.domain.errors import Conflict, InvalidRequest
from carbon_lending.domain.model import Enterprise, Rating
from carbon_lending.domain.pricing import Collateral, QuoteRequest, price_quote

POLICY = load_policies().for_bank("any-bank")
CATALOGUE = load_catalogue()
NOW = datetime(2025, 3, 1, tzinfo=UTC)
ENT = Enterprise("91140400MA0LCNXY5B", "E", "4411", "140400", "large", "mid")
BIG = Decimal(10**9)


def rating(label: str, confidence: str = "0.9", vetoes: tuple[str, ...] = (), stage: str = "mid") -> Rating:
    return Rating(
        "r1", ENT.credit_code, Decimal(70), label, Decimal(confidence), "m@1", NOW, "2025-01", stage, vetoes
    )  # type: ignore[arg-type]


def quote(product: str, label: str | None, *, amount: str = "2000000", term: int = 24, **kw):  # type: ignore[no-untyped-def]
    req = QuoteRequest(
        "bank",
        ENT.credit_code,
        product,
        Decimal(amount),
        term,
        kw.pop("base", None),
        kw.pop("collateral", None),
    )
    ent = kw.pop("enterprise", ENT)
    cls = kw.pop("classification", None)
    r = rating(label, **kw) if label else None
    return price_quote(req, ent, r, POLICY, classification=cls, subsidy_budget_left=BIG, now=NOW)


# (product, label) → hand-computed rate in %, no purpose given (no subsidy, no refinancing)
TABLE = {
    ("green_loan", "dark_green"): "2.9500",  # 300 + 50 − 55
    ("green_loan", "light_green"): "3.2000",  # 300 + 50 − 30
    ("green_loan", "yellow"): "3.5000",
    ("green_loan", "red"): "4.0000",  # 300 + 50 + 50
    ("carbon_linked_loan", "dark_green"): "3.0500",  # 300 + 60 − 55
    ("carbon_linked_loan", "light_green"): "3.3000",
    ("carbon_linked_loan", "yellow"): "3.6000",
    ("carbon_linked_loan", "red"): "4.1000",
    ("transition_loan", "dark_green"): "3.2500",  # 300 + 80 − 55
    ("transition_loan", "light_green"): "3.5000",
    ("transition_loan", "yellow"): "3.8000",
    ("transition_loan", "red"): "4.3000",
    ("rating_credit_loan", "dark_green"): "3.3500",  # 300 + 90 − 55
    ("rating_credit_loan", "light_green"): "3.6000",
    ("rating_credit_loan", "yellow"): "3.9000",
    ("rating_credit_loan", "red"): "4.4000",
}


@pytest.mark.parametrize(("product", "label"), sorted(TABLE))
def test_pricing_table(product: str, label: str) -> None:
    q = quote(product, label)
    assert q.annual_rate_pct == Decimal(TABLE[(product, label)])
    c = q.components
    assert c.base_rate_pct == Decimal("3.00")
    assert c.bank_spread_bp == POLICY.products[product].spread_bp
    assert c.subsidy_bp == 0 and c.refinancing_bp == 0 and c.ratchet_bp == 0


@pytest.mark.parametrize(
    ("label", "expected"),
    [("dark_green", "1.8000"), ("light_green", "2.0500"), ("yellow", "3.3500"), ("red", "3.8500")],
)
def test_green_loan_with_solar_purpose(label: str, expected: str) -> None:
    # dark: 300+50−55−100−15 = 180; light: 300+50−30−100−15 = 205; yellow: 350−15; red: 400−15
    cls = classify(CATALOGUE, "rooftop photovoltaic plant", None, None)
    q = quote("green_loan", label, classification=cls)
    assert q.annual_rate_pct == Decimal(expected)
    assert q.components.refinancing_bp == Decimal("15.00")
    assert q.refinancing_principal == Decimal("1200000.00")  # 60 % of 2,000,000


def test_allowance_pledge_hand_computed() -> None:
    # ratio 0.70 − 0.5×0.30 − 0.5×0.10 = 0.50; value 60,000 t × 79.42 = 4,765,200.00; pledge 2,382,600.00
    col = Collateral(allowance_quantity_t=Decimal(60000), compliance_gap_share=Decimal("0.1"))
    q = quote("allowance_pledge_loan", "yellow", term=12, collateral=col)
    assert q.annual_rate_pct == Decimal("3.4000")  # 300 + 40 + 0
    assert q.pledge is not None
    assert q.pledge.pledge_ratio == Decimal("0.5000")
    assert q.pledge.collateral_value_cny == Decimal("4765200.00")
    assert q.pledge.pledge_value_cny == Decimal("2382600.00")
    assert q.pledge.margin_call_price_cny == Decimal("40.00")  # 1.20 × 2,000,000 / 60,000
    with pytest.raises(InvalidRequest, match="exceeds the pledge value"):
        quote("allowance_pledge_loan", "yellow", amount="3000000", term=12, collateral=col)


def test_risk_sharing_split() -> None:
    q = quote("green_loan", "yellow")
    assert q.risk_sharing == {
        "guarantor": Decimal("1200000.00"),
        "insurer": Decimal("600000.00"),
        "bank": Decimal("200000.00"),
    }
    assert quote("rating_credit_loan", "yellow").risk_sharing == {
        "compensation_fund": Decimal("1000000.00"),
        "bank": Decimal("1000000.00"),
    }


def test_floor_and_request_base_rate() -> None:
    cls = classify(CATALOGUE, None, "G-3.2", None)
    # 100 + 50 − 55 − 100 − 0 (base below 1.75 % → no refinancing saving) = −5 bp → floor 150 bp
    q = quote("green_loan", "dark_green", base=Decimal("1.00"), classification=cls)
    assert q.annual_rate_pct == Decimal("1.5000")
    assert q.components.floor_adjustment_bp == Decimal(155)
    assert q.components.base_rate_source == "request"


def test_approval_tracks() -> None:
    assert quote("green_loan", "dark_green").approval.track == "fast_track"
    assert quote("green_loan", "dark_green", confidence="0.7").approval.track == "standard"
    assert quote("green_loan", "light_green").approval.sla_max_days == 20
    for kw in (
        {"label": "red"},
        {"label": "yellow", "confidence": "0.3"},
        {"label": "dark_green", "vetoes": ("serious_violation",)},
    ):
        label = kw.pop("label")
        a = quote("green_loan", label, **kw).approval  # type: ignore[arg-type]
        assert a.track == "manual_review" and a.sla_max_days == 45 and a.reasons
    unrated = quote("green_loan", None)
    assert unrated.approval.track == "manual_review"
    assert unrated.components.rating_adjustment_bp == 0


def test_product_rules() -> None:
    with pytest.raises(Conflict, match="no rating yet"):
        quote("carbon_linked_loan", None)
    mature = Enterprise(ENT.credit_code, "E", "2521", "140400", "large", "mature")
    with pytest.raises(InvalidRequest, match="early/mid"):
        quote("transition_loan", "yellow", stage="mature", enterprise=mature)
    with pytest.raises(InvalidRequest, match="unknown product"):
        quote("moon_loan", "yellow")
    with pytest.raises(InvalidRequest, match="purpose not eligible"):
        quote("green_loan", "yellow", classification=classify(CATALOGUE, "new office tower", None, None))


def test_same_request_same_quote() -> None:
    a, b = quote("carbon_linked_loan", "light_green"), quote("carbon_linked_loan", "light_green")
    assert (a.annual_rate_pct, a.components, a.schedule) == (b.annual_rate_pct, b.components, b.schedule)


def test_subsidy_budget_exhausted() -> None:
    cls = classify(CATALOGUE, None, "G-3.2", None)
    req = QuoteRequest("bank", ENT.credit_code, "green_loan", Decimal(2000000), 24)
    q = price_quote(
        req,
        ENT,
        rating("dark_green"),
        POLICY,
        classification=cls,
        subsidy_budget_left=Decimal(19999),
        now=NOW,
    )
    assert q.components.subsidy_bp == 0  # first-year cost 2,000,000 × 1 % = 20,000 > 19,999
    assert any("budget exhausted" in w for w in q.explanation)
