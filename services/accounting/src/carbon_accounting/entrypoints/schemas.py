"""HTTP request/response models. Quantities and money are decimal STRINGS in JSON, units stated."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CREDIT_CODE = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"
PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
QUARTER = r"^\d{4}-Q[1-4]$"
YEAR = r"^\d{4}$"
Granularity = Literal["month", "quarter", "year"]


class CrossCheckOut(BaseModel):
    """Third-party verified vs computed emissions of one enterprise-month, with both sources."""

    verified_tco2: Decimal = Field(description="sum of the month's `emissions.verified` facts")
    verified_by: str = Field(description="the department(s) that reported the verified figure")
    computed_tco2: Decimal = Field(description="the account's total_tco2 (scope 1 + scope 2 location-based)")
    computed_from: str = Field(description="the department(s) whose activity facts the computation used")
    difference_tco2: Decimal = Field(description="computed − verified")
    relative_difference: Decimal | None = Field(description="|computed − verified| / verified, 4 decimals")
    tolerance: Decimal = Field(description="the configured relative tolerance")
    discrepancy: bool = Field(description="true when the difference exceeds the tolerance (flagged)")


class AccountOut(BaseModel):
    """One month (or a quarter/year roll-up) of an enterprise's carbon account, in tCO2."""

    credit_code: str
    period: str = Field(description="YYYY-MM, YYYY-Qn or YYYY")
    granularity: Granularity
    months: list[str] = Field(description="the months included")
    scope1_combustion_tco2: Decimal
    scope1_process_tco2: Decimal
    scope2_location_tco2: Decimal
    scope2_market_tco2: Decimal
    scope3_tco2: Decimal
    total_tco2: Decimal = Field(description="scope 1 + scope 2 location-based, tCO2")
    output_quantity: Decimal | None = None
    output_unit: str | None = None
    intensity_per_output: Decimal | None = Field(None, description="tCO2 per output_unit")
    revenue_10k_cny: Decimal | None = None
    intensity_per_revenue: Decimal | None = Field(None, description="tCO2 per 10k CNY revenue")
    value_added_10k_cny: Decimal | None = None
    intensity_per_value_added: Decimal | None = Field(None, description="tCO2 per 10k CNY value added")
    data_quality_score: Decimal = Field(description="PCAF-like 1 (best) … 5 (worst)")
    fact_count: int
    factor_sets: list[str] = Field(description="factor set(s) id@version used")
    calculation_version: int | None = Field(None, description="monthly only: 1 = first figure, >1 = restated")
    cross_check: CrossCheckOut | None = Field(
        None, description="monthly only: verified vs computed emissions (absent when nothing is verified)"
    )
    verified_months: list[str] = Field(default_factory=list, description="months with verified emissions")
    discrepancy_months: list[str] = Field(
        default_factory=list,
        description="months whose verified and computed emissions disagree beyond tolerance",
    )


class AccountsOut(BaseModel):
    credit_code: str
    granularity: Granularity
    unit: str = "tCO2"
    items: list[AccountOut]


class FactorOut(BaseModel):
    code: str
    value: Decimal
    unit: str
    source: str
    year: int | None = Field(None, description="data year (grid factors)")
    valid_from: int | None = None
    valid_to: int | None = None
    indicator: str | None = None
    verified: bool
    params: dict[str, str] = Field(default_factory=dict)


class FactorsOut(BaseModel):
    factor_set: str = Field(description="id@version")
    title: str
    factors: list[FactorOut]


class FactorSetSummary(BaseModel):
    id: str
    version: str
    ref: str
    title: str
    active: bool


class FactorIn(BaseModel):
    code: str = Field(examples=["fuel.raw_coal"])
    value: Decimal = Field(examples=["1.9003"])
    unit: str = Field(examples=["tCO2/t"])
    source: str = Field(examples=["domain-data.md §3"])
    indicator: str | None = Field(None, examples=["energy.raw_coal"])
    year: int | None = None
    valid_from: int | None = None
    valid_to: int | None = None
    verified: bool | None = None
    params: dict[str, str] = Field(default_factory=dict)


class FactorSetIn(BaseModel):
    """A new, immutable version of a factor set. Activate it to restate accounts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cn-default",
                    "version": "2",
                    "title": "China defaults, 2025 grid update",
                    "factors": [
                        {
                            "code": "fuel.raw_coal",
                            "indicator": "energy.raw_coal",
                            "value": "1.9003",
                            "unit": "tCO2/t",
                            "source": "domain-data.md §3",
                            "valid_from": 2015,
                        }
                    ],
                }
            ]
        }
    )

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")
    version: str = Field(pattern=r"^[A-Za-z0-9._-]{1,40}$")
    title: str = Field("", max_length=300)
    factors: list[FactorIn] = Field(min_length=1)
    reason: str | None = Field(
        None, max_length=1000, description="why (recorded in the factor-set audit trail, not part of the set)"
    )

    def as_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude={"reason"})
        for f in data["factors"]:
            if f.get("verified") is None:
                f.pop("verified", None)
        return data


class ActivateIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"version": "2"}]})

    version: str = Field(description="the stored version of this factor set to activate")
    reason: str | None = Field(None, max_length=1000, description="why (recorded in the audit trail)")


class FactorSetChangeOut(BaseModel):
    id: int = Field(description="increasing; pass the smallest one as `before` for the next page")
    changed_at: datetime
    actor: str = Field(description="the token's subject, or the deployment for a start-up change")
    actor_org: str | None = Field(description="the token's organisation")
    action: Literal["published", "activated", "seeded"]
    factor_set: str = Field(description="id@version")
    set_id: str
    version: str
    digest: str = Field(
        description="sha256 of the set's canonical content (JSON, sorted keys, no whitespace, UTF-8)"
    )
    previous_factor_set: str | None = Field(description="activations: the set that was active before")
    reason: str | None


class FactorSetChangesOut(BaseModel):
    active: str | None = Field(description="the factor set active now (id@version)")
    changes: list[FactorSetChangeOut] = Field(description="newest first")
    next_before: int | None = Field(description="`before` for the next (older) page; null on the last page")


class RestatementOut(BaseModel):
    factor_set: str
    recomputed: int = Field(description="enterprise-months recomputed")
    restated: int = Field(description="enterprise-months whose figures changed (AccountUpdated emitted)")


class LineageFact(BaseModel):
    fact_id: str
    fact_key: str
    department: str
    record_id: str
    revision: int
    indicator: str
    value: Decimal
    unit: str
    evidence_hash: str
    authoritative: bool


class LineageFactor(BaseModel):
    code: str
    value: Decimal
    unit: str
    source: str
    year: int | None = None


class LineageTerm(BaseModel):
    result_tco2: Decimal
    arithmetic: str
    fact: LineageFact | None = None
    factor: LineageFactor | None = None


class LineageFigure(BaseModel):
    figure: str
    value_tco2: Decimal
    terms: list[LineageTerm]


class LineageOut(BaseModel):
    credit_code: str
    period: str
    factor_set: str
    calculation_version: int
    method: str
    reproducible: bool = Field(
        description="recomputing from the stored facts and factors gives the stored figures"
    )
    figures: list[LineageFigure]
    facts: list[LineageFact] = Field(description="every fact the account used")
    factors: list[LineageFactor] = Field(description="every emission factor behind a figure")
    cross_check: CrossCheckOut | None = None
    notes: list[str]
