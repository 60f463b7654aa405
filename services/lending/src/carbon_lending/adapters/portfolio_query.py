"""The portfolio of one bank: one grouped query over its open loans, rolled up in Python.

Balances by label, industry and product; weighted average rate (by outstanding, at the rate in
force today); rated vs unrated (rate, approval SLA, NPL ratio from bank-reported status);
alerts on open loans; financed emissions by PCAF attribution (``domain/pcaf.py``) from lending's
copies of the borrowers' carbon accounts and finance facts.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_lending.adapters.orm import enterprise_finance, loan_events, loans
from carbon_lending.domain.pcaf import (
    Borrower,
    FinanceFact,
    MonthlyAccount,
    annual_revenue,
    attribute,
    debt_plus_equity,
    summarise,
    trailing_emissions,
)
from carbon_lending.domain.policy import PcafTerms

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


#: each borrower's accounts in the trailing 12 months ending at its latest period (the window of
#: ``domain.pcaf.trailing_emissions``; periods are ``YYYY-MM`` text, so they compare as text)
_TRAILING_ACCOUNTS = text(
    "SELECT e.credit_code, e.period, e.total_tco2, e.output_quantity, e.output_unit, e.data_quality_score "
    "FROM enterprise_emissions e JOIN ("
    "  SELECT credit_code, to_char(to_date(max(period) || '-01', 'YYYY-MM-DD') - interval '11 months', 'YYYY-MM')"
    "  AS first FROM enterprise_emissions WHERE credit_code = ANY(CAST(:codes AS varchar[])) GROUP BY credit_code"
    ") w ON w.credit_code = e.credit_code AND e.period >= w.first"
)


async def trailing_accounts(
    session: AsyncSession, credit_codes: list[str]
) -> dict[str, list[MonthlyAccount]]:
    """Each borrower's monthly accounts in its trailing 12-month window (one query; a borrower
    with 45 months of history loads 12 rows, not 45)."""
    out: dict[str, list[MonthlyAccount]] = {c: [] for c in credit_codes}
    if credit_codes:
        for r in (await session.execute(_TRAILING_ACCOUNTS, {"codes": credit_codes})).all():
            out[r[0]].append(MonthlyAccount(r[1], r[2], r[3], r[4], r[5]))
    return out


async def borrower_figures(
    session: AsyncSession, credit_codes: list[str]
) -> dict[str, tuple[list[MonthlyAccount], list[FinanceFact]]]:
    """Each borrower's monthly accounts (its trailing 12-month window) and finance facts."""
    accounts = await trailing_accounts(session, credit_codes)
    out: dict[str, tuple[list[MonthlyAccount], list[FinanceFact]]] = {
        c: (accounts[c], []) for c in credit_codes
    }
    if not credit_codes:
        return out
    f = enterprise_finance
    for r in (await session.execute(select(f).where(f.c.credit_code.in_(credit_codes)))).all():
        out[r.credit_code][1].append(FinanceFact(r.indicator, r.period, r.value, r.unit))
    return out


async def financed_emissions(session: AsyncSession, bank_id: str, terms: PcafTerms) -> dict[str, Any]:
    q = select(loans.c.loan_id, loans.c.credit_code, loans.c.industry_code, loans.c.outstanding_cny).where(
        loans.c.bank_id == bank_id, loans.c.status != "repaid"
    )
    open_loans = (await session.execute(q)).all()
    figures = await borrower_figures(session, sorted({r.credit_code for r in open_loans}))
    borrowers = {
        code: Borrower(
            credit_code=code,
            industry_code=next(r.industry_code for r in open_loans if r.credit_code == code),
            emissions=trailing_emissions(accounts),
            debt_plus_equity_cny=debt_plus_equity(facts),
            annual_revenue_cny=annual_revenue(facts),
        )
        for code, (accounts, facts) in figures.items()
    }
    return summarise(
        [attribute(r.loan_id, r.outstanding_cny, borrowers.get(r.credit_code), terms) for r in open_loans]
    )


async def portfolio_document(
    session: AsyncSession, bank_id: str, rate_in_force: Any, pcaf: PcafTerms
) -> dict[str, Any]:
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
        "financed_emissions": await financed_emissions(session, bank_id, pcaf),
    }
