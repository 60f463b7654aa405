"""HTTP request/response models (JSON). Quantities are decimal strings, never binary floats."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EXAMPLE_CODE = "91140400MA0K00000K"


class EnterpriseIn(BaseModel):
    """A directory registration. The credit code's check character is validated (GB 32100-2015)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credit_code": EXAMPLE_CODE,
                    "name": "长治市示例钢铁有限公司",
                    "region_code": "140400",
                    "industry_code": "3120",
                    "size_class": "large",
                    "transition_stage": "mid",
                    "ets_participant": False,
                }
            ]
        }
    )

    credit_code: str = Field(description="18-character Unified Social Credit Code 统一社会信用代码")
    name: str = Field(min_length=1, max_length=200, description="registered name (Chinese)")
    region_code: str = Field(description="GB/T 2260 code, e.g. 140400 Changzhi 长治")
    industry_code: str = Field(description="GB/T 4754-2017 code, e.g. 3120 steel making 炼钢")
    size_class: Literal["sme", "large"]
    transition_stage: Literal["early", "mid", "mature"] = Field(description="declared transition stage")
    ets_participant: bool = Field(False, description="covered by the national carbon market (ETS)")


class EnterpriseUpdateIn(EnterpriseIn):
    credit_code: str | None = Field(None, description="optional; must equal the path when given")  # type: ignore[assignment]


class EnterpriseOut(BaseModel):
    credit_code: str
    name: str
    region_code: str
    industry_code: str
    size_class: str
    transition_stage: str
    ets_participant: bool
    revision: int = Field(description="1 on registration, +1 on every change")


class EnterpriseWrite(EnterpriseOut):
    change: Literal["registered", "updated", "unchanged"]


class EnterprisePage(BaseModel):
    items: list[EnterpriseOut]
    page: int
    page_size: int
    total: int


class RecordIn(BaseModel):
    """One submitted record. Fields are checked per record (a bad record is rejected, not the batch)."""

    record_id: str = Field(min_length=1, description="idempotency key, unique per department")
    credit_code: str | None = None
    indicator: str | None = Field(None, description="an indicator code of GET /v1/catalogue/indicators")
    period: str | None = Field(None, description="YYYY-MM, not in the future")
    value: str | int | float | None = Field(None, description='decimal string, e.g. "1250.5"')
    unit: str | None = Field(None, description="one of the indicator's accepted units")
    attributes: dict[str, Any] | None = None


class SubmissionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "department": "stats-140400",
                    "records": [
                        {
                            "record_id": "2024-03-coal-0001",
                            "credit_code": EXAMPLE_CODE,
                            "indicator": "energy.raw_coal",
                            "period": "2024-03",
                            "value": "1250.5",
                            "unit": "t",
                        },
                        {
                            "record_id": "2024-03-elec-0001",
                            "credit_code": EXAMPLE_CODE,
                            "indicator": "electricity.purchased",
                            "period": "2024-03",
                            "value": "8200000",
                            "unit": "kWh",
                        },
                    ],
                }
            ]
        }
    )

    department: str = Field(
        description="<kind>-<GB/T 2260 code>, e.g. stats-140400, grid-140400, self-<credit code>; "
        "taken from the caller's identity once auth is enabled"
    )
    records: list[RecordIn] = Field(description="at most 10,000 records")


class RejectedOut(BaseModel):
    record_id: str
    field: str
    reason: str


class SubmissionOut(BaseModel):
    submission_id: str
    department: str
    channel: str
    received_at: datetime
    received: int
    accepted: int = Field(description="new facts, corrections included")
    duplicates: int = Field(description="records identical to the stored revision (no-op)")
    corrections: int = Field(description="records that superseded an earlier value (revision + 1)")
    rejected: list[RejectedOut]


class IndicatorOut(BaseModel):
    code: str
    unit: str = Field(description="canonical unit")
    accepted_units: list[str]
    reported_by: list[str] = Field(description="department kinds allowed to report it")
    authoritative: list[str]
    not_correctable_by: list[str]
    min_value: str | None
    integer: bool
    attributes: dict[str, dict[str, Any]]
    cross_check_tolerance: str | None
    plausibility: PlausibilityOut | None = Field(
        None, description="the plausibility rule of its family (flags, never rejects); null: none"
    )


class PlausibilityOut(BaseModel):
    family: str = Field(description="indicator code prefix the rule applies to")
    max_ratio: str = Field(description="flag when month ÷ median ≥ max_ratio or ≤ 1 ÷ max_ratio")
    window_months: int = Field(description="months before the checked one whose median is the reference")
    min_history: int = Field(description="fewer months of history: no flag")


class CatalogueOut(BaseModel):
    version: int
    indicators: list[IndicatorOut]


class BrokenOut(BaseModel):
    seq: int
    fact_id: str
    reason: str


class VerificationOut(BaseModel):
    ok: bool
    entries_checked: int
    head_hash: str = Field(description="hash of the last verified entry")
    first_broken: BrokenOut | None


class FlagOut(BaseModel):
    credit_code: str
    period: str
    indicator: str
    check: str
    department: str
    value: str
    reference_departments: str
    reference_value: str
    relative_difference: str | None
    tolerance: str


class QualitySummaryOut(BaseModel):
    credit_code: str
    facts: int = Field(description="current fact keys (latest revisions)")
    periods: int
    indicators: int
    authoritative: int
    self_declared: int
    corrected: int
    first_period: str | None
    last_period: str | None
    flags: int = Field(description="open cross-validation flags (sources disagreeing)")
    plausibility_flags: int = Field(
        0,
        description="open plausibility flags (a month far from the source's own median; docs/indicators.md)",
    )
