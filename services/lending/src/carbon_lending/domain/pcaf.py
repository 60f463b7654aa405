"""Financed emissions by PCAF attribution (business loans), and the borrower figures behind them.

PCAF Global GHG Accounting & Reporting Standard, Part A, business loans and unlisted equity
(domain-data §5): financed emissions = attribution factor × borrower emissions, with
attribution = outstanding / (total debt + total equity) for an unlisted company (book values).

* **Borrower emissions**: the trailing 12 months of the borrower's carbon account (lending's
  copy of ``accounting.accounts.v1``) ending at its latest period, annualised (× 12 / n) when
  fewer than 12 months are known. Their data-quality score (PCAF-like 1 best … 5) is the
  emissions-weighted mean of the monthly scores.
* **Attribution**, in order:
  1. ``debt_plus_equity``: the latest ``finance.total_debt`` + ``finance.total_equity`` reported
     for the borrower (both needed);
  2. fallback ``revenue_proxy`` (documented in docs/lending.md): debt + equity estimated as
     trailing-12-month ``finance.revenue`` × the policy's assets-per-revenue ratio for the
     borrower's industry division (GB/T 4754 first two digits, else ``default``); the loan's
     score is then at least ``fallback_min_score`` (4: PCAF's score for estimated figures);
  3. neither known, or no emissions: ``not_covered`` (its outstanding is reported as uncovered,
     never guessed).
  The factor is capped at 1 (a loan cannot finance more than the whole company).
* **Portfolio score**: Σ score × outstanding / Σ outstanding over the covered loans (PCAF's
  outstanding-weighted score). tCO2 are quantised to 0.001, factors to 0.000001, half-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from carbon_lending.domain.policy import PcafTerms
from carbon_lending.domain.ratchet import add_months

DEBT, EQUITY, REVENUE = "finance.total_debt", "finance.total_equity", "finance.revenue"
#: the finance facts PCAF attribution reads (lending keeps no other fact)
PCAF_INDICATORS = frozenset({DEBT, EQUITY, REVENUE})

TCO2_Q = Decimal("0.001")
FACTOR_Q = Decimal("0.000001")
SCORE_Q = Decimal("0.01")
CNY_PER_10K = Decimal(10000)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MonthlyAccount:
    period: str
    total_tco2: Decimal
    output_quantity: Decimal | None
    output_unit: str | None
    data_quality_score: Decimal


@dataclass(frozen=True, slots=True)
class EmissionFigures:
    annual_tco2: Decimal
    data_quality_score: Decimal
    months: int
    intensity_per_output: Decimal | None


@dataclass(frozen=True, slots=True)
class FinanceFact:
    indicator: str
    period: str
    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class Borrower:
    credit_code: str
    industry_code: str
    emissions: EmissionFigures | None
    debt_plus_equity_cny: Decimal | None
    annual_revenue_cny: Decimal | None


@dataclass(frozen=True, slots=True)
class Attribution:
    loan_id: str
    credit_code: str
    outstanding: Decimal
    method: str  # debt_plus_equity | revenue_proxy | not_covered
    factor: Decimal | None
    financed_tco2: Decimal | None
    score: Decimal | None
    reason: str


def _window(periods: Iterable[str]) -> set[str]:
    """The trailing 12-month window ending at the latest of ``periods``."""
    periods = list(periods)
    latest = max(periods)
    y, m = (int(x) for x in latest.split("-"))
    start = add_months(date(y, m, 1), -11)
    first = f"{start.year:04d}-{start.month:02d}"
    return {p for p in periods if first <= p <= latest}


def trailing_emissions(accounts: Sequence[MonthlyAccount]) -> EmissionFigures | None:
    if not accounts:
        return None
    window = _window(a.period for a in accounts)
    rows = [a for a in accounts if a.period in window]
    total = sum((a.total_tco2 for a in rows), ZERO)
    n = len(rows)
    annual = (total * 12 / n).quantize(TCO2_Q, ROUND_HALF_UP)
    if total > 0:
        score = sum((a.data_quality_score * a.total_tco2 for a in rows), ZERO) / total
    else:
        score = sum((a.data_quality_score for a in rows), ZERO) / n
    units = {a.output_unit for a in rows}
    output = sum((a.output_quantity or ZERO for a in rows), ZERO)
    intensity = None
    if (
        len(units) == 1
        and None not in units
        and all(a.output_quantity is not None for a in rows)
        and output > 0
    ):
        intensity = (total / output).quantize(Decimal("0.000001"), ROUND_HALF_UP)
    return EmissionFigures(annual, score.quantize(SCORE_Q, ROUND_HALF_UP), n, intensity)


def _cny(f: FinanceFact) -> Decimal:
    return f.value * CNY_PER_10K if f.unit == "10k CNY" else f.value


def debt_plus_equity(facts: Sequence[FinanceFact]) -> Decimal | None:
    """Latest reported total debt + latest total equity (balance-sheet stocks), in CNY."""
    latest: dict[str, FinanceFact] = {}
    for f in facts:
        held = latest.get(f.indicator)
        if f.indicator in (DEBT, EQUITY) and (held is None or f.period > held.period):
            latest[f.indicator] = f
    if len(latest) < 2:
        return None
    return sum((_cny(f) for f in latest.values()), ZERO)


def annual_revenue(facts: Sequence[FinanceFact]) -> Decimal | None:
    """Trailing-12-month revenue (a monthly flow), annualised, in CNY."""
    rows = [f for f in facts if f.indicator == REVENUE]
    if not rows:
        return None
    window = _window(f.period for f in rows)
    kept = [f for f in rows if f.period in window]
    return sum((_cny(f) for f in kept), ZERO) * 12 / len(kept)


def attribute(loan_id: str, outstanding: Decimal, borrower: Borrower | None, terms: PcafTerms) -> Attribution:
    code = borrower.credit_code if borrower else ""
    if borrower is None or borrower.emissions is None:
        return Attribution(loan_id, code, outstanding, "not_covered", None, None, None, "no carbon account")
    em = borrower.emissions
    if borrower.debt_plus_equity_cny is not None and borrower.debt_plus_equity_cny > 0:
        method, denominator, score = "debt_plus_equity", borrower.debt_plus_equity_cny, em.data_quality_score
        reason = "outstanding / (total debt + total equity)"
    else:
        ratio = terms.ratio_for(borrower.industry_code)
        if borrower.annual_revenue_cny is None or borrower.annual_revenue_cny <= 0 or ratio is None:
            return Attribution(
                loan_id, code, outstanding, "not_covered", None, None, None, "no debt + equity and no revenue"
            )
        method, denominator = "revenue_proxy", borrower.annual_revenue_cny * ratio
        score = max(em.data_quality_score, terms.fallback_min_score)
        reason = (
            f"debt + equity estimated as annual revenue × {ratio} (industry {borrower.industry_code[:2]})"
        )
    factor = min(outstanding / denominator, Decimal(1)).quantize(FACTOR_Q, ROUND_HALF_UP)
    financed = (factor * em.annual_tco2).quantize(TCO2_Q, ROUND_HALF_UP)
    return Attribution(loan_id, code, outstanding, method, factor, financed, score, reason)


def summarise(attributions: Sequence[Attribution]) -> dict[str, object]:
    covered = [a for a in attributions if a.financed_tco2 is not None]
    covered_out = sum((a.outstanding for a in covered), ZERO)
    total_out = sum((a.outstanding for a in attributions), ZERO)
    weighted = (
        (sum((a.score * a.outstanding for a in covered if a.score is not None), ZERO) / covered_out).quantize(
            SCORE_Q, ROUND_HALF_UP
        )
        if covered_out
        else None
    )
    by_method: dict[str, dict[str, str | int]] = {}
    for a in attributions:
        m = by_method.setdefault(a.method, {"loans": 0, "outstanding_cny": "0", "financed_tco2": "0"})
        m["loans"] = int(m["loans"]) + 1
        m["outstanding_cny"] = format(Decimal(str(m["outstanding_cny"])) + a.outstanding, "f")
        m["financed_tco2"] = format(Decimal(str(m["financed_tco2"])) + (a.financed_tco2 or ZERO), "f")
    return {
        "status": "available" if covered else "unavailable",
        "method": "PCAF business loans: outstanding / (debt + equity) × borrower annual tCO2",
        "financed_tco2": format(sum((a.financed_tco2 or ZERO for a in covered), ZERO), "f"),
        "weighted_data_quality_score": None if weighted is None else format(weighted, "f"),
        "covered_outstanding_cny": format(covered_out, "f"),
        "uncovered_outstanding_cny": format(total_out - covered_out, "f"),
        "coverage_ratio": format((covered_out / total_out).quantize(Decimal("0.0001"), ROUND_HALF_UP), "f")
        if total_out
        else None,
        "by_method": dict(sorted(by_method.items())),
    }
