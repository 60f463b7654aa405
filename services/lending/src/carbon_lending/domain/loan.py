"""A booked loan as lending monitors it: status rules, ratchet repricing and alerts.

Status transitions follow what a bank can report: a performing loan can fall overdue, an
overdue loan can cure or become non-performing, any open loan can be repaid; repaid is final.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from carbon_lending.domain.errors import Conflict
from carbon_lending.domain.model import Label, LoanStatus, Rating, label_rank, pct
from carbon_lending.domain.policy import BankPolicy
from carbon_lending.domain.ratchet import KpiTarget, kpi_ratchet_bp, next_period_start, ratchet_bp

TRANSITIONS: dict[str, frozenset[str]] = {
    "performing": frozenset({"overdue", "repaid"}),
    "overdue": frozenset({"performing", "non_performing", "repaid"}),
    "non_performing": frozenset({"overdue", "performing", "repaid"}),
    "repaid": frozenset(),
}


def check_transition(current: str, new: str) -> None:
    if new not in TRANSITIONS:
        raise Conflict(f"unknown loan status {new!r}")
    if new not in TRANSITIONS[current]:
        raise Conflict(f"a {current} loan cannot become {new}")


@dataclass(frozen=True, slots=True)
class LoanState:
    loan_id: str
    bank_id: str
    credit_code: str
    product: str
    outstanding: Decimal
    drawn_on: date
    status: LoanStatus
    rate_pct: Decimal
    origin_bp: Decimal  # rate at origination in bp, ratchet excluded
    ratchet_bp: Decimal
    origin_label: Label | None
    current_label: Label | None
    allowance_quantity_t: Decimal | None = None
    margin_call_open: bool = False
    kpi_targets: tuple[KpiTarget, ...] = ()
    rating_id: str | None = None


@dataclass(frozen=True, slots=True)
class Repricing:
    loan: LoanState
    rating_id: str  # the rating that moved it, or the loan's rating in force for a KPI move
    label: str
    effective_from: date
    old_rate_pct: Decimal
    new_rate_pct: Decimal
    ratchet_bp: Decimal
    basis: str = "label"  # label | kpi


@dataclass(frozen=True, slots=True)
class Alert:
    loan: LoanState
    kind: str  # downgrade | veto | margin_call
    detail: str
    rating_id: str | None = None


def evaluate(
    loan: LoanState, rating: Rating, policy: BankPolicy, today: date
) -> tuple[Repricing | None, list[Alert]]:
    """What a new current rating means for one open loan: a ratchet repricing and/or alerts."""
    alerts: list[Alert] = []
    old, new = label_rank(loan.current_label), label_rank(rating.label)
    if old is not None and new is not None and new > old:
        alerts.append(
            Alert(loan, "downgrade", f"label {loan.current_label} → {rating.label}", rating.rating_id)
        )
    if rating.vetoes:
        alerts.append(Alert(loan, "veto", f"rating vetoes: {', '.join(rating.vetoes)}", rating.rating_id))
    product = policy.products.get(loan.product)
    if product is None or product.ratchet is None or loan.kpi_targets:
        return None, alerts  # a KPI-linked loan moves on its KPIs (evaluate_kpis), not the label
    move = ratchet_bp(product.ratchet, loan.origin_label, rating.label)
    if move == loan.ratchet_bp:
        return None, alerts
    effective = next_period_start(loan.drawn_on, policy.interest_period_months, today)
    new_rate = pct(loan.origin_bp + move)
    return Repricing(loan, rating.rating_id, rating.label, effective, loan.rate_pct, new_rate, move), alerts


def evaluate_kpis(
    loan: LoanState, observed: dict[str, Decimal | None], policy: BankPolicy, today: date
) -> Repricing | None:
    """What newly observed KPIs mean for a KPI-linked loan: a repricing, or nothing."""
    product = policy.products.get(loan.product)
    if product is None or product.ratchet is None or not loan.kpi_targets:
        return None
    move = kpi_ratchet_bp(product.ratchet, loan.kpi_targets, observed)
    if move == loan.ratchet_bp:
        return None
    effective = next_period_start(loan.drawn_on, policy.interest_period_months, today)
    return Repricing(
        loan,
        loan.rating_id or "",
        loan.current_label or "unrated",
        effective,
        loan.rate_pct,
        pct(loan.origin_bp + move),
        move,
        basis="kpi",
    )
