"""HTTP request and response models. Scores, weights and intensities are decimal strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Label = Literal["dark_green", "light_green", "yellow", "red"]
EXAMPLE_CODE = "91140400MA0GRNA106"


class SubScoreOut(BaseModel):
    name: str = Field(examples=["current_performance"])
    value: Decimal = Field(
        description="0–100; the neutral missing_score when not observed", examples=["72.50"]
    )
    weight: Decimal = Field(description="effective weight for this stage (applicable weights sum to 1)")
    observed: bool = Field(
        description="false: no evidence, the neutral value was used and confidence lowered"
    )
    applicable: bool = Field(description="false: does not apply (e.g. ETS conduct outside the ETS)")
    evidence: Decimal = Field(description="share of the weight that counts towards confidence")
    note: str = ""
    facts: dict[str, str] = Field(default_factory=dict, description="the figures behind the sub-score")


class DriverOut(BaseModel):
    sub_score: str
    contribution: Decimal = Field(description="weight x (sub-score - neutral score), in score points")


class GapOut(BaseModel):
    next_label: Label | None
    points_needed: Decimal | None = Field(description="score points to the next label's threshold")
    intensity_cut_pct: Decimal | None = Field(
        description="cut in window intensity (%) that alone reaches the next label, everything else equal"
    )
    blocked_by: list[str] = Field(description="vetoes that must be lifted before the next label is possible")
    note: str


class VetoOut(BaseModel):
    code: str
    caps_label_at: Label
    description: str


class RatingOut(BaseModel):
    """The current carbon credit rating of one enterprise, with everything needed to explain it."""

    rating_id: str
    credit_code: str = Field(examples=[EXAMPLE_CODE])
    enterprise_name: str | None
    industry_code: str
    as_of_period: str = Field(examples=["2024-06"])
    score: Decimal = Field(examples=["68.25"])
    label: Label
    label_zh: str = Field(examples=["浅绿"])
    label_en: str = Field(examples=["Light green"])
    label_meaning: str
    uncapped_label: Label = Field(description="the label the score alone would give, before vetoes")
    previous_label: Label | None
    stage: Literal["early", "mid", "mature"] = Field(description="the transition stage the weights are for")
    stage_source: Literal["directory", "evidence"] = Field(
        description="directory: the stage declared in the enterprise directory; evidence: derived by "
        "one of the methodology's stage rules from transition facts (capex share, milestones met)"
    )
    declared_stage: Literal["early", "mid", "mature"] | None = Field(
        description="the stage the directory declares (may differ from `stage` when derived from evidence)"
    )
    stage_reason: str = Field(description="why this stage: the stage rule that applied, or the declaration")
    stage_evidence: dict[str, str] = Field(
        description="the evidence measures the stage rules were tested on (decimal strings)",
        examples=[{"milestones_met_share": "0.8", "reduction_capex_share": "0.25"}],
    )
    confidence: Decimal = Field(
        description="0–1: coverage of observed inputs x data quality", examples=["0.74"]
    )
    methodology_version: str
    sub_scores: list[SubScoreOut]
    drivers_up: list[DriverOut]
    drivers_down: list[DriverOut]
    gap_to_next_label: GapOut
    vetoes: list[VetoOut]
    intensity: Decimal | None = Field(description="window intensity (tCO2 per unit of intensity_basis)")
    intensity_basis: str | None = Field(examples=["per_output:MWh"])
    account_ref: str | None = Field(description="the account snapshot used: credit_code/period@vN")
    reason: str = Field(
        description="inputs_changed | methodology_change | periodic_cycle | objection_revision"
    )
    objection_id: str | None = None
    open_objections: int = Field(description="objections filed and not yet decided")
    issued_at: datetime
    links: dict[str, str]


class RatingSummary(BaseModel):
    rating_id: str
    as_of_period: str
    score: Decimal
    label: Label
    stage: str
    confidence: Decimal
    methodology_version: str
    vetoes: list[str]
    reason: str
    objection_id: str | None
    issued_at: datetime


class HistoryOut(BaseModel):
    credit_code: str
    ratings: list[RatingSummary] = Field(description="newest first")


class QueryOut(BaseModel):
    org: str = Field(examples=["bank-icbc-shanxi"])
    resource: str = Field(examples=["rating"])
    rating_id: str | None
    purpose: str | None
    queried_at: datetime


class QueryLogOut(BaseModel):
    credit_code: str
    queries: list[QueryOut] = Field(description="newest first")


class ObjectionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credit_code": EXAMPLE_CODE,
                    "reason": "The 2024-03 account double-counts purchased electricity already in scope 1.",
                    "evidence": ["grid invoice 2024-03 no. 3301-778", "evidence-hash:9f2c…"],
                }
            ]
        }
    )
    credit_code: str = Field(min_length=18, max_length=18)
    reason: str = Field(min_length=5, max_length=4000)
    evidence: list[str] = Field(default_factory=list, max_length=50)


class ObjectionBody(BaseModel):
    """The same as ``ObjectionIn`` without the credit code (it is in the path)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Penalty 2024-02 was revoked on appeal.", "evidence": ["doc-17"]}]
        }
    )
    reason: str = Field(min_length=5, max_length=4000)
    evidence: list[str] = Field(default_factory=list, max_length=50)


class DecisionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "outcome": "revised",
                    "reason": "Penalty revoked; compliance re-assessed.",
                    "revised_score": "66.00",
                },
                {"outcome": "upheld", "reason": "Figures verified against the grid company's meter data."},
            ]
        }
    )
    outcome: Literal["upheld", "revised", "rejected", "in_review", "withdrawn"] = Field(
        description="upheld: rating confirmed; revised: new rating issued; rejected: objection not founded; "
        "in_review: a reviewer takes it; withdrawn: the enterprise withdraws it"
    )
    reason: str = Field(min_length=3, max_length=4000)
    revised_score: Decimal | None = Field(None, ge=0, le=100, description="required when outcome is revised")


class ObjectionOut(BaseModel):
    objection_id: str
    credit_code: str
    rating_id: str
    filed_by: str
    reason: str
    evidence: list[str]
    status: str
    filed_at: datetime
    due_at: datetime
    overdue: bool
    decided_at: datetime | None
    reviewer: str | None
    decision_reason: str | None
    new_rating_id: str | None


class RerateOut(BaseModel):
    methodology_version: str
    enterprises_considered: int
    ratings_issued: int
    seconds: Decimal


class ActivateMethodologyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(
        min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["v2"]
    )
    reason: str = Field(
        min_length=1, max_length=1000, examples=["v2: transition stage derived from evidence (stage rules)"]
    )
    rerate: bool = Field(
        default=False, description="re-rate every enterprise under the new version before answering"
    )


class MethodologyChangeOut(BaseModel):
    id: int
    changed_at: datetime
    actor: str = Field(description="the token's subject, or the deployment for a start-up change")
    actor_org: str | None = Field(description="the token's organisation")
    source: Literal["configuration", "admin_api"]
    from_version: str | None
    from_digest: str | None = Field(description="sha256 of the previous methodology file")
    to_version: str
    to_digest: str = Field(description="sha256 of the methodology file put in force")
    reason: str | None


class MethodologyChangesOut(BaseModel):
    in_force: str | None = Field(description="the version this replica rates under")
    changes: list[MethodologyChangeOut] = Field(description="newest first")


class ActivationOut(BaseModel):
    change: MethodologyChangeOut
    rerate: RerateOut | None = None
