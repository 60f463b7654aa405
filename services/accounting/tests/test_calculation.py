"""Worked examples by hand from /work/shared/reference/domain-data.md (pure domain, no I/O)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.domain.calculation import compute_account
from carbon_accounting.domain.model import Enterprise, Fact
from carbon_accounting.domain.rollup import MonthlyAccount, roll_up

FS = load_packaged()
CODE = "91140400MA0GRE0A0W"
_n = 0


def f(indicator: str, value: str, unit: str, *, dept: str = "stats-140400", **attrs: object) -> Fact:
    global _n
    _n += 1
    return Fact(
        fact_key=f"{dept}/r{_n}",
        fact_id=f"id{_n}",
        revision=1,
        credit_code=CODE,
        department=dept,
        record_id=f"r{_n}",
        indicator=indicator,
        period="2024-01",
        value=Decimal(value),
        unit=unit,
        evidence_hash=f"h{_n}",
        authoritative=not dept.startswith("self"),
        attributes=attrs,
    )


def account(facts: list[Fact], period: str = "2024-01", industry: str | None = None):  # type: ignore[no-untyped-def]
    ent = Enterprise(CODE, industry, "140400") if industry else None
    return compute_account(CODE, period, facts, ent, FS).figures


def test_raw_coal_1000_t_is_1900_3_tco2() -> None:
    a = account([f("energy.raw_coal", "1000", "t")])
    assert a.scope1_combustion_tco2 == Decimal("1900.3")  # 1000 × 1.9003
    assert a.total_tco2 == Decimal("1900.3")
    assert a.factor_set == "cn-default@1"
    assert a.fact_count == 1


def test_natural_gas_500_e4_nm3_is_10811_tco2() -> None:
    assert account([f("energy.natural_gas", "500", "1e4 Nm3")]).scope1_combustion_tco2 == Decimal("10811")


@pytest.mark.parametrize(
    ("indicator", "qty", "ef"),
    [
        ("energy.coke", "100", "2.8604"),
        ("energy.diesel", "10", "3.0959"),
        ("energy.fuel_oil", "10", "3.1705"),
        ("energy.gasoline", "10", "2.9251"),
        ("energy.lpg", "10", "3.1013"),
        ("energy.crude_oil", "10", "3.0202"),
        ("energy.kerosene", "10", "3.0179"),
        ("energy.refinery_gas", "10", "3.0119"),
    ],
)
def test_each_fuel_uses_its_reference_factor(indicator: str, qty: str, ef: str) -> None:
    assert account([f(indicator, qty, "t")]).scope1_combustion_tco2 == Decimal(qty) * Decimal(ef)


def test_electricity_2022_national_location_based_is_5366() -> None:
    a = account([f("electricity.purchased", "10000", "MWh", dept="grid-140400")], period="2022-06")
    assert a.scope2_location_tco2 == Decimal("5366")
    # market-based, no green power: 10,000 × residual mix 2022 0.5856
    assert a.scope2_market_tco2 == Decimal("5856")
    assert a.total_tco2 == Decimal("5366")


def test_market_based_nets_green_power_and_2024_uses_2023_factors() -> None:
    a = account(
        [
            f("electricity.purchased", "10000", "MWh", dept="grid-140400"),
            f("electricity.green_purchased", "4000", "MWh", dept="grid-140400"),
        ],
        period="2024-03",
    )
    assert a.scope2_location_tco2 == Decimal("5306")  # 10,000 × 0.5306 (2023 data year)
    assert a.scope2_market_tco2 == Decimal("6000") * Decimal("0.6096")


def test_regional_grid_factor_by_attribute() -> None:
    a = account([f("electricity.purchased", "1000", "MWh", grid_region="shanxi")], period="2022-01")
    assert a.scope2_location_tco2 == Decimal("709.6")


def test_heat_2000_gj_is_220_tco2_in_both_scope2_bases() -> None:
    a = account([f("heat.purchased", "2000", "GJ")])
    assert a.scope2_location_tco2 == Decimal("220") and a.scope2_market_tco2 == Decimal("220")


def test_process_carbonates_and_scope3_passthrough() -> None:
    a = account(
        [
            f("process.carbonate", "100", "t"),
            f("process.carbonate", "100", "t", carbonate_type="dolomite"),
            f("scope3.transport", "12.5", "tCO2", dept="self-140400"),
        ]
    )
    assert a.scope1_process_tco2 == Decimal("43.971") + Decimal("47.732")
    assert a.scope3_tco2 == Decimal("12.5")
    assert a.total_tco2 == a.scope1_process_tco2  # scope 3 is not in the total


def test_power_intensity_per_mwh_supplied() -> None:
    a = account(
        [f("energy.raw_coal", "1000", "t"), f("production.power_supplied", "2345.6", "MWh")], industry="4411"
    )
    assert a.method == "power" and a.output_unit == "MWh"
    assert a.intensity_per_output == (Decimal("1900.3") / Decimal("2345.6")).quantize(Decimal("0.000001"))


def test_steel_per_t_crude_steel_with_process() -> None:
    a = account(
        [
            f("energy.coke", "500", "t"),
            f("process.carbonate", "100", "t"),
            f("production.crude_steel", "1000", "t"),
        ],
        industry="3120",
    )
    expected = Decimal("500") * Decimal("2.8604") + Decimal("43.971")
    assert a.total_tco2 == expected
    assert a.intensity_per_output == (expected / 1000).quantize(Decimal("0.000001"))


def test_cement_calcination_from_clinker_output_when_not_reported() -> None:
    facts = [f("energy.raw_coal", "100", "t"), f("production.clinker", "1000", "t")]
    a = account(facts, industry="3011")
    assert a.scope1_process_tco2 == Decimal("520")  # 1000 t clinker × 0.52 (IPCC 2006 default)
    assert a.intensity_per_output == ((Decimal("190.03") + 520) / 1000).quantize(Decimal("0.000001"))
    generic = account(facts)  # unknown enterprise: no industry method, no output intensity
    assert generic.scope1_process_tco2 == 0 and generic.intensity_per_output is None


def test_coking_per_t_coke_and_revenue_intensity() -> None:
    a = account(
        [
            f("energy.raw_coal", "100", "t"),
            f("production.coke", "50", "t"),
            f("finance.revenue", "400", "10k CNY"),
        ],
        industry="2521",
    )
    assert a.output_unit == "t" and a.output_quantity == Decimal("50")
    assert a.intensity_per_revenue == (Decimal("190.03") / 400).quantize(Decimal("0.000001"))


def test_authoritative_source_wins_over_declaration() -> None:
    a = account(
        [
            f("electricity.purchased", "1000", "MWh", dept="grid-140400"),
            f("electricity.purchased", "1200", "MWh", dept="self-140400"),
        ],
        period="2023-01",
    )
    assert a.scope2_location_tco2 == Decimal("530.6")
    assert a.fact_count == 1


@pytest.mark.parametrize(
    ("facts", "score"),
    [
        ([("energy.raw_coal", "1000", "t", "stats-1"), ("emissions.verified", "1950", "tCO2", "eeb-1")], 1),
        ([("energy.raw_coal", "1000", "t", "stats-1"), ("emissions.verified", "2500", "tCO2", "eeb-1")], 3),
        ([("energy.raw_coal", "1000", "t", "stats-1")], 2),
        ([("energy.raw_coal", "1000", "t", "self-1")], 3),
        ([("finance.revenue", "10", "10k CNY", "tax-1")], 4),
    ],
)
def test_data_quality_score(facts: list[tuple[str, str, str, str]], score: int) -> None:
    a = account([f(i, v, u, dept=d) for i, v, u, d in facts])
    assert a.data_quality_score == score


def test_roll_up_is_additive_over_months() -> None:
    rng = random.Random(20240101)
    months = []
    for m in range(1, 13):
        coal = Decimal(rng.randint(1, 10_000))
        out = Decimal(rng.randint(1, 5_000))
        a = account(
            [f("energy.raw_coal", str(coal), "t"), f("production.power_supplied", str(out), "MWh")],
            period=f"2024-{m:02d}",
            industry="4411",
        )
        months.append(
            MonthlyAccount(
                period=f"2024-{m:02d}",
                scope1_combustion_tco2=a.scope1_combustion_tco2,
                scope1_process_tco2=a.scope1_process_tco2,
                scope2_location_tco2=a.scope2_location_tco2,
                scope2_market_tco2=a.scope2_market_tco2,
                scope3_tco2=a.scope3_tco2,
                total_tco2=a.total_tco2,
                output_quantity=a.output_quantity,
                output_unit=a.output_unit,
                revenue_10k_cny=None,
                value_added_10k_cny=None,
                data_quality_score=a.data_quality_score,
                fact_count=a.fact_count,
                factor_set=a.factor_set,
                calculation_version=1,
            )
        )
    quarters = roll_up(months, "quarter")
    year = roll_up(months, "year")
    assert [q.period for q in quarters] == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]
    assert sum(q.total_tco2 for q in quarters) == year[0].total_tco2 == sum(m.total_tco2 for m in months)
    assert year[0].output_quantity == sum(m.output_quantity or 0 for m in months)
    assert year[0].intensity_per_output == (year[0].total_tco2 / year[0].output_quantity).quantize(
        Decimal("0.000001")
    )
