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
from operator import itemgetter
from typing import Any

from carbon_accounting.domain.factors import Factor, FactorSet
from carbon_accounting.domain.methods import method_for
from carbon_accounting.domain.model import (
    AccountFigures,
    Calculation,
    CrossCheck,
    Enterprise,
    Fact,
    LineageLine,
)
from carbon_accounting.domain.quality import ACTIVITY_PREFIXES, TOLERANCE, cross_check, data_quality_score
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


# --- the consumer's hot path: figures only, from rows ------------------------------------------
#: positions in a fact row: ``Fact``'s field order (a ``Fact`` is such a row, and so is a database
#: row selected in that order; the columns the figures do not read may be anything, e.g. NULL)
KEY, DEPARTMENT, INDICATOR, VALUE, AUTHORITATIVE, ATTRIBUTES = 0, 4, 6, 8, 11, 12
if (Fact._fields[KEY], Fact._fields[DEPARTMENT], Fact._fields[INDICATOR], Fact._fields[VALUE]) != (
    "fact_key", "department", "indicator", "value",
) or (Fact._fields[AUTHORITATIVE], Fact._fields[ATTRIBUTES]) != ("authoritative", "attributes"):  # fmt: skip
    raise ImportError(
        "Fact's fields moved: update the row positions in domain.calculation"
    )  # pragma: no cover

# what an indicator is to the figures (``_kind``, memoised per indicator string)
_SKIP, _OTHER, _ENERGY, _CLINKER, _CARBONATE, _ELEC, _HEAT, _ELEC_EXPORT, _HEAT_EXPORT, _SCOPE3, _GREEN = (
    range(11)
)
_KINDS: dict[str, tuple[int, bool, bool]] = {}
#: the accounted indicators among them
_ACCOUNTED_KNOWN: set[str] = set()


def _kind(indicator: str) -> tuple[int, bool, bool]:
    """(kind, is activity data, is a finance figure) of an indicator, as ``compute_account`` and
    ``quality`` branch on it; ``_SKIP`` for a family accounting does not read."""
    found = _KINDS.get(indicator)
    if found is not None:
        return found
    if not is_accounted(indicator):
        kind = _SKIP
    elif indicator.startswith("energy."):
        kind = _ENERGY
    elif indicator == "process.clinker":
        kind = _CLINKER
    elif indicator == "process.carbonate":
        kind = _CARBONATE
    elif indicator == "electricity.purchased":
        kind = _ELEC
    elif indicator == "heat.purchased":
        kind = _HEAT
    elif indicator == "electricity.exported":
        kind = _ELEC_EXPORT
    elif indicator == "heat.exported":
        kind = _HEAT_EXPORT
    elif indicator.startswith("scope3."):
        kind = _SCOPE3
    elif indicator == "electricity.green_purchased":
        kind = _GREEN
    else:
        kind = _OTHER
    found = (kind, indicator.startswith(ACTIVITY_PREFIXES), indicator.startswith("finance."))
    if len(_KINDS) < 10_000:  # indicator strings come from events: bounded
        _KINDS[indicator] = found
        if kind != _SKIP:
            _ACCOUNTED_KNOWN.add(indicator)
    return found


def _attribute(row: Sequence[Any], name: str) -> Any:
    attrs = row[ATTRIBUTES]
    return attrs.get(name) if attrs else None


def _declared(row: Sequence[Any]) -> bool:
    """``Fact.declared_only`` of a row."""
    return (not row[AUTHORITATIVE]) or row[DEPARTMENT].startswith("self")


#: the order ``select_facts`` gives the facts: (indicator, fact_key)
_ORDER = itemgetter(INDICATOR, KEY)
_GET_INDICATOR = itemgetter(INDICATOR)
_AUTHORITATIVE = itemgetter(AUTHORITATIVE)
_DEPARTMENT = itemgetter(DEPARTMENT)


def _net(terms: Sequence[Decimal]) -> Decimal:
    return sum(terms, ZERO)


