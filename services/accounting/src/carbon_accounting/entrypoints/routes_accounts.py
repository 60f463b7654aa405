"""``/v1/accounts``: monthly carbon accounts, quarterly/yearly roll-ups, and their lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from carbon_accounting.bootstrap import Container
from carbon_accounting.domain.calculation import compute_account
from carbon_accounting.domain.model import Fact
from carbon_accounting.domain.rollup import RolledUp, roll_up
from carbon_accounting.entrypoints.deps import get_container
from carbon_accounting.entrypoints.schemas import (
    CREDIT_CODE,
    PERIOD,
    AccountOut,
    AccountsOut,
    Granularity,
    LineageFact,
    LineageFactor,
    LineageFigure,
    LineageOut,
    LineageTerm,
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

FIGURES = (
    "scope1_combustion_tco2",
    "scope1_process_tco2",
    "scope2_location_tco2",
    "scope2_market_tco2",
    "scope3_tco2",
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
    )


@router.get(
    "/{credit_code}",
    summary="An enterprise's carbon account by month, quarter or year",
    description=(
        "Monthly accounts between `from` and `to` (inclusive, `YYYY-MM`), or their quarterly/yearly "
        "roll-ups (`granularity`). Emissions in tCO2 as decimal strings; `total_tco2` = scope 1 + "
        "scope 2 location-based. Roll-ups sum emissions, output and revenue and recompute intensities "
        "from the sums. A month with no accepted facts has no account (it is absent, not zero)."
    ),
    response_model=AccountsOut,
    responses=PROBLEM_RESPONSES,
)
async def get_accounts(
    credit_code: CreditCode,
    container: Annotated[Container, Depends(get_container)],
    first: Annotated[str, Query(alias="from", pattern=PERIOD, examples=["2024-01"])] = "1900-01",
    last: Annotated[str, Query(alias="to", pattern=PERIOD, examples=["2024-12"])] = "9999-12",
    granularity: Annotated[Granularity, Query(description="month, quarter or year")] = "month",
) -> AccountsOut:
    if first > last:
        raise ProblemError(
            400, "Bad period range", f"from={first} is after to={last}", slug="bad-period-range"
        )
    async with container.uow() as uow:
        months = await uow.repo.monthly_accounts(credit_code, first, last)
    versions = {m.period: m.calculation_version for m in months}
    items = [
        _out(credit_code, granularity, r, versions.get(r.period) if granularity == "month" else None)
        for r in roll_up(months, granularity)
    ]
    return AccountsOut(credit_code=credit_code, granularity=granularity, items=items)


def _fact_out(f: Fact) -> LineageFact:
    return LineageFact(
        fact_id=f.fact_id,
        fact_key=f.fact_key,
        department=f.department,
        record_id=f.record_id,
        revision=f.revision,
        indicator=f.indicator,
        value=f.value,
        unit=f.unit,
        evidence_hash=f.evidence_hash,
        authoritative=f.authoritative,
    )


@router.get(
    "/{credit_code}/{period}/lineage",
    summary="Why a monthly account has its figures: facts, factors and arithmetic",
    description=(
        "Recomputes the month from the stored facts (highest revision of each) with the factor set the "
        "account recorded, and lists for every figure its terms: the fact (department, record id, "
        "revision, evidence hash), the factor (code, value, source) and the arithmetic. `reproducible` "
        "is true when the recomputation equals the stored account."
    ),
    response_model=LineageOut,
    responses=PROBLEM_RESPONSES,
)
async def get_lineage(
    credit_code: CreditCode,
    period: Annotated[str, Path(pattern=PERIOD, examples=["2024-01"])],
    container: Annotated[Container, Depends(get_container)],
) -> LineageOut:
    async with container.uow() as uow:
        stored = await uow.repo.account(credit_code, period)
        if stored is None:
            raise ProblemError(404, "Account not found", f"no account for {credit_code} in {period}")
        facts = (await uow.repo.facts_for([(credit_code, period)])).get((credit_code, period), [])
        enterprise = (await uow.repo.enterprises([credit_code])).get(credit_code)
        set_id, _, version = stored.figures.factor_set.partition("@")
        factors = await container.factor_sets.get(uow.repo, set_id, version)
    calc = compute_account(credit_code, period, facts, enterprise, factors)
    figures = []
    for name in (*FIGURES, "total_tco2"):
        terms = [
            LineageTerm(
                result_tco2=ln.result,
                arithmetic=ln.arithmetic,
                fact=_fact_out(ln.fact) if ln.fact else None,
                factor=LineageFactor(
                    code=ln.factor_code,
                    value=ln.factor_value,
                    unit=ln.factor_unit or "",
                    source=ln.factor_source or "",
                    year=ln.factor_year,
                )
                if ln.factor_code and ln.factor_value is not None
                else None,
            )
            for ln in calc.lines
            if ln.figure == name
        ]
        if name == "total_tco2":
            parts = ("scope1_combustion_tco2", "scope1_process_tco2", "scope2_location_tco2")
            vals = [getattr(calc.figures, p) for p in parts]
            terms = [
                LineageTerm(
                    result_tco2=calc.figures.total_tco2,
                    arithmetic=" + ".join(str(v) for v in vals) + f" = {calc.figures.total_tco2} tCO2"
                    " (scope 1 combustion + scope 1 process + scope 2 location-based)",
                )
            ]
        figures.append(LineageFigure(figure=name, value_tco2=getattr(calc.figures, name), terms=terms))
    used = sorted(
        {ln.fact.fact_key: ln.fact for ln in calc.lines if ln.fact}.values(), key=lambda f: f.fact_key
    )
    others = [f for f in facts if f.fact_key not in {u.fact_key for u in used}]
    return LineageOut(
        credit_code=credit_code,
        period=period,
        factor_set=factors.ref,
        calculation_version=stored.calculation_version,
        method=calc.figures.method,
        reproducible=calc.figures.comparable() == stored.figures.comparable(),
        figures=figures,
        facts=[_fact_out(f) for f in (*used, *sorted(others, key=lambda f: f.fact_key))],
        notes=list(calc.notes),
    )
