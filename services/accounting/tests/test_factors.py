"""The packaged factor library: sources, parameters and the year look-up (pure, fast)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbon_accounting.adapters.factor_files import load_packaged, packaged_refs
from carbon_accounting.domain.factors import FactorNotFound, FactorSet

FS = load_packaged()


def test_every_packaged_set_loads_and_every_factor_is_cited() -> None:
    refs = packaged_refs()
    assert "cn-default@1" in refs
    for ref in refs:
        fs = load_packaged(ref)
        assert fs.ref == ref
        for f in fs.factors:
            assert f.source.strip(), f.code
            assert f.valid_from is not None, f.code
            assert f.value > 0, f.code


@pytest.mark.parametrize("factor", [f for f in FS.factors if f.params], ids=lambda f: f.code)
def test_published_fuel_factor_equals_its_parameters_rounded_to_published_precision(factor: object) -> None:
    from carbon_accounting.domain.factors import Factor

    assert isinstance(factor, Factor)
    computed = factor.from_parameters()
    assert computed is not None
    assert computed.quantize(factor.value) == factor.value
    # the published value is the rounding of the parameters, not an independent number
    assert abs(computed - factor.value) <= Decimal(5) * Decimal(10) ** (factor.value.as_tuple().exponent - 1)


def test_raw_coal_parameters_give_1_9003() -> None:
    coal = FS.for_indicator("energy.raw_coal", 2024)
    assert coal is not None
    # 20.908 GJ/t × 26.37 tC/TJ × 0.94 × 44/12 / 1000 = 1.90029885 tCO2/t
    assert coal.from_parameters() == Decimal("20.908") * Decimal("26.37") * Decimal("0.94") * 44 / 12 / 1000
    assert coal.value == Decimal("1.9003")


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2020, "0.5568"),
        (2021, "0.5568"),
        (2022, "0.5366"),
        (2023, "0.5306"),
        (2024, "0.5306"),
        (2030, "0.5306"),
    ],
)
def test_grid_factor_is_latest_published_not_after_the_year(year: int, expected: str) -> None:
    assert FS.by_code("grid.national_average", year).value == Decimal(expected)


def test_2021_and_2022_national_averages_are_not_swapped() -> None:
    assert FS.by_code("grid.national_average", 2021).value > FS.by_code("grid.national_average", 2022).value


def test_unverified_factor_is_flagged_and_residual_mix_present() -> None:
    ets = FS.by_code("grid.ets_reporting", 2024)
    assert ets.verified is False and "unverified" in ets.source
    assert FS.by_code("grid.residual_mix", 2022).value == Decimal("0.5856")
    assert FS.by_code("heat.purchased", 2024).value == Decimal("0.11")


def test_missing_factor_raises_and_round_trip_is_lossless() -> None:
    with pytest.raises(FactorNotFound):
        FS.by_code("grid.mars", 2024)
    again = FactorSet.from_dict(FS.to_dict())
    assert again == FS
