"""``account_figures`` (the consumer's figures-only path, from rows) equals
``compute_account(...).figures`` (the reference, with lineage) — values, exponents and ``str``.

Pure domain, no I/O. Hypothesis draws months over every family the calculation branches on,
authoritative and declared sources of the same indicator, exports under methods that net them
and one that does not, cement without clinker, verified emissions within and beyond tolerance,
grid regions and carbonate types in the attributes (and odd attribute values), long decimals
whose products and sums round at the context's precision (so the order of additions shows),
negative values, families accounting ignores, and database-shaped rows (unused columns NULL,
``None`` for no attributes).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.domain.calculation import account_figures, compute_account
from carbon_accounting.domain.factors import FactorNotFound, FactorSet
from carbon_accounting.domain.model import AccountFigures, Enterprise, Fact

FS = load_packaged()
CODE = "91140400MA0GRE0A0W"
_serial = itertools.count()

INDICATORS = [
    "energy.raw_coal",
    "energy.coke",
    "energy.natural_gas",
    "energy.diesel",
    "energy.hydrogen",  # an energy indicator without a combustion factor: noted, not accounted
    "electricity.purchased",
    "electricity.green_purchased",
    "electricity.exported",
    "heat.purchased",
    "heat.exported",
    "process.carbonate",
    "process.clinker",
    "scope3.transport",
    "production.power_supplied",
    "production.crude_steel",
    "production.coke",
    "production.clinker",
    "finance.revenue",
    "finance.value_added",
    "emissions.verified",
    "compliance.env_penalty",  # not accounted: left out of everything
    "finance.total_debt",  # not accounted either
]
DEPARTMENTS = ["stats-140400", "grid-140400", "tax-140400", "eeb-140400", "self-140400", "ets-140400"]
INDUSTRIES = [None, "4411", "3120", "2521", "3011", "3216", "2614"]
ATTRIBUTES = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "grid_region": st.sampled_from(["national", "north_china", "shanxi", "mars", None, 7, True]),
            "carbonate_type": st.sampled_from(["limestone", "calcite", "dolomite", "chalk", None]),
            "note": st.text(max_size=3),
        },
    ),
)
VALUES = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**7, places=3, allow_nan=False, allow_infinity=False),
    # long decimals: products and sums round at 28 digits, so order and operands show
    st.decimals(min_value=-(10**14), max_value=10**14, places=20, allow_nan=False, allow_infinity=False),
    st.sampled_from([Decimal("0"), Decimal("-0"), Decimal("0.000"), Decimal("1E+3"), Decimal("100.10")]),
)


@st.composite
def month_facts(draw: st.DrawFn) -> list[Fact]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        n = next(_serial)
        dept = draw(st.sampled_from(DEPARTMENTS))
        out.append(
            Fact(
                fact_key=f"{dept}/r{draw(st.integers(0, 30))}-{n % 3}",
                fact_id=f"id{n}",
                revision=1,
                credit_code=CODE,
                department=dept,
                record_id=f"r{n}",
                indicator=draw(st.sampled_from(INDICATORS)),
                period="2024-01",
                value=draw(VALUES),
                unit="t",
                evidence_hash=f"h{n}",
                authoritative=draw(st.booleans()),
                attributes=draw(ATTRIBUTES),
            )
        )
    return out


def as_row(f: Fact) -> tuple[Any, ...]:
    """The shape the repository reads: the columns the figures do not need are NULL, and a fact
    without attributes has None there."""
    return (
        f.fact_key, None, None, f.credit_code, f.department, None, f.indicator, f.period, f.value,
        None, None, f.authoritative, f.attributes or None, "extra", "columns",
    )  # fmt: skip


def same(a: AccountFigures, b: AccountFigures) -> None:
    assert a == b
    # equal Decimals can still differ in exponent and sign of zero: the published strings must not
    assert [repr(x) for x in a] == [repr(x) for x in b]
    assert (a.cross_check is None) == (b.cross_check is None)
    if a.cross_check is not None and b.cross_check is not None:
        assert repr(a.cross_check) == repr(b.cross_check)
        assert a.cross_check.discrepancy == b.cross_check.discrepancy


def outcome(fn: Any) -> Any:
    """The figures, or the error (a missing factor; an intensity beyond the context's precision)."""
    try:
        return fn()
    except (FactorNotFound, ArithmeticError) as exc:
        return type(exc), str(exc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    facts=month_facts(),
    industry=st.sampled_from(INDUSTRIES),
    period=st.sampled_from(["2019-06", "2021-03", "2022-12", "2024-01"]),
    tolerance=st.sampled_from([Decimal("0.05"), Decimal("0"), Decimal("1")]),
)
def test_figures_from_rows_equal_the_reference(
    facts: list[Fact], industry: str | None, period: str, tolerance: Decimal
) -> None:
    ent = Enterprise(CODE, industry, "140400") if industry else None
    facts = [f._replace(period=period) for f in facts]
    ref = outcome(lambda: compute_account(CODE, period, facts, ent, FS, tolerance).figures)
    fast = outcome(lambda: account_figures(CODE, period, facts, ent, FS, tolerance))
    rows = outcome(lambda: account_figures(CODE, period, [as_row(f) for f in facts], ent, FS, tolerance))
    if isinstance(ref, AccountFigures):
        same(fast, ref)
        same(rows, ref)
    else:
        assert fast == ref == rows  # the same error, e.g. the same missing factor named


@pytest.mark.parametrize("missing", ["grid.residual_mix", "heat.purchased", "process.clinker", "grid.shanxi"])
def test_a_missing_factor_raises_in_both(missing: str) -> None:
    fs = FactorSet(FS.id, FS.version, tuple(f for f in FS.factors if f.code != missing))
    facts = [
        Fact("k1", "i1", 1, CODE, "grid-140400", "r1", "electricity.purchased", "2024-01",
             Decimal("10"), "MWh", "h1", True, {"grid_region": "shanxi"}),
        Fact("k2", "i2", 1, CODE, "stats-140400", "r2", "heat.purchased", "2024-01",
             Decimal("5"), "GJ", "h2"),
        Fact("k3", "i3", 1, CODE, "stats-140400", "r3", "production.clinker", "2024-01",
             Decimal("7"), "t", "h3"),
    ]  # fmt: skip
    ent = Enterprise(CODE, "3011", "140400")
    ref = outcome(lambda: compute_account(CODE, "2024-01", facts, ent, fs).figures)
    assert isinstance(ref, tuple) and ref[0] is FactorNotFound
    assert outcome(lambda: account_figures(CODE, "2024-01", facts, ent, fs)) == ref


def test_an_empty_month_is_the_zero_account() -> None:
    ent = Enterprise(CODE, "3120", "140400")
    same(account_figures(CODE, "2024-05", [], ent, FS), compute_account(CODE, "2024-05", [], ent, FS).figures)


#: 34 significant digits: every operation on it rounds (built from text: arithmetic would round it)
LONG = "12345678901234.123456789012345678{:02d}"


@pytest.mark.parametrize("industry", INDUSTRIES)
def test_long_decimals_round_at_the_same_steps(industry: str | None) -> None:
    """``1 * value * factor`` (the reference's ``sign * value * factor``) rounds ``value`` to 28
    digits first; ``value * factor`` would not: the last digits would differ."""
    facts = [
        Fact(f"{DEPARTMENTS[i % 4]}/k{i}", f"i{i}", 1, CODE, DEPARTMENTS[i % 4], f"r{i}", ind, "2024-01",
             Decimal(LONG.format(i)), "t", f"h{i}")
        for i, ind in enumerate(INDICATORS)
    ]  # fmt: skip
    ent = Enterprise(CODE, industry, "140400") if industry else None
    ref = outcome(lambda: compute_account(CODE, "2024-01", facts, ent, FS).figures)
    fast = outcome(lambda: account_figures(CODE, "2024-01", [as_row(f) for f in facts], ent, FS))
    if isinstance(ref, AccountFigures):
        same(fast, ref)
    else:
        assert fast == ref
