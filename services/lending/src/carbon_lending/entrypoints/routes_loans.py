"""``/v1/loans``, ``/v1/loan-events``, ``/v1/portfolio`` and ``/v1/market/cea-price``."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from carbon_common.problems import PROBLEM_RESPONSES
from carbon_lending.entrypoints.deps import ContainerDep, LendingBank, MarketFeed, PortfolioBank
from carbon_lending.entrypoints.schemas import CeaPriceIn, LoanIn, StatusIn
from carbon_lending.service_layer import loans as uc
from carbon_lending.service_layer.monitoring import update_cea_price

router = APIRouter(prefix="/v1")


@router.post(
    "/loans",
    status_code=201,
    tags=["loans"],
    summary="Register a loan your bank booked from a quote",
    description=(
        "The quote must be yours and unexpired, and not booked before; a green-only product needs a "
        "quote with a classified purpose. Retrying with the same `bank_loan_ref` returns the loan "
        "already registered (200)."
    ),
    responses=PROBLEM_RESPONSES,
)
async def post_loan(body: LoanIn, bank: LendingBank, c: ContainerDep) -> Any:
    cmd = uc.RegisterLoan(
        bank_id=bank,
        quote_id=body.quote_id,
        bank_loan_ref=body.bank_loan_ref,
        drawn_amount=body.drawn_amount_cny,
        drawn_on=date.fromisoformat(body.drawn_on),
        loan_id=str(uuid.uuid4()),
    )
    doc, created = await uc.register_loan(cmd, c.uow(), c.clock(), c.policies)
    return JSONResponse(doc, status_code=201 if created else 200)


@router.get("/loans/{loan_id}", tags=["loans"], summary="Read one of your loans", responses=PROBLEM_RESPONSES)
async def get_loan(loan_id: str, bank: LendingBank, c: ContainerDep) -> Any:
    return JSONResponse(await uc.read_loan(bank, loan_id, c.uow(), c.clock().date()))


@router.get(
    "/loans",
    tags=["loans"],
    summary="List your loans",
    description="Ordered by loan id; pass the last `loan_id` as `after` for the next page (max 200).",
)
async def get_loans(
    bank: LendingBank,
    c: ContainerDep,
    credit_code: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    items = await uc.list_loans(
        bank, c.uow(), c.clock().date(), credit_code=credit_code, status=status, after=after, limit=limit
    )
    return JSONResponse({"items": items, "next_after": items[-1]["loan_id"] if len(items) == limit else None})


@router.post(
    "/loans/{loan_id}/status",
    tags=["loans"],
    summary="Report a status change (performing / overdue / non_performing / repaid)",
    description="Repaid is final; a transition that makes no sense (repaid → overdue) answers 409.",
    responses=PROBLEM_RESPONSES,
)
async def post_status(loan_id: str, body: StatusIn, bank: LendingBank, c: ContainerDep) -> Any:
    doc = await uc.change_status(bank, loan_id, body.status, body.outstanding_cny, c.uow(), c.clock())
    return JSONResponse(doc)


@router.get(
    "/loan-events",
    tags=["loans"],
    summary="Repricings, downgrade/veto alerts and margin calls on your loans",
    description="The same events published on `lending.loans.v1`; page with `after` = last `sequence`.",
)
async def get_events(
    bank: LendingBank,
    c: ContainerDep,
    loan_id: str | None = None,
    kind: str | None = None,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="the last `sequence` you saw")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Any:
    items = await uc.list_events(bank, c.uow(), loan_id=loan_id, kind=kind, after=after, limit=limit)
    return JSONResponse({"items": items})


@router.get(
    "/portfolio",
    tags=["portfolio"],
    summary="Your bank's portfolio analytics",
    description=(
        "Open loans: balances by label, industry and product; weighted average rate at the rate in "
        "force today; rated vs unrated (rate, approval SLA, NPL ratio); alerts on open loans. "
        "Financed emissions by PCAF attribution (outstanding / (debt + equity), else a revenue-based "
        "estimate) with the outstanding-weighted data-quality score and the uncovered outstanding."
    ),
)
async def get_portfolio(bank: PortfolioBank, c: ContainerDep) -> Any:
    return JSONResponse(await uc.portfolio(bank, c.uow(), c.clock().date(), c.policies))


@router.post(
    "/market/cea-price",
    tags=["market"],
    summary="Record a CEA price; revalue allowance-pledge loans and raise margin calls",
    description=(
        "One margin call per breach: a loan already in margin call gets no second one until it recovers. "
        "Moves every bank's pledge loans, so it needs `market:write` (the bureau's market-data feed), "
        "not a bank scope."
    ),
    responses=PROBLEM_RESPONSES,
)
async def post_cea_price(body: CeaPriceIn, _feed: MarketFeed, c: ContainerDep) -> Any:
    raised = await update_cea_price(
        c.uow(), body.price_cny, date.fromisoformat(body.as_of), c.policies, c.clock()
    )
    return JSONResponse({"price_cny": format(body.price_cny, "f"), "margin_calls_raised": raised})
