"""The portfolio of one bank: one grouped query over its open loans, rolled up in Python.

Balances by label, industry and product; weighted average rate (by outstanding, at the rate in
force today); rated vs unrated (rate, approval SLA, NPL ratio from bank-reported status);
alerts on open loans. Financed emissions are reported as unavailable: lending does not yet
consume ``accounting.accounts.v1`` nor receive borrowers' debt + equity (see docs/lending.md).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_lending.adapters.orm import loan_events, loans

Q4 = Decimal("0.0001")


class _Bucket:
    __slots__ = ("balance", "count", "npl", "rate_x_balance", "sla_days")

    def __init__(self) -> None:
        self.count = 0
        self.balance = Decimal(0)
        self.rate_x_balance = Decimal(0)
        self.npl = Decimal(0)
        self.sla_days = 0

    def add(self, count: int, balance: Decimal, rate_x: Decimal, npl: Decimal, sla: int) -> None:
        self.count += count
        self.balance += balance
        self.rate_x_balance += rate_x
        self.npl += npl
        self.sla_days += sla

    def doc(self) -> dict[str, Any]:
        b = self.balance
        return {
            "loans": self.count,
            "outstanding_cny": format(b, "f"),
            "weighted_rate_pct": format((self.rate_x_balance / b).quantize(Q4, ROUND_HALF_UP), "f")
            if b
            else None,
            "npl_ratio": format((self.npl / b).quantize(Q4, ROUND_HALF_UP), "f") if b else None,
            "avg_approval_sla_days": format(
                (Decimal(self.sla_days) / self.count).quantize(Decimal("0.1"), ROUND_HALF_UP), "f"
            )
            if self.count
            else None,
        }


async def portfolio_document(session: AsyncSession, bank_id: str, rate_in_force: Any) -> dict[str, Any]:
    label = func.coalesce(loans.c.current_label, literal_column("'unrated'"))
    rated = loans.c.origin_label.is_not(None)
    npl = func.sum(loans.c.outstanding_cny).filter(loans.c.status == "non_performing")
    q = (
        select(
            label.label("label"),
            loans.c.industry_code,
            loans.c.product,
            rated.label("rated"),
            func.count().label("n"),
            func.sum(loans.c.outstanding_cny).label("balance"),
            func.sum(loans.c.outstanding_cny * rate_in_force).label("rate_x"),
            func.coalesce(npl, 0).label("npl"),
            func.sum(loans.c.approval_sla_days).label("sla"),
        )
        .where(loans.c.bank_id == bank_id, loans.c.status != "repaid")
        .group_by(label, loans.c.industry_code, loans.c.product, rated)
    )
    total = _Bucket()
    groups: dict[str, dict[str, _Bucket]] = defaultdict(lambda: defaultdict(_Bucket))
    for r in (await session.execute(q)).all():
        args = (r.n, Decimal(r.balance), Decimal(r.rate_x), Decimal(r.npl), int(r.sla))
        total.add(*args)
        groups["by_label"][r.label].add(*args)
        groups["by_industry"][r.industry_code].add(*args)
        groups["by_product"][r.product].add(*args)
        groups["rated_vs_unrated"]["rated" if r.rated else "unrated"].add(*args)
    open_ids = select(loans.c.loan_id).where(loans.c.bank_id == bank_id, loans.c.status != "repaid")
    alerts_q = (
        select(loan_events.c.kind, func.count())
        .where(
            loan_events.c.bank_id == bank_id,
            loan_events.c.kind.in_(("downgrade", "veto", "margin_call")),
            loan_events.c.loan_id.in_(open_ids),
        )
        .group_by(loan_events.c.kind)
    )
    alerts = {k: n for k, n in (await session.execute(alerts_q)).all()}
    margin_calls_open = (
        await session.execute(
            select(func.count()).where(loans.c.bank_id == bank_id, loans.c.margin_call_open.is_(True))
        )
    ).scalar_one()
    return {
        "bank_id": bank_id,
        "total": total.doc(),
        **{name: {k: b.doc() for k, b in sorted(g.items())} for name, g in sorted(groups.items())},
        "alerts_on_open_loans": alerts,
        "margin_calls_open": margin_calls_open,
        "financed_emissions": {
            "status": "unavailable",
            "reason": "PCAF attribution needs the borrowers' emissions (accounting.accounts.v1, not yet "
            "consumed by lending) and their debt + equity (no event carries it yet)",
        },
    }
