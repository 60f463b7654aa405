"""Margin ratchet of carbon-performance-linked loans, and the interest-period calendar.

The ratchet moves the margin by ``step_bp`` per label notch relative to the label at
origination (worse label → higher rate), capped both ways (sustainability-linked practice of
~5–15 bp per KPI with a cap, domain-data §5). A change applies from the start of the next
interest period after the rating, never to the current one.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

from carbon_lending.domain.model import label_rank
from carbon_lending.domain.policy import RatchetTerms


def ratchet_bp(terms: RatchetTerms, origin_label: str | None, new_label: str | None) -> Decimal:
    origin, new = label_rank(origin_label), label_rank(new_label)
    if origin is None or new is None:
        return Decimal(0)
    move = terms.step_bp * (new - origin)
    return min(max(move, -terms.cap_down_bp), terms.cap_up_bp)


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
