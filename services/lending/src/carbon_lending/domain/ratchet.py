"""Margin ratchet of carbon-performance-linked loans, and the interest-period calendar.

Two bases, both capped both ways by the product's terms (sustainability-linked practice of
~5–15 bp per KPI with a cap, domain-data §5):

* **label** (default): ``step_bp`` per label notch relative to the label at origination (worse
  label → higher rate);
* **KPI targets** agreed at origination (a loan that carries them is ratcheted on them only):
  each KPI observed at or below its target takes ``step_bp`` off the margin, each observed above
  adds ``step_bp``; a KPI not observed yet does not move it. KPIs are read from the borrower's
  carbon account over the trailing 12 months: ``total_tco2`` (annualised when fewer months are
  known) and ``intensity_per_output`` (Σ tCO2 / Σ output).

A change applies from the start of the next interest period after the observation, never to the
current one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from carbon_lending.domain.model import label_rank
from carbon_lending.domain.policy import RatchetTerms

KPI_METRICS = ("total_tco2", "intensity_per_output")


@dataclass(frozen=True, slots=True)
class KpiTarget:
    """A sustainability performance target: met when the observed ``metric`` is ≤ ``target``."""

    metric: str
    target: Decimal

    def as_json(self) -> dict[str, str]:
        return {"metric": self.metric, "target": format(self.target, "f")}


def cap(terms: RatchetTerms, move: Decimal) -> Decimal:
    return min(max(move, -terms.cap_down_bp), terms.cap_up_bp)


def kpi_ratchet_bp(
    terms: RatchetTerms, targets: tuple[KpiTarget, ...], observed: dict[str, Decimal | None]
) -> Decimal:
    """Σ (−step if met, +step if missed) over the KPIs observed, capped."""
    move = Decimal(0)
    for t in targets:
        value = observed.get(t.metric)
        if value is not None:
            move += -terms.step_bp if value <= t.target else terms.step_bp
    return cap(terms, move)


def ratchet_bp(terms: RatchetTerms, origin_label: str | None, new_label: str | None) -> Decimal:
    origin, new = label_rank(origin_label), label_rank(new_label)
    if origin is None or new is None:
        return Decimal(0)
    return cap(terms, terms.step_bp * (new - origin))


def add_months(start: date, months: int) -> date:
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def next_period_start(drawn_on: date, period_months: int, as_of: date) -> date:
    """First interest-period boundary strictly after ``as_of`` (periods start on ``drawn_on``)."""
    k = 1
    while (boundary := add_months(drawn_on, k * period_months)) <= as_of:
        k += 1
    return boundary
