"""Event contracts v1, each owned by its producing service.

Within v1 only additive changes are allowed; a breaking change is a new class with a ``.v2``
type and a new topic version. Quantities and money are ``Decimal`` (JSON strings), units are
always stated, periods are ``YYYY-MM``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field

from carbon_common.events.envelope import Event
from carbon_common.events.topics import Topics

CE_PREFIX = "cn.carbonbureau"
Period = str  # YYYY-MM, validated by pattern below
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
SizeClass = Literal["sme", "large"]
Stage = Literal["early", "mid", "mature"]
Label = Literal["dark_green", "light_green", "yellow", "red"]


# --- ingest ------------------------------------------------------------------------------------
class EnterpriseRegistered(Event):
    """An enterprise entered the directory (名录库). Owner: ingest."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.ingest.enterprise.registered.v1"
    topic: ClassVar[str] = Topics.ENTERPRISES

    credit_code: str = Field(min_length=18, max_length=18)
    name: str
    region_code: str = Field(description="GB/T 2260 code, e.g. 140400 Changzhi")
    industry_code: str = Field(description="GB/T 4754-2017 class, e.g. 4411 thermal power")
    size_class: SizeClass
    transition_stage: Stage
    ets_participant: bool = False
    revision: int = 1


class EnterpriseUpdated(EnterpriseRegistered):
    """A directory entry changed; carries the full new state. Owner: ingest."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.ingest.enterprise.updated.v1"


class FactRecorded(Event):
    """An accepted, validated indicator value in canonical units. Owner: ingest.

    A correction is a new ``FactRecorded`` with the same ``fact_key`` and a higher ``revision``;
    consumers keep the highest revision per key.
    """

    ce_type: ClassVar[str] = f"{CE_PREFIX}.ingest.fact.recorded.v1"
    topic: ClassVar[str] = Topics.FACTS

    fact_id: str
    fact_key: str = Field(description="department/record_id: stable across corrections")
    revision: int = 1
    credit_code: str = Field(min_length=18, max_length=18)
    department: str
    record_id: str
    indicator: str
    period: Period = Field(pattern=PERIOD_PATTERN)
    #: bounded like ingest's own check: a value beyond it is a typo or an attack, never a fact,
    #: and a consumer dead-letters it instead of carrying it into an account
    value: Decimal = Field(gt=Decimal("-1e15"), lt=Decimal("1e15"), allow_inf_nan=False)
    unit: str = Field(description="canonical unit of the indicator")
    attributes: dict[str, Any] = Field(default_factory=dict)
    evidence_hash: str = Field(description="hash of this fact's entry in the evidence chain")
    authoritative: bool = True
    recorded_at: datetime


# --- accounting --------------------------------------------------------------------------------
class AccountUpdated(Event):
    """An enterprise's monthly carbon account was computed or restated. Owner: accounting."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.accounting.account.updated.v1"
    topic: ClassVar[str] = Topics.ACCOUNTS

    credit_code: str = Field(min_length=18, max_length=18)
    period: Period = Field(pattern=PERIOD_PATTERN)
    industry_code: str | None = None
    scope1_combustion_tco2: Decimal
    scope1_process_tco2: Decimal = Decimal(0)
    scope2_location_tco2: Decimal = Decimal(0)
    scope2_market_tco2: Decimal = Decimal(0)
    scope3_tco2: Decimal = Decimal(0)
    total_tco2: Decimal = Field(description="scope 1 + scope 2 (location-based)")
    output_quantity: Decimal | None = None
    output_unit: str | None = None
    intensity_per_output: Decimal | None = Field(None, description="tCO2 per unit of output_unit")
    revenue_10k_cny: Decimal | None = None
    intensity_per_revenue: Decimal | None = Field(None, description="tCO2 per 10k CNY revenue")
    data_quality_score: Decimal = Field(Decimal(5), description="PCAF-like 1 (best) … 5")
    fact_count: int = 0
    factor_set: str = Field(description="factor-set id@version used")
    calculation_version: int = Field(1, description="increments on every restatement of this period")


# --- rating ------------------------------------------------------------------------------------
class RatingIssued(Event):
    """A carbon credit rating was issued (or re-issued). Owner: rating."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.rating.rating.issued.v1"
    topic: ClassVar[str] = Topics.RATINGS

    rating_id: str
    credit_code: str = Field(min_length=18, max_length=18)
    as_of_period: Period = Field(pattern=PERIOD_PATTERN)
    score: Decimal
    label: Label
    previous_label: Label | None = None
    transition_stage: Stage
    confidence: Decimal
    methodology_version: str
    sub_scores: dict[str, Decimal] = Field(default_factory=dict)
    vetoes: list[str] = Field(default_factory=list)
    industry_code: str | None = None
    issued_at: datetime


class ObjectionChanged(Event):
    """An objection (异议复核) to a rating was filed or changed state. Owner: rating.

    Published on the ratings topic with the enterprise as key, so it stays in order with that
    enterprise's ``RatingIssued`` events. ``open`` is true while the objection awaits a decision
    (``open`` / ``in_review``): consumers act on it, so a state added later within v1 never needs
    them to know its name. ``sequence`` grows with every change of one objection (1 filed,
    2 in review, 3 decided or withdrawn — the state machine never goes back): a consumer keeps
    the highest ``(sequence, changed_at)`` per ``objection_id``, so a redelivered or late stale
    change never reopens a decided objection.
    """

    ce_type: ClassVar[str] = f"{CE_PREFIX}.rating.objection.changed.v1"
    topic: ClassVar[str] = Topics.RATINGS

    objection_id: str
    credit_code: str = Field(min_length=18, max_length=18)
    rating_id: str = Field(description="the rating objected to")
    state: str = Field(description="open | in_review | upheld | revised | rejected | withdrawn")
    open: bool = Field(description="true while the objection awaits a decision")
    sequence: int = Field(ge=1, description="grows with every state change of this objection")
    changed_at: datetime
    new_rating_id: str | None = Field(None, description="the revised rating, when state is revised")


# --- lending -----------------------------------------------------------------------------------
class LoanQuoted(Event):
    """A bank asked for and received a loan quote. Owner: lending."""

    ce_type: ClassVar[str] = f"{CE_PREFIX}.lending.loan.quoted.v1"
    topic: ClassVar[str] = Topics.LOANS

    quote_id: str
    bank_id: str
    credit_code: str = Field(min_length=18, max_length=18)
    product: str
    amount_cny: Decimal
    term_months: int
    annual_rate_pct: Decimal
    base_rate_pct: Decimal
    rating_adjustment_bp: Decimal
    approval_track: str
    rating_id: str | None = None
    label: Label | None = None
    quoted_at: datetime


class LoanRepriced(Event):
    """A linked loan's rate changes from ``effective_from`` (the next interest period). Owner: lending."""

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
    """Something a bank must look at: a downgrade, a veto or a margin call. Owner: lending."""

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


EVENT_TYPES: dict[str, type[Event]] = {
    cls.ce_type: cls
    for cls in (
        EnterpriseRegistered,
        EnterpriseUpdated,
        FactRecorded,
        AccountUpdated,
        RatingIssued,
        ObjectionChanged,
        LoanQuoted,
        LoanRepriced,
        LoanAlert,
    )
}
