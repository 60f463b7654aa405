"""Use cases that keep booked loans honest: repricing and alerts on a new rating, margin calls
on a CEA price update. Each runs inside the caller's unit of work and emits the events owed.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from carbon_lending.domain.loan import Alert, Repricing, evaluate, evaluate_kpis
from carbon_lending.domain.model import Rating
from carbon_lending.domain.pledge import margin_call_due
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.contracts import LoanAlert, LoanRepriced
from carbon_lending.service_layer.ports import Document, UnitOfWorkPort


async def reprice_on_ratings(
    uow: UnitOfWorkPort, ratings: Sequence[Rating], book: PolicyBook, now: datetime
) -> tuple[int, int]:
    """Re-evaluate the open loans of the enterprises whose current rating changed.

    One statement moves every open loan of these enterprises to its new label and rating id and
    returns, as they were, the loans the new rating can move or alert on (a loan already carrying
    the rating's label, with no vetoes to report, is not re-evaluated: nothing would change but
    its rating id); repricings and events are written in bulk. Returns (repriced, alerts).
    """
    if not ratings:
        return 0, 0
    today = now.date()
    by_code = {r.credit_code: r for r in ratings}
    loans = await uow.repo.relabel_loans(ratings, today)  # a replay's enterprises mostly have no loans
    repricings: list[Repricing] = []
    alerts: list[Alert] = []
    for loan in loans:
        rep, found = evaluate(loan, by_code[loan.credit_code], book.for_bank(loan.bank_id), today)
        if rep is not None:
            repricings.append(rep)
        alerts.extend(found)
    await uow.repo.save_repricings(repricings)
    rows = _emit_repricings(uow, repricings, now)
    rows.extend(_emit_alerts(uow, alerts, now))
    await uow.repo.add_loan_events(rows)
    return len(repricings), len(alerts)


async def reprice_on_kpis(
    uow: UnitOfWorkPort, credit_codes: Sequence[str], book: PolicyBook, now: datetime
) -> int:
    """Re-evaluate the KPI-linked open loans of enterprises whose carbon account changed."""
    if not credit_codes:
        return 0
    today = now.date()
    loans = await uow.repo.open_kpi_loans_for(credit_codes, today)
    if not loans:
        return 0
    observed = await uow.repo.kpi_observations(sorted({loan.credit_code for loan in loans}))
    repricings = [
        rep
        for loan in loans
        if (
            rep := evaluate_kpis(loan, observed.get(loan.credit_code, {}), book.for_bank(loan.bank_id), today)
        )
        is not None
    ]
    await uow.repo.save_repricings(repricings)
    await uow.repo.add_loan_events(_emit_repricings(uow, repricings, now))
    return len(repricings)


def _emit_repricings(uow: UnitOfWorkPort, repricings: Sequence[Repricing], now: datetime) -> list[Document]:
    rows: list[Document] = []
    for rep in repricings:
        ev = LoanRepriced(
            loan_id=rep.loan.loan_id,
            bank_id=rep.loan.bank_id,
            credit_code=rep.loan.credit_code,
            rating_id=rep.rating_id,
            label=rep.label,
            old_rate_pct=rep.old_rate_pct,
            new_rate_pct=rep.new_rate_pct,
            ratchet_bp=rep.ratchet_bp,
            effective_from=rep.effective_from,
            repriced_at=now,
        )
        env = uow.emit(ev)
        row = _row(env.id, rep.loan.bank_id, rep.loan.loan_id, rep.loan.credit_code, "repriced", ev)
        row["payload"]["basis"] = rep.basis
        rows.append(row)
    return rows


def _emit_alerts(uow: UnitOfWorkPort, alerts: Sequence[Alert], now: datetime) -> list[Document]:
    rows = []
    for a in alerts:
        ev = LoanAlert(
            alert_id=str(uuid.uuid4()),
            loan_id=a.loan.loan_id,
            bank_id=a.loan.bank_id,
            credit_code=a.loan.credit_code,
            kind=a.kind,
            detail=a.detail,
            rating_id=a.rating_id,
            raised_at=now,
        )
        env = uow.emit(ev)
        rows.append(_row(env.id, a.loan.bank_id, a.loan.loan_id, a.loan.credit_code, a.kind, ev))
    return rows


def _row(event_id: str, bank_id: str, loan_id: str, credit_code: str, kind: str, ev: object) -> Document:
    payload = ev.model_dump(mode="json")  # type: ignore[attr-defined]
    payload["event_id"] = event_id
    payload["type"] = kind
    return {
        "event_id": event_id,
        "bank_id": bank_id,
        "loan_id": loan_id,
        "credit_code": credit_code,
        "kind": kind,
        "payload": payload,
    }


async def update_cea_price(
    uow: UnitOfWorkPort, price: Decimal, as_of: date, book: PolicyBook, now: datetime
) -> int:
    """Record a CEA price, revalue every open pledge loan; raise one margin call per breach.

    A loan with a margin call already open gets no second one; a loan whose coverage recovers
    has its margin call closed (so a later fall raises a new one). Returns calls raised.
    """
    async with uow:
        await uow.repo.add_cea_price(price, as_of)
        loans = await uow.repo.open_pledge_loans(now.date())
        raise_, clear = [], []
        for loan in loans:
            product = book.for_bank(loan.bank_id).products.get(loan.product)
            if product is None or product.pledge is None or loan.allowance_quantity_t is None:
                continue
            due = margin_call_due(product.pledge, loan.outstanding, loan.allowance_quantity_t, price)
            if due and not loan.margin_call_open:
                value = loan.allowance_quantity_t * price
                raise_.append(
                    Alert(
                        loan,
                        "margin_call",
                        f"CEA {price} CNY/t: collateral {value:.2f} CNY < "
                        f"{product.pledge.margin_call_coverage} × outstanding {loan.outstanding} CNY",
                    )
                )
            elif not due and loan.margin_call_open:
                clear.append(loan.loan_id)
        await uow.repo.set_margin_calls([a.loan.loan_id for a in raise_], True)
        await uow.repo.set_margin_calls(clear, False)
        await uow.repo.add_loan_events(_emit_alerts(uow, raise_, now))
        await uow.commit()
    return len(raise_)
