"""Events lending publishes on ``lending.loans.v1`` beyond ``LoanQuoted``.

``LoanRepriced`` and ``LoanAlert`` belong in ``carbon_common.events`` (producer-owned v1
contracts); until the shared library carries them they are defined here, with the same
``cn.carbonbureau.lending.*.v1`` types, so moving them is a pure import change. Banks are the
consumers; no other service reads this topic.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar

from carbon_common.events import Event, Topics
from carbon_common.events.contracts import CE_PREFIX
from pydantic import Field


class LoanRepriced(Event):
    """A linked loan's rate changes from ``effective_from`` (the next interest period)."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.lending.loan.repriced.v1"
    topic: ClassVar[str] = Topics.LOANS

    loan_id: str
    bank_id: str
    credit_code: str = Field(min_length=18, max_length=18)
    rating_id: str
    label: str
    old_rate_pct: Decimal
    new_rate_pct: Decimal
    ratchet_bp: Decimal
    effective_from: date
    repriced_at: datetime


class LoanAlert(Event):
    """Something a bank must look at: a downgrade, a veto or a margin call."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.lending.loan.alert.v1"
    topic: ClassVar[str] = Topics.LOANS

    alert_id: str
    loan_id: str
    bank_id: str
    credit_code: str = Field(min_length=18, max_length=18)
    kind: str = Field(description="downgrade | veto | margin_call")
    detail: str
    rating_id: str | None = None
    raised_at: datetime
