"""The shape of a rating result: what the API shows and what ``RatingIssued`` carries.

``SubScoreView`` and ``RatingResult`` are treated as immutable values but are not ``frozen``
dataclasses: a frozen slotted dataclass stores every field through ``object.__setattr__`` (≈ 4×
the cost of a plain store), and these are built for every rating the consumer issues (seven views
and one result each; with ``SubScore`` and the rating's internal context, ≈ 15 % of the rating
function's CPU went to those stores — docs/performance-notes.md, rating, fifth pass). They hold
dicts, so they were never hashable anyway; nothing assigns to them after construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class SubScoreView:
    """A sub-score as used: its value (or the neutral substitute), effective weight, evidence."""

    value: Decimal
    observed: bool
    weight: Decimal
    evidence: Decimal
    applicable: bool
    note: str = ""
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Driver:
    """A sub-score's contribution relative to the neutral score: weight x (value - neutral)."""

    sub_score: str
    contribution: Decimal


@dataclass(frozen=True, slots=True)
class Gap:
    """What it would take to reach the next label up."""

    next_label: str | None
    points_needed: Decimal | None
    intensity_cut_pct: Decimal | None
    blocked_by: tuple[str, ...] = ()
    note: str = ""


@dataclass(slots=True)
class RatingResult:
    credit_code: str
    as_of_period: str
    industry_code: str
    stage: str
    score: Decimal
    label: str
    uncapped_label: str
    confidence: Decimal
    methodology_version: str
    sub_scores: dict[str, SubScoreView]
    vetoes: tuple[str, ...]
    drivers_up: tuple[Driver, ...]
    drivers_down: tuple[Driver, ...]
    gap: Gap
    intensity: Decimal | None = None
    intensity_basis: str | None = None
    #: where ``stage`` came from: "directory" (declared) or "evidence" (a methodology stage rule)
    stage_source: str = "directory"
    declared_stage: str | None = None
    stage_reason: str = ""
    stage_evidence: dict[str, str] = field(default_factory=dict)

    def same_outcome(
        self, score: Decimal, label: str, vetoes: tuple[str, ...], version: str, stage: str
    ) -> bool:
        """Identical inputs must not issue a new rating: compare what a reader would see change."""
        return (self.score, self.label, self.vetoes, self.methodology_version, self.stage) == (
            score,
            label,
            tuple(vetoes),
            version,
            stage,
        )
