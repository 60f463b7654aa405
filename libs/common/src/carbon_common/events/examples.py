"""Producer-owned example payloads, one per event type.

Contract tests decode every example with every consumer's decoder; docs render them. Keep them
realistic: a Changzhi coal power plant and its first month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from carbon_common.events.contracts import (
    AccountUpdated,
    EnterpriseRegistered,
    EnterpriseUpdated,
    FactRecorded,
    LoanAlert,
    LoanQuoted,
    LoanRepriced,
    ObjectionChanged,
    RatingIssued,
)
from carbon_common.events.envelope import Event

CODE = "91140400MA0GRPWX3R"
WHEN = datetime(2024, 2, 5, 8, 0, tzinfo=UTC)

EXAMPLES: dict[type[Event], Event] = {
    EnterpriseRegistered: EnterpriseRegistered(
        credit_code=CODE,
        name="长治市漳泽发电有限公司",
        region_code="140400",
        industry_code="4411",
        size_class="large",
        transition_stage="mid",
        ets_participant=True,
    ),
    EnterpriseUpdated: EnterpriseUpdated(
        credit_code=CODE,
        name="长治市漳泽发电有限公司",
        region_code="140400",
        industry_code="4411",
        size_class="large",
        transition_stage="mature",
        ets_participant=True,
        revision=2,
    ),
    FactRecorded: FactRecorded(
        fact_id="0d7f6c1e-5b0b-4a8e-9a51-3f7f2d0c9b11",
        fact_key="stats-140400/2024-01-coal-0001",
        credit_code=CODE,
        department="stats-140400",
        record_id="2024-01-coal-0001",
        indicator="energy.raw_coal",
        period="2024-01",
        value=Decimal("1000"),
        unit="t",
        evidence_hash="5f0c0e3c9e7b3c1d6c1c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e",
        recorded_at=WHEN,
    ),
    AccountUpdated: AccountUpdated(
        credit_code=CODE,
        period="2024-01",
        industry_code="4411",
        scope1_combustion_tco2=Decimal("1900.3"),
        total_tco2=Decimal("1900.3"),
        factor_set="cn-default@2024.1",
        fact_count=1,
    ),
    RatingIssued: RatingIssued(
        rating_id="r-0001",
        credit_code=CODE,
        as_of_period="2024-01",
        score=Decimal("66.40"),
        label="light_green",
        transition_stage="mid",
        confidence=Decimal("0.55"),
        methodology_version="1.0.0",
        sub_scores={"current": Decimal("70.0")},
        issued_at=WHEN,
    ),
    ObjectionChanged: ObjectionChanged(
        objection_id="5b0e8f1a-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        credit_code=CODE,
        rating_id="r-0001",
        state="open",
        open=True,
        sequence=1,
        changed_at=WHEN,
    ),
    LoanQuoted: LoanQuoted(
        quote_id="q-0001",
        bank_id="bank-a",
        credit_code=CODE,
        product="green_loan",
        amount_cny=Decimal("10000000"),
        term_months=36,
        annual_rate_pct=Decimal("2.6500"),
        base_rate_pct=Decimal("3.1000"),
        rating_adjustment_bp=Decimal("-45"),
        approval_track="fast_track",
        rating_id="r-0001",
        label="light_green",
        quoted_at=WHEN,
    ),
    LoanRepriced: LoanRepriced(
        loan_id="l-0001",
        bank_id="bank-a",
        credit_code=CODE,
        rating_id="r-0002",
        label="dark_green",
        old_rate_pct=Decimal("2.6500"),
        new_rate_pct=Decimal("2.5500"),
        ratchet_bp=Decimal("-10"),
        effective_from=date(2024, 4, 1),
        repriced_at=WHEN,
    ),
    LoanAlert: LoanAlert(
        alert_id="a-0001",
        loan_id="l-0001",
        bank_id="bank-a",
        credit_code=CODE,
        kind="downgrade",
        detail="light_green → yellow",
        rating_id="r-0003",
        raised_at=WHEN,
    ),
}