def account_figures(
    credit_code: str,
    period: str,
    facts: Iterable[Sequence[Any]],
    enterprise: Enterprise | None,
    factors: FactorSet,
    tolerance: Decimal = TOLERANCE,
) -> AccountFigures:
    """``compute_account(...).figures`` without the lineage: the same figures, bit for bit.

    The consumer recomputes every touched enterprise-month and publishes only its figures; the
    lineage lines and notes are for the lineage endpoint, which calls ``compute_account``. This
    reads rows positionally (``Fact``'s field order; ``ATTRIBUTES`` may be None for "none"),
    builds no ``Fact``, ``LineageLine`` or ``Calculation``, and does every ``Decimal`` operation
    of ``compute_account`` in the same order with the same operands — sums are rounded to the
    context's precision, so order and operands decide the last digit and the exponent
    (``tests/test_fast_figures.py`` checks equality, ``str`` included, on random months).
    ``FactorNotFound`` in the same cases.
    """
    year = int(period[:4])
    industry = enterprise.industry_code if enterprise else None
    method = method_for(industry)
    kinds = _KINDS
    rows = sorted(facts, key=_ORDER)
    if not _ACCOUNTED_KNOWN.issuperset(map(_GET_INDICATOR, rows)):  # (the database holds only these)
        rows = [f for f in rows if _kind(f[INDICATOR])[0] != _SKIP]  # (sorting is stable)
    # select_facts: a declared-only value gives way to an authoritative one for its indicator
    if not all(map(_AUTHORITATIVE, rows)) or any(d.startswith("self") for d in map(_DEPARTMENT, rows)):
        flags = [_declared(r) for r in rows]
        declared = {r[INDICATOR] for r, d in zip(rows, flags, strict=True) if d}
        contested = {r[INDICATOR] for r, d in zip(rows, flags, strict=True) if not d} & declared
        if contested:
            rows = [r for r, d in zip(rows, flags, strict=True) if not (d and r[INDICATOR] in contested)]

    s1c = s1p = s3 = ZERO
    electricity: list[Decimal] = []
    heat_location: list[Decimal] = []
    heat_market: list[Decimal] = []
    nets = method.nets_exports
    output_indicator = method.output_indicator
    output: Decimal | None = None
    revenue: Decimal | None = None
    value_added: Decimal | None = None
    activity = any_declared = finance = has_clinker = has_purchased = False
    verified: list[Sequence[Any]] | None = None
    market_rows: list[tuple[int, Sequence[Any]]] = []  # (sign, row) of market-based electricity
    for r in rows:
        indicator = r[INDICATOR]
        kind, is_activity, is_finance = kinds.get(indicator) or _kind(indicator)
        if is_activity:
            activity = True
            any_declared = any_declared or not r[AUTHORITATIVE] or r[DEPARTMENT].startswith("self")
        elif is_finance:
            finance = True
        value = r[VALUE]
        if kind == _ENERGY:
            factor = factors.for_indicator(indicator, year)
            if factor is not None:
                s1c += 1 * value * factor.value
        elif kind == _CLINKER:
            has_clinker = True
            s1p += 1 * value * factors.by_code("process.clinker", year).value
        elif kind == _CARBONATE:
            code = CARBONATE_BY_TYPE.get(_attribute(r, "carbonate_type"), "process.carbonate.limestone")
            s1p += 1 * value * factors.by_code(code, year).value
        elif kind == _ELEC:
            has_purchased = True
            electricity.append(1 * value * _grid_factor(r, factors, year))
            market_rows.append((1, r))
        elif kind == _HEAT:
            term = 1 * value * factors.by_code("heat.purchased", year).value
            heat_location.append(term)
            heat_market.append(term)
        elif kind == _ELEC_EXPORT:
            if nets:
                electricity.append(-1 * value * _grid_factor(r, factors, year))
                market_rows.append((-1, r))
        elif kind == _HEAT_EXPORT:
            if nets:
                term = -1 * value * factors.by_code("heat.purchased", year).value
                heat_location.append(term)
                heat_market.append(term)
        elif kind == _SCOPE3:
            s3 += value
        elif kind == _GREEN:
            market_rows.append((-1, r))
        if indicator == output_indicator:
            output = (ZERO if output is None else output) + value
        if indicator == "finance.revenue":
            revenue = (ZERO if revenue is None else revenue) + value
        elif indicator == "finance.value_added":
            value_added = (ZERO if value_added is None else value_added) + value
        elif indicator == "emissions.verified":
            verified = [r] if verified is None else [*verified, r]

    # scope 2 location: net purchased electricity, then net purchased heat, each floored at zero
    s2l = s2m = ZERO
    for term in electricity:
        s2l += term
    if s2l < 0:
        s2l += -s2l
    for term in heat_location:
        s2l += term
    if heat_location and (net := _net(heat_location)) < 0:
        s2l += -net
    for term in heat_market:
        s2m += term
    if s2m < 0:
        s2m += -s2m
    if method.calcination_from_output and not has_clinker and output_indicator is not None:
        for r in rows:
            if r[INDICATOR] == output_indicator:
                s1p += 1 * r[VALUE] * factors.by_code("process.clinker", year).value
    if has_purchased:  # market-based electricity (``_market_based``)
        residual = factors.by_code("grid.residual_mix", year).value
        market = [sign * r[VALUE] * residual for sign, r in market_rows]
        for term in market:
            s2m += term
        if (net := _net(market)) < 0:
            s2m += -net

    grand = s1c + s1p + s2l
    check = None
    if verified is not None:
        departments = {r[DEPARTMENT] for r in rows if _kind(r[INDICATOR])[1]}
        check = CrossCheck(
            verified_tco2=sum((r[VALUE] for r in verified), Decimal(0)),
            verified_by=", ".join(sorted({r[DEPARTMENT] for r in verified})),
            computed_tco2=grand,
            computed_from=", ".join(sorted(departments)),
            tolerance=tolerance,
        )
        quality = Decimal(3) if check.discrepancy else Decimal(1)
    elif activity:
        quality = Decimal(3) if any_declared else Decimal(2)
    else:
        quality = Decimal(4) if finance else Decimal(5)
    return AccountFigures(
        credit_code,
        period,
        industry,
        method.name,
        s1c,
        s1p,
        s2l,
        s2m,
        s3,
        grand,
        output if output_indicator else None,
        method.output_unit if output_indicator and output is not None else None,
        _ratio(grand, output) if output_indicator else None,
        revenue,
        _ratio(grand, revenue),
        value_added,
        _ratio(grand, value_added),
        quality,
        len(rows),
        factors.ref,
        check,
    )


def _grid_factor(row: Sequence[Any], factors: FactorSet, year: int) -> Decimal:
    return factors.by_code(
        GRID_BY_REGION.get(_attribute(row, "grid_region"), "grid.national_average"), year
    ).value
