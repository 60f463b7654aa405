"""Repayment schedule summary: equal principal instalments (等额本金) after an optional grace.

Interest accrues monthly at annual_rate / 12 on the outstanding principal and is rounded to the
cent each month (half-up). During a grace period no principal is repaid and the interest is
deferred (not capitalised): it is paid in equal parts with the amortising instalments, the last
part taking the rounding remainder. Total repaid = principal + total interest, exactly.

The summary depends only on its four arguments and is immutable, so it is memoised: banks ask
for the same few amounts, rates and terms over and over, and the month-by-month loop was a
visible share of a quote's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from carbon_lending.domain.model import money


@dataclass(frozen=True, slots=True)
class ScheduleSummary:
    method: str
    grace_months: int
    amortising_months: int
    monthly_principal: Decimal
    deferred_interest: Decimal
    first_instalment: Decimal
    total_interest: Decimal
    total_repaid: Decimal


@lru_cache(maxsize=4096)
def summarise(
    amount: Decimal, annual_rate_pct: Decimal, term_months: int, grace_months: int = 0
) -> ScheduleSummary:
    if not 0 <= grace_months < term_months:
        raise ValueError("grace must be shorter than the term")
    monthly = annual_rate_pct / 100 / 12
    amortising = term_months - grace_months
    principal_step = money(amount / amortising)
    deferred = sum((money(amount * monthly) for _ in range(grace_months)), Decimal(0))
    deferred_part = money(deferred / amortising) if grace_months else Decimal(0)
    outstanding = amount
    total_interest = deferred
    first = Decimal(0)
    for k in range(amortising):
        interest = money(outstanding * monthly)
        principal = principal_step if k < amortising - 1 else outstanding
        if k == 0:
            first = principal + interest + deferred_part
        total_interest += interest
        outstanding -= principal
    return ScheduleSummary(
        method="equal_principal" if not grace_months else "equal_principal_after_grace_deferred_interest",
        grace_months=grace_months,
        amortising_months=amortising,
        monthly_principal=principal_step,
        deferred_interest=deferred,
        first_instalment=first,
        total_interest=total_interest,
        total_repaid=amount + total_interest,
    )
