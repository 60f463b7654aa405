"""Quarterly and yearly roll-ups of monthly accounts.

Emissions, output, revenue and value added are additive over months; intensities are recomputed
from the sums (never averaged). The roll-up's data-quality score is the emission-weighted mean
of the months' scores (PCAF's portfolio weighting applied over time), rounded to 0.1; with no
emissions at all it is the plain mean. ``output_unit`` is kept only when every month agrees.
Verified-vs-computed cross-checks stay monthly; a roll-up lists the months verified and flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from carbon_accounting.domain.calculation import INTENSITY_QUANTUM
from carbon_accounting.domain.model import CrossCheck

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MonthlyAccount:
    """A stored monthly account, as the read side sees it."""

    period: str
    scope1_combustion_tco2: Decimal
    scope1_process_tco2: Decimal
    scope2_location_tco2: Decimal
    scope2_market_tco2: Decimal
    scope3_tco2: Decimal
    total_tco2: Decimal
    output_quantity: Decimal | None
    output_unit: str | None
    revenue_10k_cny: Decimal | None
    value_added_10k_cny: Decimal | None
    data_quality_score: Decimal
    fact_count: int
    factor_set: str
    calculation_version: int
    cross_check: CrossCheck | None = None


@dataclass(frozen=True, slots=True)
class RolledUp:
    period: str
    months: tuple[str, ...]
    scope1_combustion_tco2: Decimal
    scope1_process_tco2: Decimal
    scope2_location_tco2: Decimal
    scope2_market_tco2: Decimal
    scope3_tco2: Decimal
    total_tco2: Decimal
    output_quantity: Decimal | None
    output_unit: str | None
    intensity_per_output: Decimal | None
    revenue_10k_cny: Decimal | None
    intensity_per_revenue: Decimal | None
    value_added_10k_cny: Decimal | None
    intensity_per_value_added: Decimal | None
    data_quality_score: Decimal
    fact_count: int
    factor_sets: tuple[str, ...]
    #: months with third-party verified emissions, and those flagged as disagreeing
    verified_months: tuple[str, ...] = ()
    discrepancy_months: tuple[str, ...] = ()
    #: the month's cross-check (monthly granularity only)
    cross_check: CrossCheck | None = None


def bucket(period: str, granularity: str) -> str:
    """``2024-05`` → ``2024-Q2`` (quarter) or ``2024`` (year)."""
    year, month = period[:4], int(period[5:7])
    if granularity == "quarter":
        return f"{year}-Q{(month - 1) // 3 + 1}"
    if granularity == "year":
        return year
    return period


def _opt_sum(values: Sequence[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, ZERO) if present else None


def _ratio(num: Decimal, den: Decimal | None) -> Decimal | None:
    return None if den is None or den == 0 else (num / den).quantize(INTENSITY_QUANTUM)


def roll_up(months: Sequence[MonthlyAccount], granularity: str) -> list[RolledUp]:
    groups: dict[str, list[MonthlyAccount]] = defaultdict(list)
    for m in months:
        groups[bucket(m.period, granularity)].append(m)
    return [_combine(key, sorted(ms, key=lambda m: m.period)) for key, ms in sorted(groups.items())]


def _combine(key: str, ms: list[MonthlyAccount]) -> RolledUp:
    total = sum((m.total_tco2 for m in ms), ZERO)
    units = {m.output_unit for m in ms if m.output_quantity is not None}
    output = _opt_sum([m.output_quantity for m in ms]) if len(units) == 1 else None
    revenue = _opt_sum([m.revenue_10k_cny for m in ms])
    value_added = _opt_sum([m.value_added_10k_cny for m in ms])
    if total > 0:
        dq = sum((m.data_quality_score * m.total_tco2 for m in ms), ZERO) / total
    else:
        dq = sum((m.data_quality_score for m in ms), ZERO) / len(ms)
    return RolledUp(
        period=key,
        months=tuple(m.period for m in ms),
        scope1_combustion_tco2=sum((m.scope1_combustion_tco2 for m in ms), ZERO),
        scope1_process_tco2=sum((m.scope1_process_tco2 for m in ms), ZERO),
        scope2_location_tco2=sum((m.scope2_location_tco2 for m in ms), ZERO),
        scope2_market_tco2=sum((m.scope2_market_tco2 for m in ms), ZERO),
        scope3_tco2=sum((m.scope3_tco2 for m in ms), ZERO),
        total_tco2=total,
        output_quantity=output,
        output_unit=next(iter(units)) if output is not None else None,
        intensity_per_output=_ratio(total, output),
        revenue_10k_cny=revenue,
        intensity_per_revenue=_ratio(total, revenue),
        value_added_10k_cny=value_added,
        intensity_per_value_added=_ratio(total, value_added),
        data_quality_score=dq.quantize(Decimal("0.1")),
        fact_count=sum(m.fact_count for m in ms),
        factor_sets=tuple(sorted({m.factor_set for m in ms})),
        verified_months=tuple(m.period for m in ms if m.cross_check is not None),
        discrepancy_months=tuple(
            m.period for m in ms if m.cross_check is not None and m.cross_check.discrepancy
        ),
        cross_check=ms[0].cross_check if len(ms) == 1 and ms[0].period == key else None,
    )
