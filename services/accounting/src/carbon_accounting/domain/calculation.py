"""The monthly carbon account: facts × factors → scope 1/2/3, intensities, quality, lineage.

All arithmetic is exact ``Decimal`` (products and sums of decimal inputs need no rounding).
Only intensities (a division) are rounded, to ``INTENSITY_QUANTUM`` half-even, our presentation
choice; emissions are never rounded, so 1,000 t raw coal × 1.9003 = 1,900.3 tCO2 exactly.

Where two sources report the same indicator for the same month, the authoritative one wins
(DESIGN.md §3 cross-validation): if any authoritative fact exists for an indicator, declared-only
facts for it are left out (and named in the notes), so grid-metered and self-declared electricity
are never added together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from carbon_accounting.domain.factors import Factor, FactorSet
from carbon_accounting.domain.methods import method_for
from carbon_accounting.domain.model import AccountFigures, Calculation, Enterprise, Fact, LineageLine
from carbon_accounting.domain.quality import data_quality_score
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


def period_year(period: str) -> int:
    return int(period[:4])


def select_facts(facts: Iterable[Fact]) -> tuple[list[Fact], list[str]]:
    """Accounted facts, with the authoritative source winning per indicator."""
    by_indicator: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        if is_accounted(f.indicator):
            by_indicator[f.indicator].append(f)
    used: list[Fact] = []
    notes: list[str] = []
    for indicator, group in sorted(by_indicator.items()):
        authoritative = [f for f in group if not f.declared_only]
        if authoritative and len(authoritative) < len(group):
            dropped = [f.fact_key for f in group if f.declared_only]
            notes.append(f"{indicator}: declared values {dropped} superseded by the authoritative source")
        kept = authoritative if authoritative else group
        used.extend(sorted(kept, key=lambda f: f.fact_key))
    return used, notes


def _line(figure: str, fact: Fact, factor: Factor) -> LineageLine:
    result = fact.value * factor.value
    return LineageLine(
        figure=figure,
        result=result,
        arithmetic=f"{fact.value} {fact.unit} × {factor.value} {factor.unit} = {result} tCO2",
        fact=fact,
        factor_code=factor.code,
        factor_value=factor.value,
        factor_unit=factor.unit,
        factor_source=factor.source,
        factor_year=factor.year,
    )


def _sum(indicator: str, facts: Sequence[Fact]) -> Decimal | None:
    values = [f.value for f in facts if f.indicator == indicator]
    return sum(values, ZERO) if values else None


def _ratio(num: Decimal, den: Decimal | None) -> Decimal | None:
    if den is None or den == 0:
        return None
    return (num / den).quantize(INTENSITY_QUANTUM)


def compute_account(
    credit_code: str,
    period: str,
    facts: Iterable[Fact],
    enterprise: Enterprise | None,
    factors: FactorSet,
) -> Calculation:
    """Compute one enterprise-month; raises ``FactorNotFound`` if the set lacks a needed factor."""
    year = period_year(period)
    industry = enterprise.industry_code if enterprise else None
    method = method_for(industry)
    used, notes = select_facts(facts)
    lines: list[LineageLine] = []

    for f in used:
        if f.indicator.startswith("energy."):
            factor = factors.for_indicator(f.indicator, year)
            if factor is None:
                notes.append(f"{f.indicator}: no combustion factor in {factors.ref}; not accounted")
                continue
            lines.append(_line("scope1_combustion_tco2", f, factor))
        elif f.indicator == "process.clinker":
            lines.append(_line("scope1_process_tco2", f, factors.by_code("process.clinker", year)))
        elif f.indicator == "process.carbonate":
            code = CARBONATE_BY_TYPE.get(f.attributes.get("carbonate_type"), "process.carbonate.limestone")
            lines.append(_line("scope1_process_tco2", f, factors.by_code(code, year)))
        elif f.indicator == "electricity.purchased":
            code = GRID_BY_REGION.get(f.attributes.get("grid_region"), "grid.national_average")
            lines.append(_line("scope2_location_tco2", f, factors.by_code(code, year)))
        elif f.indicator == "heat.purchased":
            factor = factors.by_code("heat.purchased", year)
            lines.append(_line("scope2_location_tco2", f, factor))
            lines.append(_line("scope2_market_tco2", f, factor))
        elif f.indicator.startswith("scope3."):
            lines.append(
                LineageLine("scope3_tco2", f.value, f"{f.value} tCO2 reported (pass-through)", fact=f)
            )

    if method.calcination_from_output and not any(f.indicator == "process.clinker" for f in used):
        for f in used:
            if f.indicator == method.output_indicator:
                lines.append(_line("scope1_process_tco2", f, factors.by_code("process.clinker", year)))
                notes.append("cement: calcination computed from clinker produced (no process.clinker fact)")

    lines.extend(_market_based(used, factors, year))

    def total(figure: str) -> Decimal:
        return sum((ln.result for ln in lines if ln.figure == figure), ZERO)

    s1c, s1p = total("scope1_combustion_tco2"), total("scope1_process_tco2")
    s2l, s2m, s3 = total("scope2_location_tco2"), total("scope2_market_tco2"), total("scope3_tco2")
    grand = s1c + s1p + s2l
    output = _sum(method.output_indicator, used) if method.output_indicator else None
    revenue = _sum("finance.revenue", used)
    value_added = _sum("finance.value_added", used)
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
        data_quality_score=data_quality_score(used, grand),
        fact_count=len(used),
        factor_set=factors.ref,
    )
    return Calculation(figures, tuple(lines), tuple(notes))


def _market_based(used: Sequence[Fact], factors: FactorSet, year: int) -> list[LineageLine]:
    """Market-based scope 2 electricity: (purchased − green purchased) × residual mix, floored at 0.

    GHG Protocol Scope 2 Guidance (2015): contractual instruments (green-power certificates)
    carry zero emissions; the rest uses the residual mix (domain-data.md §2, "national,
    excluding market-traded non-fossil").
    """
    purchased = _sum("electricity.purchased", used)
    if purchased is None:
        return []
    green = _sum("electricity.green_purchased", used) or ZERO
    net = max(purchased - green, ZERO)
    factor = factors.by_code("grid.residual_mix", year)
    result = net * factor.value
    return [
        LineageLine(
            figure="scope2_market_tco2",
            result=result,
            arithmetic=(
                f"max({purchased} MWh purchased − {green} MWh green, 0) × {factor.value} {factor.unit}"
                f" = {result} tCO2"
            ),
            factor_code=factor.code,
            factor_value=factor.value,
            factor_unit=factor.unit,
            factor_source=factor.source,
            factor_year=factor.year,
        )
    ]
