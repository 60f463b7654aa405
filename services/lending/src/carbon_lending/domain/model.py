"""Lending's read models of other services' facts and the shared value types of the domain.

Enterprises and ratings arrive as events from ingest and rating; lending keeps its own copy so
that a quote never calls another service. Labels are ordered best → worst; the rank is what
ratchets and downgrade alerts compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Label = Literal["dark_green", "light_green", "yellow", "red"]
Track = Literal["fast_track", "standard", "manual_review"]
LoanStatus = Literal["performing", "overdue", "non_performing", "repaid"]

#: best first; a higher rank is a worse label (Quzhou "三维四色" colours, domain-data §1)
LABELS: tuple[Label, ...] = ("dark_green", "light_green", "yellow", "red")

BP = Decimal("0.0001")  # rates are quantised to 0.0001 % (i.e. 0.01 bp)
CENT = Decimal("0.01")


def label_rank(label: str | None) -> int | None:
    """0 (dark green) … 3 (red); None for an unrated enterprise."""
    return LABELS.index(label) if label in LABELS else None  # type: ignore[arg-type]


def pct(bp: Decimal) -> Decimal:
    """Basis points → percent, quantised to 0.0001 % (half-up, documented in docs/lending.md)."""
    return (bp / 100).quantize(BP, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> Decimal:
    """CNY to the cent, half-up (the rounding a bank statement uses)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class Enterprise:
    credit_code: str
    name: str
    industry_code: str
    region_code: str
    size_class: str
    transition_stage: str
    ets_participant: bool = False


@dataclass(frozen=True, slots=True)
class Rating:
    rating_id: str
    credit_code: str
    score: Decimal
    label: Label
    confidence: Decimal
    methodology_version: str
    issued_at: datetime
    as_of_period: str
    transition_stage: str
    vetoes: tuple[str, ...] = field(default_factory=tuple)
    #: ids of the objections (异议复核) to the enterprise's rating that await a decision (from
    #: rating's ``ObjectionChanged``); not part of the rating itself, held beside it for quotes
    open_objections: tuple[str, ...] = field(default_factory=tuple)

    def newer_than(self, other: Rating | None) -> bool:
        """Ratings are ordered by (issued_at, rating_id): a late older rating never wins."""
        return other is None or (self.issued_at, self.rating_id) > (other.issued_at, other.rating_id)
