"""Schedule, ratchet, pledge, classification and loan-status rules (pure, hand-computed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from carbon_lending.adapters.policy_store import load_catalogue, load_policies
from carbon_lending.domain.classification import classify
from carbon_lending.domain.errors import Conflict
from carbon_lending.domain.loan import LoanState, check_transition, evaluate
from carbon_lending.domain.model import Rating
from carbon_lending.domain.pledge import margin_call_due, pledge_ratio
from carbon_lending.domain.policy import PledgeTerms, RatchetTerms
from carbon_lending.domain.ratchet import next_period_start, ratchet_bp
from carbon_lending.domain.schedule import summarise

POLICY = load_policies().for_bank("default")


def test_transition_schedule_by_hand() -> None:
    # 1,200,000 at 3.6 % → 0.3 %/month; 12 months grace: 12 × 3,600 = 43,200 deferred;
    # then 12 × 100,000 principal, interest 3,600 − 300k for k = 0…11 → 23,400; total 66,600.
    s = summarise(Decimal(1200000), Decimal("3.6"), 24, 12)
    assert s.deferred_interest == Decimal("43200.00")
    assert s.monthly_principal == Decimal("100000.00")
    assert s.total_interest == Decimal("66600.00")
    assert s.total_repaid == Decimal(1200000) + s.total_interest
    assert s.first_instalment == Decimal("100000.00") + Decimal("3600.00") + Decimal("3600.00")  # + 43,200/12


def test_equal_principal_without_grace() -> None:
    # 120,000 at 6 % over 12 months: interest 600, 550, …, 50 → 3,900
    s = summarise(Decimal(120000), Decimal(6), 12)
    assert s.total_interest == Decimal("3900.00")
    assert s.first_instalment == Decimal("10600.00")


def test_ratchet_moves_within_caps() -> None:
    t = RatchetTerms(Decimal(10), Decimal(25), Decimal(25))
    assert ratchet_bp(t, "light_green", "yellow") == 10
    assert ratchet_bp(t, "light_green", "red") == 20
    assert ratchet_bp(t, "dark_green", "red") == 25  # 30 capped
    assert ratchet_bp(t, "red", "dark_green") == -25  # −30 capped
    assert ratchet_bp(t, None, "red") == 0


def test_next_period_start() -> None:
    assert next_period_start(date(2025, 1, 15), 3, date(2025, 2, 10)) == date(2025, 4, 15)
    assert next_period_start(date(2025, 1, 15), 3, date(2025, 4, 15)) == date(2025, 7, 15)
    assert next_period_start(date(2024, 11, 30), 3, date(2025, 1, 1)) == date(2025, 2, 28)


def _loan(**kw: object) -> LoanState:
    base = dict(
        loan_id="l1",
        bank_id="b",
        credit_code="91140400MA0LCNXY5B",
        product="carbon_linked_loan",
        outstanding=Decimal(1000000),
        drawn_on=date(2025, 1, 15),
        status="performing",
        rate_pct=Decimal("3.3000"),
        origin_bp=Decimal(330),
        ratchet_bp=Decimal(0),
        origin_label="light_green",
        current_label="light_green",
    )
    return LoanState(**(base | kw))  # type: ignore[arg-type]


def _rating(label: str, vetoes: tuple[str, ...] = ()) -> Rating:
    return Rating(
        "r2",
        "91140400MA0LCNXY5B",
        Decimal(50),
        label,
        Decimal("0.9"),
        "m@1",  # type: ignore[arg-type]
        datetime(2025, 2, 1, tzinfo=UTC),
        "2025-01",
        "mid",
        vetoes,
    )


def test_evaluate_downgrade_reprices_from_next_period_and_alerts() -> None:
    rep, alerts = evaluate(_loan(), _rating("yellow"), POLICY, date(2025, 2, 10))
    assert rep is not None
    assert (rep.effective_from, rep.new_rate_pct, rep.ratchet_bp) == (
        date(2025, 4, 15),
        Decimal("3.4000"),
        10,
    )
    assert [a.kind for a in alerts] == ["downgrade"]
    rep, alerts = evaluate(
        _loan(product="green_loan"), _rating("red", ("serious_violation",)), POLICY, date(2025, 2, 10)
    )
    assert rep is None  # no ratchet in a green loan's terms
    assert sorted(a.kind for a in alerts) == ["downgrade", "veto"]
    rep, alerts = evaluate(_loan(), _rating("light_green"), POLICY, date(2025, 2, 10))
    assert rep is None and alerts == []


def test_pledge_ratio_and_margin_call() -> None:
    t = PledgeTerms(
        Decimal("0.7"), Decimal("0.5"), Decimal("0.5"), Decimal("0.3"), Decimal("0.7"), Decimal("1.2")
    )
    assert pledge_ratio(t, Decimal("0.3"), Decimal(0)) == Decimal("0.5500")
    assert pledge_ratio(t, Decimal("1.0"), Decimal("0.5")) == Decimal("0.3000")  # floored
    assert not margin_call_due(t, Decimal(2000000), Decimal(60000), Decimal(40))  # exactly at 1.2 cover
    assert margin_call_due(t, Decimal(2000000), Decimal(60000), Decimal("39.99"))


def test_classification() -> None:
    cat = load_catalogue()
    solar = classify(cat, "8 MW rooftop 光伏 plant", None, None)
    assert solar.activity is not None and solar.activity.code == "G-3.2" and solar.pboc_refinancing_eligible
    small = classify(cat, "coke dry quenching", None, Decimal(1000))
    assert small.activity is not None and small.activity.kind == "transition"
    assert not small.pboc_refinancing_eligible and "below" in small.reasons[-1]
    big = classify(cat, None, "T-2521.1", Decimal(8000))
    assert big.pboc_refinancing_eligible and big.allows("transition_loan") and not big.allows("green_loan")
    none = classify(cat, "a shopping mall", None, None)
    assert not none.classified and none.reasons
    assert "not in catalogue" in classify(cat, None, "X-9", None).reasons[0]


def test_status_transitions() -> None:
    check_transition("performing", "overdue")
    check_transition("overdue", "non_performing")
    with pytest.raises(Conflict):
        check_transition("repaid", "overdue")
    with pytest.raises(Conflict):
        check_transition("performing", "non_performing")
