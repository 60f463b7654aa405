"""The carbon credit report (HTML; PDF refused until a PDF engine is installed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import HTMLResponse

from carbon_common.auth import Principal, require_own_or
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError
from carbon_rating.bootstrap import Container
from carbon_rating.entrypoints.deps import container, not_found
from carbon_rating.entrypoints.report import render_html
from carbon_rating.entrypoints.routes_ratings import CreditCode
from carbon_rating.service_layer.handlers import NotFound
from carbon_rating.service_layer.report_data import gather

router = APIRouter(prefix="/v1", tags=["report"])


@router.get(
    "/ratings/{credit_code}/report",
    response_class=HTMLResponse,
    summary="The carbon credit report (碳信用报告), HTML in Chinese or English",
    description="Identity, label and score with meaning, sub-scores, drivers, gap to the next label, "
    "emission and intensity trend, position among peers, rating history, data quality, open objections, "
    "methodology version. `format=pdf` answers 501 until a PDF engine (WeasyPrint or headless "
    "Chromium) is installed. "
    "A read by another organisation than the enterprise is recorded in its query log.",
    responses={**PROBLEM_RESPONSES, 501: {"description": "PDF engine not installed"}},
)
async def get_report(
    credit_code: CreditCode,
    c: Annotated[Container, Depends(container)],
    principal: Annotated[Principal, Depends(require_own_or("ratings:read"))],
    lang: Annotated[Literal["zh", "en"], Query(description="report language")] = "zh",
    format: Annotated[
        Literal["html", "pdf"], Query(description="html, or pdf when an engine is installed")
    ] = "html",
    x_purpose: Annotated[str | None, Header(alias="X-Purpose")] = None,
) -> HTMLResponse:
    if format == "pdf":
        raise ProblemError(
            501,
            "PDF not available",
            "no PDF engine (WeasyPrint/Chromium) is installed in this deployment; use format=html",
            slug="pdf-unavailable",
        )
    try:
        async with c.uow() as uow:
            data = await gather(
                uow, credit_code, principal.acting_org, x_purpose, datetime.now(UTC), c.methodology
            )
    except NotFound as exc:
        raise not_found(exc) from exc
    return HTMLResponse(render_html(data, lang))
