"""HTTP request and response models (OpenAPI). Money, quantities and rates are decimal strings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Dec = Decimal


def _calendar_date(value: str) -> str:
    date.fromisoformat(value)  # ValueError (a 422, not a 500) for e.g. 2025-13-40
    return value


#: YYYY-MM-DD that is also a real calendar date
IsoDate = Annotated[str, AfterValidator(_calendar_date)]


class CollateralIn(BaseModel):
    allowance_quantity_t: Dec | None = Field(None, gt=0, description="CEA allowances pledged, tCO2e")
    cea_price_cny: Dec | None = Field(
        None,
        gt=0,
        description="CNY per t; defaults to the latest recorded CEA price (or the policy's reference)",
    )
    compliance_gap_share: Dec = Field(
        Dec(0), ge=0, le=1, description="share of the allocation the enterprise still owes the ETS (0–1)"
    )


class KpiTargetIn(BaseModel):
    metric: Literal["total_tco2", "intensity_per_output"] = Field(
        description="trailing-12-month figure from the borrower's carbon account: annual tCO2, or "
        "tCO2 per unit of output"
    )
    target: Dec = Field(ge=0, description="met when the observed value is at or below it")


class QuoteIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credit_code": "91140400MA0LCNXY5B",
                    "product": "green_loan",
                    "amount_cny": "5000000.00",
                    "term_months": 36,
                    "purpose": "Photovoltaic rooftop plant, 8 MW",
                    "expected_annual_reduction_t": "6500",
                },
                {
                    "credit_code": "91140400MA0LCNXY5B",
                    "product": "allowance_pledge_loan",
                    "amount_cny": "2000000",
                    "term_months": 12,
                    "collateral": {"allowance_quantity_t": "60000", "compliance_gap_share": "0.1"},
                },
            ]
        }
    )

    credit_code: str = Field(min_length=18, max_length=18, description="USCC of the borrower")
    product: str = Field(
        description="green_loan | carbon_linked_loan | allowance_pledge_loan | transition_loan | "
        "rating_credit_loan (the bank's configured products)"
    )
    amount_cny: Dec = Field(description="principal, CNY (decimal string)")
    term_months: int = Field(gt=0, le=360)
    base_rate_pct: Dec | None = Field(
        None, ge=0, le=30, description="annual %, defaults to the configured 1-year LPR"
    )
    collateral: CollateralIn | None = None
    purpose: str | None = Field(None, max_length=2000, description="what the loan finances (classified)")
    activity_code: str | None = Field(None, description="catalogue activity code, e.g. G-3.2")
    expected_annual_reduction_t: Dec | None = Field(
        None, ge=0, description="expected tCO2 reduction per year"
    )
    kpi_targets: list[KpiTargetIn] | None = Field(
        None,
        max_length=5,
        description="carbon_linked_loan only: ratchet the margin on these KPIs instead of the label "
        "(−step per KPI met, +step per KPI missed, within the product's caps)",
    )


class Components(BaseModel):
    base_rate_pct: str
    base_rate_source: str
    bank_spread_bp: str
    rating_adjustment_bp: str
    subsidy_bp: str
    pboc_refinancing_bp: str
    ratchet_bp: str
    floor_adjustment_bp: str


class KpiTargetOut(BaseModel):
    metric: str
    target: str


class RatchetStart(BaseModel):
    basis: Literal["label", "kpi"]
    label: str | None
    ratchet_bp: str
    kpi_targets: list[KpiTargetOut]


class ApprovalOut(BaseModel):
    track: Literal["fast_track", "standard", "manual_review"]
    sla_working_days_min: int
    sla_working_days_max: int
    reasons: list[str]


class RatingUsed(BaseModel):
    rating_id: str
    score: str
    label: str
    confidence: str
    methodology_version: str
    issued_at: str
    vetoes: list[str]
    open_objections: list[str] = Field(
        default_factory=list,
        description="objections (异议复核) to this rating awaiting a decision: the quote goes to manual review",
    )


class QuoteOut(BaseModel):
    quote_id: str
    bank_id: str
    credit_code: str
    product: str
    amount_cny: str
    term_months: int
    annual_rate_pct: str = Field(description="quantised to 0.0001 %, half-up")
    components: Components
    ratchet_start: RatchetStart | None
    schedule: dict[str, str | int]
    approval: ApprovalOut
    risk_sharing_cny: dict[str, str]
    pboc_refinancing_principal_cny: str
    subsidy_cost_first_year_cny: str
    pledge: dict[str, str] | None
    rating: RatingUsed | None
    classification: dict[str, str | bool | None] | None
    policy_version: str
    quoted_at: str
    valid_until: str
    explanation: list[str]


class ClassifyIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"purpose": "Coke dry quenching retrofit", "expected_annual_reduction_t": "8000"}]
        }
    )

    purpose: str | None = Field(None, max_length=2000)
    activity_code: str | None = None
    expected_annual_reduction_t: Dec | None = Field(None, ge=0)


class ClassifyOut(BaseModel):
    catalogue_version: str
    classified: bool
    activity_code: str | None
    activity_name: str | None
    kind: str | None
    category: str | None
    eligible_products: list[str]
    subsidy_eligible: bool
    pboc_refinancing_eligible: bool
    evidence_required: list[str]
    reasons: list[str]


class LoanIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "quote_id": "6f1c…",
                    "bank_loan_ref": "CN-2025-000123",
                    "drawn_amount_cny": "5000000",
                    "drawn_on": "2025-06-01",
                }
            ]
        }
    )

    quote_id: str
    bank_loan_ref: str = Field(min_length=1, max_length=100, description="the bank's own loan reference")
    drawn_amount_cny: Dec = Field(gt=0, description="≤ the quoted amount")
    drawn_on: IsoDate = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="date drawn, YYYY-MM-DD")


class StatusIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "overdue"}]})

    status: Literal["performing", "overdue", "non_performing", "repaid"]
    outstanding_cny: Dec | None = Field(None, ge=0, description="bank-reported outstanding principal")


class CeaPriceIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"price_cny": "72.50", "as_of": "2025-06-30"}]})

    price_cny: Dec = Field(gt=0, description="CEA close, CNY per t")
    as_of: IsoDate = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
