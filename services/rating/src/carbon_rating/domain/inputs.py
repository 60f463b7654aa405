"""What a rating is computed from: plain, immutable values that the repository loads.

Nothing here knows where the values came from (events, database); the rating function is a
pure function of these inputs and a methodology, which is what makes it reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class EnterpriseProfile:
    """The directory entry (名录库) as rating needs it."""

    credit_code: str
    name: str
    industry_code: str
    region_code: str
    size_class: str
    transition_stage: str
    ets_participant: bool


@dataclass(frozen=True, slots=True)
class AccountMonth:
    """One monthly carbon account (the latest calculation version rating has seen)."""

    period: str
    total_tco2: Decimal
    output_quantity: Decimal | None
    output_unit: str | None
    revenue_10k_cny: Decimal | None
    data_quality_score: Decimal
    calculation_version: int = 1


@dataclass(frozen=True, slots=True)
class ConductFact:
    """A compliance / ETS / capex / transition fact (highest revision per fact key)."""

    indicator: str
    period: str
    value: Decimal
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Intensity:
    """An intensity over a window on one basis: ``per_output:<unit>`` or ``per_revenue``."""

    basis: str
    value: Decimal


class PeerTotals(NamedTuple):
    """One peer's sums over the rating window (aggregated by the database, not month by month).

    ``output_unit`` is None when the peer's months do not share one unit (then it is comparable
    only per revenue).

    A named tuple (immutable, like the other inputs) rather than a frozen dataclass: every
    consumer batch builds one per peer of every peer group it rates (thousands), and a frozen
    dataclass stores each field through ``object.__setattr__`` (≈ 3× the construction cost).
    """

    credit_code: str
    total_tco2: Decimal
    output_unit: str | None
    output_quantity: Decimal
    revenue_10k_cny: Decimal


@dataclass(frozen=True, slots=True)
class RatingInputs:
    """Everything one rating uses; peers are compared on the enterprise's own intensity basis."""

    enterprise: EnterpriseProfile
    as_of_period: str
    accounts: tuple[AccountMonth, ...]
    facts: tuple[ConductFact, ...] = ()
    #: same-industry enterprises' totals over the rating window (may include the enterprise itself)
    peers: tuple[PeerTotals, ...] = ()
