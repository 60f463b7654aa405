"""Rating reads: current rating, history, the query log, the methodology, and full re-rating."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query

from carbon_common.auth import Principal, require, require_own_or
from carbon_common.problems import PROBLEM_RESPONSES
from carbon_rating.bootstrap import Container
from carbon_rating.entrypoints.deps import container, not_found
from carbon_rating.entrypoints.schemas import (
    EXAMPLE_CODE,
    HistoryOut,
    QueryLogOut,
    QueryOut,
    RatingOut,
    RerateOut,
)
from carbon_rating.entrypoints.views import rating_out, summary
from carbon_rating.service_layer import queries
from carbon_rating.service_layer.handlers import NotFound, rerate_all

router = APIRouter(prefix="/v1", tags=["ratings"])
CreditCode = Annotated[
    str,
    Path(
        min_length=18,
        max_length=18,
        examples=[EXAMPLE_CODE],
        description="18-character unified social credit code (统一社会信用代码)",
    ),
]
#: a bank (or analyst) with `ratings:read`, or the enterprise itself with `self:read`
Reader = Annotated[Principal, Depends(require_own_or("ratings:read"))]
#: the enterprise itself, or staff with `audit:read` (banks never see who else looked)
LogReader = Annotated[Principal, Depends(require_own_or("audit:read"))]
Purpose = Annotated[
    str | None, Header(alias="X-Purpose", description="why the bank reads it, e.g. loan-application")
]
Limit = Annotated[int, Query(ge=1, le=200, description="page size (hard maximum 200)")]


@router.get(
    "/ratings/{credit_code}",
    response_model=RatingOut,
    summary="Current carbon credit rating of an enterprise",
    description="Score 0–100, label (深绿/浅绿/黄/红), stage, confidence, sub-scores with their weights, the "
    "largest contributions up and down, the gap to the next label and any veto. A read by an "
    "organisation other than the enterprise itself (the token's `org`) is recorded in its query log.",
    responses=PROBLEM_RESPONSES,
)
async def get_rating(
    credit_code: CreditCode,
    c: Annotated[Container, Depends(container)],
    principal: Reader,
    x_purpose: Purpose = None,
) -> RatingOut:
    org = principal.acting_org
    try:
        async with c.uow() as uow:
            view = await queries.read_current(uow, credit_code, org, x_purpose, "rating", datetime.now(UTC))
    except NotFound as exc:
        raise not_found(exc) from exc
    return rating_out(view)


@router.get(
    "/ratings/{credit_code}/history",
    response_model=HistoryOut,
    summary="Rating history (newest first)",
    description="Every rating issued for the enterprise, including revisions after objections.",
    responses=PROBLEM_RESPONSES,
)
async def get_history(
    credit_code: CreditCode, c: Annotated[Container, Depends(container)], _p: Reader, limit: Limit = 50
) -> HistoryOut:
    try:
        async with c.uow() as uow:
            rows = await queries.history(uow, credit_code, limit)
    except NotFound as exc:
        raise not_found(exc) from exc
    return HistoryOut(credit_code=credit_code, ratings=[summary(r) for r in rows])


async def _query_log(credit_code: str, c: Container, limit: int) -> QueryLogOut:
    async with c.uow() as uow:
        rows = await queries.query_log(uow, credit_code, limit)
    return QueryLogOut(
        credit_code=credit_code,
        queries=[
            QueryOut(
                org=q.org,
                resource=q.resource,
                rating_id=q.rating_id,
                purpose=q.purpose,
                queried_at=q.queried_at,
            )
            for q in rows
        ],
    )


@router.get(
    "/ratings/{credit_code}/queries",
    response_model=QueryLogOut,
    summary="Who read this enterprise's rating or report",
    description="The enterprise's view of the query log: every read on behalf of another organisation.",
    responses=PROBLEM_RESPONSES,
)
async def get_queries(
    credit_code: CreditCode, c: Annotated[Container, Depends(container)], _p: LogReader, limit: Limit = 50
) -> QueryLogOut:
    return await _query_log(credit_code, c, limit)


@router.get(
    "/enterprises/{credit_code}/query-log",
    response_model=QueryLogOut,
    summary="Query log (alias of /v1/ratings/{credit_code}/queries)",
    responses=PROBLEM_RESPONSES,
)
async def get_query_log(
    credit_code: CreditCode, c: Annotated[Container, Depends(container)], _p: LogReader, limit: Limit = 50
) -> QueryLogOut:
    return await _query_log(credit_code, c, limit)


@router.get(
    "/methodology",
    summary="The current methodology: version and every parameter",
    description="Weights per transition stage, label thresholds, vetoes, benchmarks with sources, and the "
    "calibration parameters. Numbers are decimal strings. See docs/methodology.md for the reasoning.",
    tags=["methodology"],
    dependencies=[Depends(require())],
)
async def get_methodology(c: Annotated[Container, Depends(container)]) -> dict[str, Any]:
    return dict(c.methodology.raw)


@router.post(
    "/admin/rerate",
    response_model=RerateOut,
    summary="Re-rate every enterprise now (after a methodology change, or as the periodic cycle)",
    description="Runs in chunks of 200 enterprises (one transaction each); only ratings whose outcome "
    "changed are issued (and published). The CLI `python -m carbon_rating.entrypoints.rerate` shows progress.",
    tags=["methodology"],
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("methodology:admin"))],
)
async def post_rerate(
    c: Annotated[Container, Depends(container)],
    reason: Annotated[str, Query(pattern="^(methodology_change|periodic_cycle)$")] = "periodic_cycle",
) -> RerateOut:
    started = time.perf_counter()
    m = await c.refresh_methodology()  # the one in force, should another replica have changed it
    considered, issued = await rerate_all(c.uow, m, reason, datetime.now(UTC))
    return RerateOut(
        methodology_version=m.version,
        enterprises_considered=considered,
        ratings_issued=issued,
        seconds=Decimal(str(round(time.perf_counter() - started, 3))),
    )
