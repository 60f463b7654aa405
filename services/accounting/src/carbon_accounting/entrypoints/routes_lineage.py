"""``/v1/accounts/{credit_code}/lineage``: why a monthly account has its figures.

Recomputes the month from the stored facts (highest revision of each) with the factor set the
account recorded, and lists for every figure its terms: the fact (department, record id,
revision, evidence hash), the factor (code, value, source, data year) and the arithmetic.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from carbon_accounting.bootstrap import Container
from carbon_accounting.domain.calculation import FIGURES, compute_account
from carbon_accounting.domain.factors import Factor
from carbon_accounting.domain.model import Fact
from carbon_accounting.entrypoints.deps import get_container
from carbon_accounting.entrypoints.routes_accounts import CreditCode, cross_check_out
from carbon_accounting.entrypoints.schemas import (
    PERIOD,
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
    dependencies=[Depends(require_own_or("accounts:read"))],
)

DESCRIPTION = (
    "Recomputes the month from the stored facts (highest revision of each) with the factor set the "
    "account recorded, and lists for every figure its terms: the fact (department, record id, "
    "revision, evidence hash), the factor (code, value, source) and the arithmetic; deductions "
    "(exported energy, green-power certificates) are negative terms. `factors` lists every factor "
    "used, `cross_check` the verified-vs-computed comparison. `reproducible` is true when the "
    "recomputation equals the stored account."
)


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


def _factor_out(f: Factor) -> LineageFactor:
    return LineageFactor(code=f.code, value=f.value, unit=f.unit, source=f.source, year=f.year)


async def lineage(credit_code: str, period: str, container: Container) -> LineageOut:
    async with container.uow() as uow:
        stored = await uow.repo.account(credit_code, period)
        if stored is None:
            raise ProblemError(404, "Account not found", f"no account for {credit_code} in {period}")
        facts = (await uow.repo.facts_for([(credit_code, period)])).get((credit_code, period), [])
        enterprise = (await uow.repo.enterprises([credit_code])).get(credit_code)
        set_id, _, version = stored.figures.factor_set.partition("@")
        factors = await container.factor_sets.get(uow.repo, set_id, version)
    tolerance = container.settings.verification_tolerance
    calc = compute_account(credit_code, period, facts, enterprise, factors, tolerance)
    figures = []
    for name in FIGURES:
        terms = [
            LineageTerm(
                result_tco2=ln.result,
                arithmetic=ln.arithmetic,
                fact=_fact_out(ln.fact) if ln.fact else None,
                factor=_factor_out(ln.factor) if ln.factor else None,
            )
            for ln in calc.lines
            if ln.figure == name
        ]
        figures.append(LineageFigure(figure=name, value_tco2=getattr(calc.figures, name), terms=terms))
    parts = ("scope1_combustion_tco2", "scope1_process_tco2", "scope2_location_tco2")
    total = calc.figures.total_tco2
    total_text = " + ".join(str(getattr(calc.figures, p)) for p in parts) + f" = {total} tCO2"
    figures.append(
        LineageFigure(
            figure="total_tco2",
            value_tco2=total,
            terms=[
                LineageTerm(
                    result_tco2=total,
                    arithmetic=f"{total_text} (scope 1 combustion + scope 1 process + scope 2 location-based)",
                )
            ],
        )
    )
    used = sorted(
        {ln.fact.fact_key: ln.fact for ln in calc.lines if ln.fact}.values(), key=lambda f: f.fact_key
    )
    used_keys = {u.fact_key for u in used}
    others = sorted((f for f in facts if f.fact_key not in used_keys), key=lambda f: f.fact_key)
    factors_used = {(ln.factor.code, ln.factor.year): ln.factor for ln in calc.lines if ln.factor}
    return LineageOut(
        credit_code=credit_code,
        period=period,
        factor_set=factors.ref,
        calculation_version=stored.calculation_version,
        method=calc.figures.method,
        reproducible=calc.figures.comparable() == stored.figures.comparable(),
        figures=figures,
        facts=[_fact_out(f) for f in (*used, *others)],
        factors=[
            _factor_out(f) for _, f in sorted(factors_used.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
        ],
        cross_check=cross_check_out(calc.figures.cross_check),
        notes=list(calc.notes),
    )


@router.get(
    "/{credit_code}/lineage",
    summary="Why a monthly account has its figures: facts, factors and arithmetic",
    description=DESCRIPTION,
    response_model=LineageOut,
    responses=PROBLEM_RESPONSES,
)
async def get_lineage(
    credit_code: CreditCode,
    period: Annotated[str, Query(pattern=PERIOD, description="the month, YYYY-MM", examples=["2024-01"])],
    container: Annotated[Container, Depends(get_container)],
) -> LineageOut:
    return await lineage(credit_code, period, container)


@router.get(
    "/{credit_code}/{period}/lineage",
    summary="Lineage of a monthly account (path form; same as `/lineage?period=`)",
    description=DESCRIPTION,
    response_model=LineageOut,
    responses=PROBLEM_RESPONSES,
)
async def get_lineage_by_path(
    credit_code: CreditCode,
    period: Annotated[str, Path(pattern=PERIOD, examples=["2024-01"])],
    container: Annotated[Container, Depends(get_container)],
) -> LineageOut:
    return await lineage(credit_code, period, container)
