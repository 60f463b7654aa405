"""The carbon credit report, HTML or PDF (reportlab), in Chinese or English."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from carbon_common.auth import Principal, require_own_or
from carbon_common.problems import PROBLEM_RESPONSES
from carbon_rating.bootstrap import Container
from carbon_rating.entrypoints.deps import container, not_found
from carbon_rating.entrypoints.fonts import pdf_font
from carbon_rating.entrypoints.report import render_html
from carbon_rating.entrypoints.report_pdf import render_pdf
from carbon_rating.entrypoints.routes_ratings import CreditCode
from carbon_rating.service_layer.handlers import NotFound
from carbon_rating.service_layer.report_data import gather

router = APIRouter(prefix="/v1", tags=["report"])


@router.get(
    "/ratings/{credit_code}/report",
    response_class=HTMLResponse,
    summary="The carbon credit report (碳信用报告), HTML or PDF, in Chinese or English",
    description="Identity, label and score with meaning, sub-scores, drivers, gap to the next label, "
    "emission and intensity trend, position among peers, rating history, data quality, open objections, "
    "methodology version. `format=pdf` returns the same report as `application/pdf` (CJK text in an "
    "embedded subset of WenQuanYi Micro Hei) as an attachment. "
    "A read by another organisation than the enterprise is recorded in its query log.",
    responses={
        **PROBLEM_RESPONSES,
        200: {"content": {"text/html": {}, "application/pdf": {}}, "description": "the report"},
    },
)
async def get_report(
    credit_code: CreditCode,
    c: Annotated[Container, Depends(container)],
    principal: Annotated[Principal, Depends(require_own_or("ratings:read"))],
    lang: Annotated[Literal["zh", "en"], Query(description="report language")] = "zh",
    format: Annotated[Literal["html", "pdf"], Query(description="html or pdf")] = "html",
    x_purpose: Annotated[str | None, Header(alias="X-Purpose")] = None,
) -> Response:
    try:
        async with c.uow() as uow:
            data = await gather(
                uow, credit_code, principal.acting_org, x_purpose, datetime.now(UTC), c.methodology
            )
    except NotFound as exc:
        raise not_found(exc) from exc
    if format == "pdf":
        # reportlab and matplotlib are CPU-bound and synchronous: keep them off the event loop
        pdf = await run_in_threadpool(render_pdf, data, lang, pdf_font(c.settings.cjk_font))
        name = f"carbon-credit-report_{credit_code}_{data.view.rating.as_of_period}_{lang}.pdf"
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
            },
        )
    return HTMLResponse(render_html(data, lang))
