"""``/v1/quotes`` and ``/v1/projects/classify``: pricing and project identification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from carbon_common.problems import PROBLEM_RESPONSES
from carbon_lending.domain.classification import classify
from carbon_lending.domain.pricing import Collateral, QuoteRequest
from carbon_lending.domain.ratchet import KpiTarget
from carbon_lending.entrypoints.deps import ContainerDep, QuotingBank
from carbon_lending.entrypoints.responses import FastJSON
from carbon_lending.entrypoints.schemas import ClassifyIn, ClassifyOut, QuoteIn, QuoteOut
from carbon_lending.service_layer.quotes import RequestQuote, get_quote, request_quote

router = APIRouter(prefix="/v1", tags=["quotes"])


@router.post(
    "/quotes",
    response_model=QuoteOut,
    status_code=201,
    summary="Price a loan on the enterprise's carbon credit rating",
    description=(
        "Returns the annual rate with every component (base rate, bank spread, rating adjustment by "
        "label, interest subsidy, PBOC refinancing pass-through, ratchet start point), the approval "
        "track and its SLA in working days, risk-sharing amounts, pledge valuation for allowance "
        "pledges, the repayment schedule summary and the rating it was based on. Rates are quantised "
        "to 0.0001 % half-up; the same request against the same rating and policy gives the same rate. "
        "Send an `Idempotency-Key`: a retry with the same key returns the same quote (200)."
    ),
    responses={**PROBLEM_RESPONSES, 200: {"model": QuoteOut, "description": "replayed quote (same key)"}},
)
async def post_quote(
    body: QuoteIn,
    bank: QuotingBank,
    c: ContainerDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Any:
    col = body.collateral
    cmd = RequestQuote(
        request=QuoteRequest(
            bank_id=bank,
            credit_code=body.credit_code,
            product=body.product,
            amount=body.amount_cny,
            term_months=body.term_months,
            base_rate_pct=body.base_rate_pct,
            collateral=None
            if col is None
            else Collateral(col.allowance_quantity_t, col.cea_price_cny, col.compliance_gap_share),
        ),
        idempotency_key=idempotency_key,
        purpose=body.purpose,
        activity_code=body.activity_code,
        expected_annual_reduction_t=body.expected_annual_reduction_t,
        kpi_targets=tuple(KpiTarget(t.metric, t.target) for t in body.kpi_targets or ()),
    )
    doc, created = await request_quote(cmd, c.quote_deps, c.policies, c.catalogue, c.clock())
    return FastJSON(doc, status_code=201 if created else 200)


@router.get(
    "/quotes/{quote_id}",
    response_model=QuoteOut,
    summary="Read one of your bank's quotes",
    description="Another bank's quote answers 404, exactly like a quote that does not exist.",
    responses=PROBLEM_RESPONSES,
)
async def read_quote(quote_id: str, bank: QuotingBank, c: ContainerDep) -> Any:
    return FastJSON(await get_quote(bank, quote_id, c.uow()))


@router.post(
    "/projects/classify",
    response_model=ClassifyOut,
    tags=["projects"],
    summary="Classify a loan purpose against the green/transition activity catalogue",
    description=(
        "Matches by activity code, else by keywords of the description. Says which products, "
        "subsidies and PBOC carbon-reduction refinancing the project is eligible for and which "
        "reduction evidence the bank must collect; no match comes with the reason."
    ),
    responses=PROBLEM_RESPONSES,
)
async def classify_project(body: ClassifyIn, _bank: QuotingBank, c: ContainerDep) -> ClassifyOut:
    r = classify(c.catalogue, body.purpose, body.activity_code, body.expected_annual_reduction_t)
    a = r.activity
    return ClassifyOut(
        catalogue_version=r.catalogue_version,
        classified=r.classified,
        activity_code=a.code if a else None,
        activity_name=a.name if a else None,
        kind=a.kind if a else None,
        category=a.category if a else None,
        eligible_products=list(a.eligible_products) if a else [],
        subsidy_eligible=r.subsidy_eligible,
        pboc_refinancing_eligible=r.pboc_refinancing_eligible,
        evidence_required=list(a.evidence_required) if a else [],
        reasons=list(r.reasons),
    )
