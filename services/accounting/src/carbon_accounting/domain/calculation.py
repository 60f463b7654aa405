"""The monthly carbon account: facts × factors → scope 1/2/3, intensities, quality, lineage.

All arithmetic is exact ``Decimal`` (products and sums of decimal inputs need no rounding).
Only intensities (a division) are rounded, to ``INTENSITY_QUANTUM`` half-even, our presentation
choice; emissions are never rounded, so 1,000 t raw coal × 1.9003 = 1,900.3 tCO2 exactly.

Scope 2 is computed from NET purchased electricity and heat where the industry method says so
(``methods.IndustryMethod.nets_exports``): exported quantities are deducted term by term, and a
net below zero is floored at zero with an explicit lineage term.

Where two sources report the same indicator for the same month, the authoritative one wins
(DESIGN.md §3 cross-validation): if any authoritative fact exists for an indicator, declared-only
facts for it are left out (and named in the notes), so grid-metered and self-declared electricity
are never added together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from carbon_accounting.domain.factors import Factor, FactorSet
from carbon_accounting.domain.methods import method_for
from carbon_accounting.domain.model import AccountFigures, Calculation, Enterprise, Fact, LineageLine
from carbon_accounting.domain.quality import TOLERANCE, cross_check, data_quality_score
from carbon_accounting.domain.units import is_accounted

#: presentation rounding of intensities (our choice: 6 decimals, half-even)
INTENSITY_QUANTUM = Decimal("0.000001")
ZERO = Decimal(0)

#: attributes.grid_region → factor code; national average is the MEE default for enterprises
GRID_BY_REGION = {
    None: "grid.national_average",
    "national": "grid.national_average",
    "north_china": "grid.north_china",
    "shanxi": "grid.shanxi",
}
CARBONATE_BY_TYPE = {
    None: "process.carbonate.limestone",
    "limestone": "process.carbonate.limestone",
    "calcite": "process.carbonate.limestone",
    "dolomite": "process.carbonate.dolomite",
}


#: exported energy, deducted from purchased energy where the method nets exports (``methods``)
EXPORTS = frozenset({"electricity.exported", "heat.exported"})
FIGURES = (
    "scope1_combustion_tco2",
    "scope1_process_tco2",
    "scope2_location_tco2",
    "scope2_market_tco2",
    "scope3_tco2",
)


def period_year(period: str) -> int:
    return int(period[:4])


def _order(f: Fact) -> tuple[str, str]:
    return f.indicator, f.fact_key


def select_facts(facts: Iterable[Fact]) -> tuple[list[Fact], list[str]]:
    """Accounted facts in (indicator, fact_key) order, the authoritative source winning per indicator."""
    accounted = sorted((f for f in facts if is_accounted(f.indicator)), key=_order)
    declared = {f.indicator for f in accounted if f.declared_only}
    if not declared:  # the common case: every source authoritative, nothing to arbitrate
        return accounted, []
    notes: list[str] = []
    contested = {f.indicator for f in accounted if not f.declared_only} & declared
    for indicator in sorted(contested):
        dropped = [f.fact_key for f in accounted if f.indicator == indicator and f.declared_only]
        notes.append(f"{indicator}: declared values {dropped} superseded by the authoritative source")
    used = [f for f in accounted if not (f.declared_only and f.indicator in contested)]
    return used, notes


def _line(figure: str, fact: Fact, factor: Factor, sign: int = 1) -> LineageLine:
    return LineageLine(figure, sign * fact.value * factor.value, fact, factor, sign)


def _sum(indicator: str, facts: Sequence[Fact]) -> Decimal | None:
    values = [f.value for f in facts if f.indicator == indicator]
    return sum(values, ZERO) if values else None


def _ratio(num: Decimal, den: Decimal | None) -> Decimal | None:
    if den is None or den == 0:
        return None
    return (num / den).quantize(INTENSITY_QUANTUM)


def _floored(figure: str, lines: list[LineageLine], what: str) -> list[LineageLine]:
    """``lines`` plus, when deductions exceed purchases, the term that brings the sum back to 0.

    Our choice, documented in docs/accounting.md: exports and certificates can cancel purchased
    energy but never make scope 2 negative (GHG Protocol Scope 2 Guidance: scope 2 is never
    negative; energy sold is reported apart, not as avoided emissions).
    """
    net = sum((ln.result for ln in lines), ZERO)
    if net >= 0:
        return lines
    return [*lines, LineageLine(figure, -net, note=f"{what} floored at zero: deductions exceed purchases")]


def _grid(fact: Fact, factors: FactorSet, year: int) -> Factor:
    code = GRID_BY_REGION.get(fact.attributes.get("grid_region"), "grid.national_average")
    return factors.by_code(code, year)


def compute_account(
    credit_code: str,
    period: str,
    facts: Iterable[Fact],
    enterprise: Enterprise | None,
    factors: FactorSet,
    tolerance: Decimal = TOLERANCE,
) -> Calculation:
    """Compute one enterprise-month; raises ``FactorNotFound`` if the set lacks a needed factor.

    ``tolerance``: relative difference above which verified and computed emissions are flagged.
    """
    year = period_year(period)
    industry = enterprise.industry_code if enterprise else None
    method = method_for(industry)
    used, notes = select_facts(facts)
    lines: list[LineageLine] = []
    electricity: list[LineageLine] = []
    heat_location: list[LineageLine] = []
    heat_market: list[LineageLine] = []
    exports_ignored: list[str] = []

    for f in used:
        indicator = f.indicator
        if indicator.startswith("energy."):
            factor = factors.for_indicator(indicator, year)
            if factor is None:
                notes.append(f"{indicator}: no combustion factor in {factors.ref}; not accounted")
                continue
            lines.append(_line("scope1_combustion_tco2", f, factor))
        elif indicator == "process.clinker":
            lines.append(_line("scope1_process_tco2", f, factors.by_code("process.clinker", year)))
        elif indicator == "process.carbonate":
            code = CARBONATE_BY_TYPE.get(f.attributes.get("carbonate_type"), "process.carbonate.limestone")
            lines.append(_line("scope1_process_tco2", f, factors.by_code(code, year)))
        elif indicator == "electricity.purchased":
            electricity.append(_line("scope2_location_tco2", f, _grid(f, factors, year)))
        elif indicator == "heat.purchased":
            factor = factors.by_code("heat.purchased", year)
            heat_location.append(_line("scope2_location_tco2", f, factor))
            heat_market.append(_line("scope2_market_tco2", f, factor))
        elif indicator in EXPORTS:
            if not method.nets_exports:
                exports_ignored.append(f.fact_key)
            elif indicator == "electricity.exported":
                electricity.append(_line("scope2_location_tco2", f, _grid(f, factors, year), -1))
            else:
                factor = factors.by_code("heat.purchased", year)
                heat_location.append(_line("scope2_location_tco2", f, factor, -1))
                heat_market.append(_line("scope2_market_tco2", f, factor, -1))
        elif indicator.startswith("scope3."):
            lines.append(LineageLine("scope3_tco2", f.value, f))

    if exports_ignored:
        notes.append(
            f"{method.name}: exported electricity/heat {exports_ignored} not netted (the method's output)"
        )
    lines.extend(_floored("scope2_location_tco2", electricity, "net purchased electricity"))
    lines.extend(_floored("scope2_location_tco2", heat_location, "net purchased heat"))
    lines.extend(_floored("scope2_market_tco2", heat_market, "net purchased heat"))

    if method.calcination_from_output and not any(f.indicator == "process.clinker" for f in used):
        for f in used:
            if f.indicator == method.output_indicator:
                lines.append(_line("scope1_process_tco2", f, factors.by_code("process.clinker", year)))
                notes.append("cement: calcination computed from clinker produced (no process.clinker fact)")

    lines.extend(_market_based(used, factors, year, method.nets_exports))

    totals = dict.fromkeys(FIGURES, ZERO)
    for ln in lines:
        totals[ln.figure] += ln.result
    s1c, s1p = totals["scope1_combustion_tco2"], totals["scope1_process_tco2"]
    s2l, s2m, s3 = totals["scope2_location_tco2"], totals["scope2_market_tco2"], totals["scope3_tco2"]
    grand = s1c + s1p + s2l
    output = _sum(method.output_indicator, used) if method.output_indicator else None
    revenue = _sum("finance.revenue", used)
    value_added = _sum("finance.value_added", used)
    check = cross_check(used, grand, tolerance)
    if check is not None and check.discrepancy:
        notes.append(
            f"verified {check.verified_tco2} tCO2 ({check.verified_by}) differs from computed {grand} tCO2"
            f" ({check.computed_from}) by more than {check.tolerance:%}"
        )
    figures = AccountFigures(
        credit_code=credit_code,
        period=period,
        industry_code=industry,
        method=method.name,
        scope1_combustion_tco2=s1c,
        scope1_process_tco2=s1p,
        scope2_location_tco2=s2l,
        scope2_market_tco2=s2m,
        scope3_tco2=s3,
        total_tco2=grand,
        output_quantity=output,
        output_unit=method.output_unit if output is not None else None,
        intensity_per_output=_ratio(grand, output),
        revenue_10k_cny=revenue,
        intensity_per_revenue=_ratio(grand, revenue),
        value_added_10k_cny=value_added,
        intensity_per_value_added=_ratio(grand, value_added),
        data_quality_score=data_quality_score(used, check),
        fact_count=len(used),
        factor_set=factors.ref,
        cross_check=check,
    )
    return Calculation(figures, tuple(lines), tuple(notes))


def _market_based(
    used: Sequence[Fact], factors: FactorSet, year: int, nets_exports: bool
) -> list[LineageLine]:
    """Market-based scope 2 electricity: (purchased − exported − green) × residual mix, floored at 0.

    GHG Protocol Scope 2 Guidance (2015): contractual instruments (green-power certificates)
    carry zero emissions; the rest uses the residual mix (domain-data.md §2, "national,
    excluding market-traded non-fossil"). Exported electricity is deducted only where the
    method nets exports (see ``methods``). One term per fact, so lineage names every fact.
    """
    deducted = (
        ("electricity.green_purchased", "electricity.exported")
        if nets_exports
        else ("electricity.green_purchased",)
    )
    if not any(f.indicator == "electricity.purchased" for f in used):
        return []
    factor = factors.by_code("grid.residual_mix", year)
    terms = [
        _line("scope2_market_tco2", f, factor, -1 if f.indicator in deducted else 1)
        for f in used
        if f.indicator == "electricity.purchased" or f.indicator in deducted
    ]
    return _floored("scope2_market_tco2", terms, "net market-based electricity")
