"""Data quality: cross-validation flags and a per-enterprise summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from carbon_common.auth import require, require_own_or
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError
from carbon_ingest.domain.quality import Flag
from carbon_ingest.domain.units import canonical_decimal
from carbon_ingest.entrypoints.deps import ContainerDep
from carbon_ingest.entrypoints.schemas import FlagOut, QualitySummaryOut
from carbon_ingest.service_layer import queries
from carbon_ingest.service_layer.errors import NotFoundError

router = APIRouter(prefix="/v1/quality", tags=["data quality"])


def _out(f: Flag) -> FlagOut:
    return FlagOut(
        credit_code=f.credit_code,
        period=f.period,
        indicator=f.indicator,
        check=f.check,
        department=f.department,
        value=canonical_decimal(f.value),
        reference_departments=f.reference_departments,
        reference_value=canonical_decimal(f.reference_value),
        relative_difference=None
        if f.relative_difference is None
        else canonical_decimal(f.relative_difference),
        tolerance=canonical_decimal(f.tolerance),
    )


@router.get(
    "/flags",
    summary="Data-quality flags: cross-validation (both values, both sources) and plausibility",
    description="`check = cross_source`: this department's value differs from the authoritative "
    "source's by more than the catalogue tolerance (e.g. self-declared vs grid-metered electricity, "
    "5 %); the authoritative value is the one that counts. `check = plausibility`: this "
    "department's month total is `max_ratio` times above or below the median of its own previous "
    "months (`reference_value` = the median, `relative_difference` = the ratio, `tolerance` = "
    "max_ratio; docs/indicators.md). Flags never reject; a later correction that agrees, or comes "
    "back into range, clears the flag.",
    response_model=list[FlagOut],
    dependencies=[Depends(require("audit:read"))],
)
async def flags(
    container: ContainerDep,
    credit_code: Annotated[str | None, Query(description="enterprise credit code")] = None,
    period: Annotated[str | None, Query(description="YYYY-MM")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FlagOut]:
    return [_out(f) for f in await queries.quality_flags(container.uow(), credit_code, period, limit)]


@router.get(
    "/enterprises/{credit_code}",
    summary="Data-quality summary of one enterprise",
    description="Current facts, periods and indicators covered, how many come from authoritative "
    "sources or self-declarations, how many were corrected, open cross-validation flags (`flags`) "
    "and open plausibility flags (`plausibility_flags`).",
    response_model=QualitySummaryOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require_own_or("audit:read"))],
)
async def summary(credit_code: str, container: ContainerDep) -> QualitySummaryOut:
    try:
        data = await queries.quality_summary(container.uow(), credit_code)
    except NotFoundError as exc:
        raise ProblemError(404, "Enterprise not found", str(exc), slug="not-found") from exc
    return QualitySummaryOut(credit_code=credit_code, **data)
