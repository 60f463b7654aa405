"""Property tests (hypothesis): additivity over months, units and values that round-trip, and a
correction followed by its reversal restoring the original account (real service layer + PG)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.domain.calculation import FIGURES, compute_account
from carbon_accounting.domain.model import AccountFigures, Enterprise, Fact
from carbon_accounting.domain.rollup import MonthlyAccount, roll_up
from carbon_accounting.domain.units import accepted_units, unit_ok
from carbon_common.bus.port import to_record
from carbon_common.events import Envelope, FactRecorded, decode

FS = load_packaged()
CODE = "91140400MA0GRE0A0W"
_serial = itertools.count()

#: (indicator, canonical unit, department) of every quantity accounting turns into figures
ACTIVITY = [
    ("energy.raw_coal", "t", "stats-140400"),
    ("energy.coke", "t", "stats-140400"),
    ("energy.natural_gas", "1e4 Nm3", "stats-140400"),
    ("energy.diesel", "t", "stats-140400"),
    ("electricity.purchased", "MWh", "grid-140400"),
    ("electricity.green_purchased", "MWh", "grid-140400"),
    ("electricity.exported", "MWh", "grid-140400"),
    ("heat.purchased", "GJ", "stats-140400"),
    ("heat.exported", "GJ", "stats-140400"),
    ("process.carbonate", "t", "eeb-140400"),
    ("process.clinker", "t", "eeb-140400"),
    ("scope3.transport", "tCO2", "self-140400"),
    ("production.crude_steel", "t", "stats-140400"),
    ("finance.revenue", "10k CNY", "tax-140400"),
    ("finance.value_added", "10k CNY", "stats-140400"),
]
INDUSTRIES = [None, "4411", "3120", "2521", "3011", "3216", "2614"]

quantities = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False, allow_infinity=False)
month_facts = st.lists(st.tuples(st.sampled_from(ACTIVITY), quantities), min_size=1, max_size=10)


def fact(period: str, spec: tuple[str, str, str], value: Decimal) -> Fact:
    indicator, unit, dept = spec
    n = next(_serial)
    return Fact(
        fact_key=f"{dept}/p{n}",
        fact_id=f"p{n}",
        revision=1,
        credit_code=CODE,
        department=dept,
        record_id=f"p{n}",
        indicator=indicator,
        period=period,
        value=value,
        unit=unit,
        evidence_hash=f"sha256:p{n}",
        attributes={},
    )


def monthly(a: AccountFigures) -> MonthlyAccount:
    return MonthlyAccount(
        period=a.period,
        scope1_combustion_tco2=a.scope1_combustion_tco2,
        scope1_process_tco2=a.scope1_process_tco2,
        scope2_location_tco2=a.scope2_location_tco2,
        scope2_market_tco2=a.scope2_market_tco2,
        scope3_tco2=a.scope3_tco2,
        total_tco2=a.total_tco2,
        output_quantity=a.output_quantity,
        output_unit=a.output_unit,
        revenue_10k_cny=a.revenue_10k_cny,
        value_added_10k_cny=a.value_added_10k_cny,
        data_quality_score=a.data_quality_score,
        fact_count=a.fact_count,
        factor_set=a.factor_set,
        calculation_version=1,
        cross_check=a.cross_check,
    )


def year_of_accounts(
    industry: str | None, months: dict[int, list[tuple[Any, Decimal]]]
) -> list[MonthlyAccount]:
    ent = Enterprise(CODE, industry, "140400") if industry else None
    out = []
    for m, specs in sorted(months.items()):
        period = f"2023-{m:02d}"
        figures = compute_account(CODE, period, [fact(period, s, v) for s, v in specs], ent, FS).figures
        out.append(monthly(figures))
    return out


def _sum(values: Sequence[Decimal | None]) -> Decimal | None:
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


@settings(max_examples=150, deadline=None)
@given(
    industry=st.sampled_from(INDUSTRIES),
    months=st.dictionaries(st.integers(1, 12), month_facts, min_size=1, max_size=12),
)
def test_accounts_are_additive_over_months(industry: str | None, months: dict[int, list[Any]]) -> None:
    accounts = year_of_accounts(industry, months)
    [year] = roll_up(accounts, "year")
    quarters = roll_up(accounts, "quarter")
    for figure in (*FIGURES, "total_tco2"):
        by_month = sum((getattr(a, figure) for a in accounts), Decimal(0))
        assert getattr(year, figure) == by_month, figure
        assert sum((getattr(q, figure) for q in quarters), Decimal(0)) == by_month, figure
        for q in quarters:
            assert getattr(q, figure) == sum(
                (getattr(a, figure) for a in accounts if a.period in q.months), Decimal(0)
            )
    assert year.revenue_10k_cny == _sum([a.revenue_10k_cny for a in accounts])
    assert year.value_added_10k_cny == _sum([a.value_added_10k_cny for a in accounts])
    assert year.fact_count == sum(a.fact_count for a in accounts) == sum(q.fact_count for q in quarters)
    assert year.months == tuple(a.period for a in accounts)
    if year.revenue_10k_cny:
        # intensities of a roll-up are recomputed from the sums, never averaged
        assert year.intensity_per_revenue == (year.total_tco2 / year.revenue_10k_cny).quantize(
            Decimal("1e-6")
        )


@settings(max_examples=150, deadline=None)
@given(industry=st.sampled_from(INDUSTRIES), specs=month_facts, k=st.sampled_from(["1000", "0.001", "10000"]))
def test_a_change_of_unit_scale_scales_every_emission_figure_exactly(
    industry: str | None, specs: list[Any], k: str
) -> None:
    """Ingest converts units (e.g. kt → t, kWh → MWh: exact powers of ten); accounting must carry the
    conversion through exactly: k × every quantity gives k × every emission figure, no rounding."""
    ent = Enterprise(CODE, industry, "140400") if industry else None
    scale = Decimal(k)
    base = compute_account(CODE, "2023-05", [fact("2023-05", s, v) for s, v in specs], ent, FS).figures
    scaled = compute_account(
        CODE, "2023-05", [fact("2023-05", s, v * scale) for s, v in specs], ent, FS
    ).figures
    for figure in (*FIGURES, "total_tco2"):
        assert getattr(scaled, figure) == getattr(base, figure) * scale, figure


@settings(max_examples=100, deadline=None)
@given(
    spec=st.sampled_from(ACTIVITY),
    value=st.decimals(min_value=0, max_value=10**12, places=6, allow_nan=False, allow_infinity=False),
    pad=st.sampled_from(["", " ", "  "]),
)
def test_values_and_units_round_trip_through_the_fact_event(spec: Any, value: Decimal, pad: str) -> None:
    indicator, unit, dept = spec
    assert unit_ok(indicator, f"{pad}{unit}{pad}")  # accounting tolerates the spelling, not a conversion
    for other in ("kt", "kWh", "Nm3", "MJ", "CNY", "kgCO2"):
        assert not unit_ok(indicator, other) or other in (accepted_units(indicator) or ())
    event = FactRecorded(
        fact_id="x",
        fact_key=f"{dept}/x",
        credit_code=CODE,
        department=dept,
        record_id="x",
        indicator=indicator,
        period="2023-05",
        value=value,
        unit=unit,
        evidence_hash="sha256:x",
        recorded_at="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
    )
    rec = to_record(Envelope(data=event, source="/ingest"))
    back = decode(rec.value, rec.headers, {FactRecorded.ce_type: FactRecorded}).data
    assert isinstance(back, FactRecorded)
    assert back.value == value and str(back.value) == str(value) and back.unit == unit


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.decimals(min_value=0, max_value=10**9, places=6), min_size=1, max_size=20))
async def test_values_round_trip_exactly_through_postgres(service: Any, values: list[Decimal]) -> None:
    container, _ = service
    period = "2023-07"
    facts = [fact(period, ACTIVITY[i % len(ACTIVITY)], v) for i, v in enumerate(values)]
    code = f"9114040{next(_serial):011d}"
    facts = [f._replace(credit_code=code) for f in facts]
    async with container.uow() as uow:
        await uow.repo.upsert_facts(facts)
        stored = (await uow.repo.facts_for([(code, period)]))[(code, period)]
    assert sorted((f.fact_key, f.value) for f in stored) == sorted((f.fact_key, f.value) for f in facts)
    assert all(str(s.value) == str(next(f.value for f in facts if f.fact_key == s.fact_key)) for s in stored)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    industry=st.sampled_from(INDUSTRIES),
    specs=st.lists(st.tuples(st.sampled_from(ACTIVITY), quantities), min_size=1, max_size=6),
    pick=st.integers(min_value=0),
    corrected=quantities,
)
async def test_a_correction_then_its_reversal_restores_the_account(
    service: Any, b: SimpleNamespace, industry: str | None, specs: list[Any], pick: int, corrected: Decimal
) -> None:
    container, bus = service
    code = b.credit_code()
    events = [b.enterprise(code, industry)] if industry else []
    originals = [
        b.fact(code, ind, str(v), unit, period="2023-09", department=dept, record_id=f"r{i}")
        for i, ((ind, unit, dept), v) in enumerate(specs)
    ]
    await b.publish(bus, *events, *originals)
    await b.settle(container, bus)
    async with container.uow() as uow:
        before = await uow.repo.account(code, "2023-09")
    assert before is not None

    target = originals[pick % len(originals)]
    i = originals.index(target)
    (ind, unit, dept), value = specs[i]
    fix = b.fact(
        code, ind, str(corrected), unit, period="2023-09", department=dept, record_id=f"r{i}", revision=2
    )
    await b.publish(bus, fix)
    await b.settle(container, bus)
    undo = b.fact(
        code, ind, str(value), unit, period="2023-09", department=dept, record_id=f"r{i}", revision=3
    )
    await b.publish(bus, undo)
    await b.settle(container, bus)
    async with container.uow() as uow:
        after = await uow.repo.account(code, "2023-09")
    assert after is not None
    assert after.figures.comparable() == before.figures.comparable()
    published = b.accounts_for(bus, code)
    changed = corrected != value and len(published) > 1
    # a correction that changed the figures and its reversal are two restatements (versions 2, 3)
    assert after.calculation_version == (3 if changed else 1)
    assert [a.calculation_version for a in published] == list(range(1, after.calculation_version + 1))
    assert published[-1].total_tco2 == before.figures.total_tco2
