"""Plausibility checks (issue 3 "Data quality": "a month's coal use 100× the enterprise's median
flag without rejecting").

A rule applies to an indicator family (a code prefix such as ``energy.``; the longest matching
prefix wins) and is catalogue data (``plausibility`` in ``indicators-v<N>.yaml``). For each
enterprise, indicator and reporting department, a month's total (the department's current values
summed, as cross-validation does for several meters) is compared with the *median* of the same
department's totals for that enterprise and indicator over the ``window_months`` before it. With
at least ``min_history`` such months and a positive median, a ratio ``total ÷ median`` of
``max_ratio`` or more, or of ``1 ÷ max_ratio`` or less, raises a ``plausibility`` flag. The fact
is accepted either way: a flag asks a person to look, it never rejects.

The flag reuses the cross-validation flag's fields: ``reference_departments`` is the department
itself (its own history), ``reference_value`` the median, ``relative_difference`` the ratio
``total ÷ median`` and ``tolerance`` the rule's ``max_ratio``. PostgreSQL aggregates the month
totals and the median (one query per batch, ``SqlRepository.month_summaries``); this module decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from carbon_ingest.domain.quality import Flag

PLAUSIBILITY = "plausibility"


@dataclass(frozen=True, slots=True)
class PlausibilityRule:
    #: indicator code prefix, e.g. ``energy.`` (or a full code)
    family: str
    #: flag when total ÷ median ≥ max_ratio or ≤ 1 ÷ max_ratio (must be > 1)
    max_ratio: Decimal
    #: how many months before the checked one form the history
    window_months: int = 12
    #: fewer months of history than this: no opinion (a new reporter is never flagged)
    min_history: int = 3


def rule_for(rules: Sequence[PlausibilityRule], indicator: str) -> PlausibilityRule | None:
    """The rule of the longest family prefix that ``indicator`` starts with."""
    best: PlausibilityRule | None = None
    for r in rules:
        if indicator.startswith(r.family) and (best is None or len(r.family) > len(best.family)):
            best = r
    return best


def month_index(period: str) -> int:
    """``YYYY-MM`` → months since year 0 (period arithmetic without dates)."""
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def period_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


class Target(NamedTuple):
    """One month of one department's series for one enterprise and indicator, to be checked
    against its own history from ``first_period`` (inclusive) to ``period`` (exclusive). Ordered
    by its fields, in order (a tuple)."""

    credit_code: str
    indicator: str
    department: str
    period: str
    first_period: str


class MonthSummary(NamedTuple):
    """A target month's total and its history (count and median of the earlier months' totals)."""

    credit_code: str
    indicator: str
    department: str
    period: str
    total: Decimal
    months: int
    median: Decimal | None


def targets_for(
    months: Iterable[tuple[str, str, str, str]], rules: Mapping[str, PlausibilityRule]
) -> list[Target]:
    """The checks a batch owes: one per (credit_code, indicator, department, period) it touched
    whose indicator has a rule."""
    keys = sorted({m for m in months if m[1] in rules})  # tuples: C comparisons, not Target.__lt__
    # ``first_period`` follows from (indicator, period), so this is the targets' own order
    return [
        Target(code, indicator, dept, period, _window_start(period, rules[indicator].window_months))
        for code, indicator, dept, period in keys
    ]


@lru_cache(maxsize=4096)
def _window_start(period: str, window_months: int) -> str:
    return period_of(month_index(period) - window_months)


def evaluate(summary: MonthSummary, rule: PlausibilityRule) -> Flag | None:
    """A ``plausibility`` flag when the month is ``max_ratio`` times above or below the median."""
    mid = summary.median
    if summary.months < rule.min_history or mid is None or mid <= 0:
        return None  # too little history, or no ratio to a zero or negative median
    ratio = summary.total / mid
    if ratio < rule.max_ratio and ratio * rule.max_ratio > 1:
        return None
    return Flag(
        summary.credit_code,
        summary.period,
        summary.indicator,
        PLAUSIBILITY,
        summary.department,
        summary.total,
        summary.department,
        mid,
        ratio,
        rule.max_ratio,
    )
