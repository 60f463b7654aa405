"""Use cases on booked loans: register from a quote, read, list, bank-reported status changes.

Every query is scoped by the calling bank: another bank's loan or quote is "not found", so a
bank can neither read nor infer the existence of another bank's business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from carbon_lending.domain.errors import Conflict, InvalidRequest, NotFound
from carbon_lending.domain.loan import check_transition
from carbon_lending.domain.model import money
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.ports import Document, NewLoan, UnitOfWorkPort

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class RegisterLoan:
    bank_id: str
    quote_id: str
    bank_loan_ref: str
    drawn_amount: Decimal
    drawn_on: date
    loan_id: str


async def register_loan(
    cmd: RegisterLoan, uow: UnitOfWorkPort, now: datetime, book: PolicyBook | None = None
) -> tuple[Document, bool]:
    """Book a loan against an unexpired quote of the same bank. Retry-safe by ``bank_loan_ref``.

    A green-only product (green loan) quoted without a classified purpose was only indicative:
    it cannot be booked (issue 5: "an unclassified purpose cannot get a green-only product")."""
    async with uow:
        existing = await uow.repo.loan_by_ref(cmd.bank_id, cmd.bank_loan_ref)
        if existing is not None:
            doc = await uow.repo.get_loan(cmd.bank_id, existing, now.date())
            assert doc is not None
            if doc["quote_id"] != cmd.quote_id:
                raise Conflict(f"bank_loan_ref {cmd.bank_loan_ref} is already booked on another quote")
            return doc, False
        quote = await uow.repo.get_quote(cmd.bank_id, cmd.quote_id)
        if quote is None:
            raise NotFound(f"quote {cmd.quote_id} not found", field="quote_id")
        if now > quote.valid_until:
            raise Conflict(
                f"quote {cmd.quote_id} expired at {quote.valid_until.isoformat()}", field="quote_id"
            )
        if await uow.repo.loan_for_quote(cmd.quote_id) is not None:
            raise Conflict(f"quote {cmd.quote_id} is already booked", field="quote_id")
        product = book.for_bank(cmd.bank_id).products.get(quote.product) if book is not None else None
        if product is not None and product.green_only and quote.document.get("classification") is None:
            raise Conflict(
                f"{quote.product} is for classified green projects: ask for a quote with a purpose or "
                "activity_code before booking",
                field="quote_id",
            )
        if cmd.drawn_amount > quote.amount_cny:
            raise InvalidRequest(
                f"drawn amount {cmd.drawn_amount} exceeds the quoted {quote.amount_cny} CNY",
                field="drawn_amount_cny",
            )
        enterprise, _ = await uow.repo.enterprise_and_rating(quote.credit_code)
        d = quote.document
        subsidy = money(Decimal(d["subsidy_cost_first_year_cny"]) * cmd.drawn_amount / quote.amount_cny)
        pledge = d.get("pledge") or {}
        await uow.repo.add_loan(
            NewLoan(
                loan_id=cmd.loan_id,
                bank_id=cmd.bank_id,
                quote_id=cmd.quote_id,
                bank_loan_ref=cmd.bank_loan_ref,
                credit_code=quote.credit_code,
                product=quote.product,
                industry_code=enterprise.industry_code if enterprise else "unknown",
                principal=cmd.drawn_amount,
                drawn_on=cmd.drawn_on,
                term_months=int(d["term_months"]),
                rate_pct=quote.annual_rate_pct,
                base_rate_pct=Decimal(d["components"]["base_rate_pct"]),
                components=d["components"],
                origin_label=quote.label,
                rating_id=quote.rating_id,
                approval_track=quote.approval_track,
                approval_sla_days=int(d["approval"]["sla_working_days_max"]),
                allowance_quantity_t=Decimal(pledge["allowance_quantity_t"]) if pledge else None,
                subsidy_cny=subsidy,
                kpi_targets=(d.get("ratchet_start") or {}).get("kpi_targets") or None,
            )
        )
        doc = await uow.repo.get_loan(cmd.bank_id, cmd.loan_id, now.date())
        await uow.commit()
    assert doc is not None
    return doc, True


async def read_loan(bank_id: str, loan_id: str, uow: UnitOfWorkPort, today: date) -> Document:
    async with uow:
        doc = await uow.repo.get_loan(bank_id, loan_id, today)
    if doc is None:
        raise NotFound(f"loan {loan_id} not found", field="loan_id")
    return doc


async def list_loans(
    bank_id: str,
    uow: UnitOfWorkPort,
    today: date,
    *,
    credit_code: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[Document]:
    async with uow:
        return await uow.repo.list_loans(bank_id, credit_code, status, after, min(limit, MAX_PAGE), today)


async def change_status(
    bank_id: str, loan_id: str, status: str, outstanding: Decimal | None, uow: UnitOfWorkPort, now: datetime
) -> Document:
    async with uow:
        loan = await uow.repo.loan_state(bank_id, loan_id, now.date())
        if loan is None:
            raise NotFound(f"loan {loan_id} not found", field="loan_id")
        check_transition(loan.status, status)
        if outstanding is not None and outstanding > loan.outstanding:
            raise InvalidRequest("outstanding cannot grow through a status report", field="outstanding_cny")
        await uow.repo.set_status(loan_id, status, outstanding)
        doc = await uow.repo.get_loan(bank_id, loan_id, now.date())
        await uow.commit()
    assert doc is not None
    return doc


async def list_events(
    bank_id: str, uow: UnitOfWorkPort, *, loan_id: str | None, kind: str | None, after: int, limit: int
) -> list[Document]:
    async with uow:
        return await uow.repo.list_loan_events(bank_id, loan_id, kind, after, min(limit, MAX_PAGE))


async def portfolio(bank_id: str, uow: UnitOfWorkPort, today: date, book: PolicyBook) -> Document:
    async with uow:
        return await uow.repo.portfolio(bank_id, today, book.for_bank(bank_id).pcaf)
