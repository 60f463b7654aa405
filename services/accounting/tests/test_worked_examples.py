"""More worked examples by hand (pure domain): exports netted, every method, both scope-2 bases,
and the verified-vs-computed cross-check. Factors: /work/shared/reference/domain-data.md §2–§3 and
IPCC 2006 Vol. 3 Ch. 2 as packaged in ``cn-default@1``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.domain.calculation import compute_account
from carbon_accounting.domain.model import AccountFigures, Calculation, Enterprise, Fact

FS = load_packaged()
CODE = "91140400MA0GRE0A0W"
Q = Decimal("0.000001")
_n = 0


def f(indicator: str, value: str, unit: str, *, dept: str = "stats-140400", **attrs: object) -> Fact:
    global _n
    _n += 1
    return Fact(
        fact_key=f"{dept}/w{_n}",
        fact_id=f"w{_n}",
        revision=1,
        credit_code=CODE,
        department=dept,
        record_id=f"w{_n}",
        indicator=indicator,
        period="2023-06",
        value=Decimal(value),
        unit=unit,
        evidence_hash=f"sha256:w{_n}",
        authoritative=not dept.startswith("self"),
        attributes=attrs,
    )


def calc(
    facts: list[Fact], industry: str | None = None, period: str = "2023-06", tolerance: str = "0.05"
) -> Calculation:
    ent = Enterprise(CODE, industry, "140400") if industry else None
    return compute_account(CODE, period, facts, ent, FS, Decimal(tolerance))


def account(facts: list[Fact], industry: str | None = None, **kw: str) -> AccountFigures:
    return calc(facts, industry, **kw).figures


def energy_trade() -> list[Fact]:
    return [
        f("electricity.purchased", "10000", "MWh", dept="grid-140400"),
        f("electricity.exported", "2500", "MWh", dept="grid-140400"),
        f("electricity.green_purchased", "1000", "MWh", dept="grid-140400"),
        f("heat.purchased", "3000", "GJ"),
        f("heat.exported", "1000", "GJ"),
    ]


def test_steel_mill_nets_exported_electricity_and_heat() -> None:
    a = account([*energy_trade(), f("production.crude_steel", "5000", "t")], industry="3120")
    # location: (10,000 − 2,500) MWh × 0.5306 (2023 national) + (3,000 − 1,000) GJ × 0.11
    assert a.scope2_location_tco2 == Decimal("3979.5") + Decimal("220")
    # market: (10,000 − 2,500 − 1,000 green) MWh × 0.6096 (2023 residual mix) + 2,000 GJ × 0.11
    assert a.scope2_market_tco2 == Decimal("3962.4") + Decimal("220")
    assert a.total_tco2 == Decimal("4199.5")
    assert a.intensity_per_output == Decimal("0.839900")  # 4,199.5 / 5,000 t crude steel


def test_generic_enterprise_nets_exports_too() -> None:
    a = account(energy_trade())
    assert a.method == "generic" and a.scope2_location_tco2 == Decimal("4199.5")


def test_power_plant_does_not_net_exports_its_product() -> None:
    c = calc(energy_trade(), industry="4411")
    a = c.figures
    assert a.scope2_location_tco2 == Decimal("5306") + Decimal("330")  # 10,000 × 0.5306 + 3,000 × 0.11
    assert a.scope2_market_tco2 == Decimal("9000") * Decimal("0.6096") + Decimal("330")
    assert any("not netted" in n for n in c.notes)


def test_exports_above_purchases_are_floored_at_zero_with_a_lineage_term() -> None:
    c = calc(
        [
            f("electricity.purchased", "1000", "MWh", dept="grid-140400"),
            f("electricity.exported", "1500", "MWh", dept="grid-140400"),
        ]
    )
    assert c.figures.scope2_location_tco2 == 0 and c.figures.scope2_market_tco2 == 0
    terms = [ln.result for ln in c.lines if ln.figure == "scope2_location_tco2"]
    # −1,500 × 0.5306 exported, +1,000 × 0.5306 purchased (facts in indicator order), then the floor
    assert terms == [Decimal("-795.9"), Decimal("530.6"), Decimal("265.3")]
    floor = [ln for ln in c.lines if ln.figure == "scope2_location_tco2"][-1]
    assert floor.fact is None and "floored at zero" in floor.arithmetic
    exported = next(
        ln for ln in c.lines if ln.fact is not None and ln.fact.indicator == "electricity.exported"
    )
    assert exported.arithmetic.startswith("−1500 MWh × 0.5306 tCO2/MWh")


def test_market_based_residual_mix_and_certificates_2022() -> None:
    a = account(
        [
            f("electricity.purchased", "20000", "MWh", dept="grid-140400"),
            f("electricity.green_purchased", "5000", "MWh", dept="grid-140400", certificates=5000),
        ],
        period="2022-03",
    )
    assert a.scope2_location_tco2 == Decimal("10732")  # 20,000 × 0.5366 (2022 national)
    assert a.scope2_market_tco2 == Decimal("8784")  # 15,000 × 0.5856 (2022 residual mix)


def test_regional_north_china_factor_2023() -> None:
    a = account([f("electricity.purchased", "1000", "MWh", grid_region="north_china")])
    assert a.scope2_location_tco2 == Decimal("636.1")  # 1,000 × 0.6361


def test_cement_reported_clinker_process_fact_is_used_instead_of_output() -> None:
    a = account(
        [
            f("process.clinker", "800", "t"),
            f("production.clinker", "1000", "t"),
            f("energy.raw_coal", "100", "t"),
        ],
        industry="3011",
    )
    assert a.scope1_process_tco2 == Decimal("416")  # 800 × 0.52, not 1,000 × 0.52
    assert a.total_tco2 == Decimal("606.03")  # + 100 × 1.9003
    assert a.intensity_per_output == Decimal("0.606030")  # per t clinker


def test_aluminium_per_t_aluminium() -> None:
    a = account(
        [
            f("electricity.purchased", "14000", "MWh", dept="grid-140400"),
            f("production.aluminium", "1000", "t"),
        ],
        industry="3216",
    )
    assert a.method == "aluminium" and a.output_unit == "t"
    assert a.intensity_per_output == Decimal("7.428400")  # 14,000 × 0.5306 / 1,000


def test_generic_per_10k_cny_value_added_and_revenue() -> None:
    a = account(
        [
            f("energy.natural_gas", "500", "1e4 Nm3"),
            f("finance.value_added", "2000", "10k CNY"),
            f("finance.revenue", "8000", "10k CNY", dept="tax-140400"),
        ],
        industry="2614",
    )
    assert a.total_tco2 == Decimal("10811")  # 500 × 21.622
    assert a.intensity_per_value_added == Decimal("5.405500")  # 10,811 / 2,000
    assert a.intensity_per_revenue == Decimal("1.351375")  # 10,811 / 8,000
    assert a.output_quantity is None and a.intensity_per_output is None


def test_coking_per_t_coke_with_natural_gas_and_coal() -> None:
    a = account(
        [
            f("energy.raw_coal", "1000", "t"),
            f("energy.natural_gas", "10", "1e4 Nm3"),
            f("production.coke", "750", "t"),
        ],
        industry="2521",
    )
    assert a.scope1_combustion_tco2 == Decimal("2116.52")  # 1,900.3 + 216.22
    assert a.intensity_per_output == (Decimal("2116.52") / 750).quantize(Q)


@pytest.mark.parametrize(
    ("verified", "tolerance", "flagged", "score"),
    [
        ("1950", "0.05", False, 1),  # |1,900.3 − 1,950| / 1,950 = 2.55 % ≤ 5 %
        ("2500", "0.05", True, 3),  # 23.99 % > 5 %
        ("2500", "0.30", False, 1),  # the same pair under a configured 30 % tolerance
    ],
)
def test_verified_vs_computed_cross_check(verified: str, tolerance: str, flagged: bool, score: int) -> None:
    c = calc(
        [f("energy.raw_coal", "1000", "t"), f("emissions.verified", verified, "tCO2", dept="eeb-140400")],
        tolerance=tolerance,
    )
    check = c.figures.cross_check
    assert check is not None
    assert check.verified_tco2 == Decimal(verified) and check.verified_by == "eeb-140400"
    assert check.computed_tco2 == Decimal("1900.3") and check.computed_from == "stats-140400"
    assert check.difference_tco2 == Decimal("1900.3") - Decimal(verified)
    assert check.discrepancy is flagged
    assert c.figures.data_quality_score == score
    assert any("differs from computed" in n for n in c.notes) is flagged
    assert c.figures.total_tco2 == Decimal("1900.3")  # the account keeps the computed figure


def test_no_verified_fact_means_no_cross_check() -> None:
    assert account([f("energy.raw_coal", "1000", "t")]).cross_check is None
