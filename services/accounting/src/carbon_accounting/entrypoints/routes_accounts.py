"""``/v1/accounts``: monthly carbon accounts and their quarterly/yearly roll-ups.

Two query shapes, one response: a single period (``?period=YYYY-MM``, ``?quarter=YYYY-Qn`` or
``?year=YYYY``, the issue-3 contract; 404 when there is nothing to show), or a range of months
(``?from=&to=&granularity=``, kept for existing callers). Both answer ``AccountsOut``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from carbon_accounting.bootstrap import Container
from carbon_accounting.domain.model import CrossCheck
from carbon_accounting.domain.rollup import RolledUp, roll_up
from carbon_accounting.entrypoints.deps import get_container
from carbon_accounting.entrypoints.schemas import (
    CREDIT_CODE,
    PERIOD,
    QUARTER,
    YEAR,
    AccountOut,
    AccountsOut,
    CrossCheckOut,
    Granularity,
)
from carbon_common.auth import require_own_or
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(
    prefix="/v1/accounts",
    tags=["accounts"],
    # banks/analysts with `accounts:read`, or the enterprise itself (`self:read`)
    dependencies=[Depends(require_own_or("accounts:read"))],
)

CreditCode = Annotated[
    str, Path(pattern=CREDIT_CODE, description="18-character USCC", examples=["91140400MA0GRE0A0X"])
]


def cross_check_out(check: CrossCheck | None) -> CrossCheckOut | None:
    if check is None:
        return None
    return CrossCheckOut(
        verified_tco2=check.verified_tco2,
        verified_by=check.verified_by,
        computed_tco2=check.computed_tco2,
        computed_from=check.computed_from,
        difference_tco2=check.difference_tco2,
        relative_difference=check.relative_difference,
        tolerance=check.tolerance,
        discrepancy=check.discrepancy,
    )


def _out(code: str, granularity: Granularity, r: RolledUp, version: int | None) -> AccountOut:
    return AccountOut(
        credit_code=code,
        period=r.period,
        granularity=granularity,
        months=list(r.months),
        scope1_combustion_tco2=r.scope1_combustion_tco2,
        scope1_process_tco2=r.scope1_process_tco2,
        scope2_location_tco2=r.scope2_location_tco2,
        scope2_market_tco2=r.scope2_market_tco2,
        scope3_tco2=r.scope3_tco2,
        total_tco2=r.total_tco2,
        output_quantity=r.output_quantity,
        output_unit=r.output_unit,
        intensity_per_output=r.intensity_per_output,
        revenue_10k_cny=r.revenue_10k_cny,
        intensity_per_revenue=r.intensity_per_revenue,
        value_added_10k_cny=r.value_added_10k_cny,
        intensity_per_value_added=r.intensity_per_value_added,
        data_quality_score=r.data_quality_score,
        fact_count=r.fact_count,
        factor_sets=list(r.factor_sets),
        calculation_version=version,
        cross_check=cross_check_out(r.cross_check),
        verified_months=list(r.verified_months),
        discrepancy_months=list(r.discrepancy_months),
    )


def single_period(
    period: str | None, quarter: str | None, year: str | None
) -> tuple[Granularity, str, str, str] | None:
    """(granularity, label, first month, last month) of ``?period``/``?quarter``/``?year``, if any."""
    given = [(name, v) for name, v in (("period", period), ("quarter", quarter), ("year", year)) if v]
    if not given:
        return None
    if len(given) > 1:
        names = ", ".join(name for name, _ in given)
        raise ProblemError(
            400, "Conflicting query parameters", f"give one of period, quarter, year (got {names})"
        )
    if period:
        return "month", period, period, period
    if quarter:
        y, q = quarter[:4], int(quarter[-1])
        return "quarter", quarter, f"{y}-{3 * q - 2:02d}", f"{y}-{3 * q:02d}"
    assert year is not None
    return "year", year, f"{year}-01", f"{year}-12"


@router.get(
    "/{credit_code}",
    summary="An enterprise's carbon account for a month, quarter or year",
    description=(
        "One period: `?period=YYYY-MM` (a month), `?quarter=YYYY-Qn` or `?year=YYYY` (roll-ups); "
        "404 when the enterprise has no account in it. Or a range: monthly accounts between `from` "
        "and `to` (inclusive, `YYYY-MM`), or their quarterly/yearly roll-ups (`granularity`). "
        "Emissions in tCO2 as decimal strings; `total_tco2` = scope 1 + scope 2 location-based. "
        "Roll-ups sum emissions, output and revenue and recompute intensities from the sums. A month "
        "with no accepted facts has no account (it is absent, not zero). Monthly items carry the "
        "verified-vs-computed `cross_check`; roll-ups list `verified_months` and `discrepancy_months`."
    ),
    response_model=AccountsOut,
    responses=PROBLEM_RESPONSES,
)
async def get_accounts(
    credit_code: CreditCode,
    container: Annotated[Container, Depends(get_container)],
    period: Annotated[str | None, Query(pattern=PERIOD, examples=["2024-05"])] = None,
    quarter: Annotated[str | None, Query(pattern=QUARTER, examples=["2024-Q2"])] = None,
    year: Annotated[str | None, Query(pattern=YEAR, examples=["2024"])] = None,
    first: Annotated[str | None, Query(alias="from", pattern=PERIOD, examples=["2024-01"])] = None,
    last: Annotated[str | None, Query(alias="to", pattern=PERIOD, examples=["2024-12"])] = None,
    granularity: Annotated[Granularity | None, Query(description="month, quarter or year")] = None,
) -> AccountsOut:
    single = single_period(period, quarter, year)
    if single is not None:
        if first or last or granularity:
            raise ProblemError(
                400,
                "Conflicting query parameters",
                "period/quarter/year select one period; from/to/granularity select a range: not both",
            )
        granularity, label, first, last = single
    else:
        first, last, granularity = first or "1900-01", last or "9999-12", granularity or "month"
        label = None
    if first > last:
        raise ProblemError(
            400, "Bad period range", f"from={first} is after to={last}", slug="bad-period-range"
        )
    async with container.uow() as uow:
        months = await uow.repo.monthly_accounts(credit_code, first, last)
    if label is not None and not months:
        raise ProblemError(404, "Account not found", f"no account for {credit_code} in {label}")
    versions = {m.period: m.calculation_version for m in months}
    items = [
        _out(credit_code, granularity, r, versions.get(r.period) if granularity == "month" else None)
        for r in roll_up(months, granularity)
    ]
    return AccountsOut(credit_code=credit_code, granularity=granularity, items=items)
