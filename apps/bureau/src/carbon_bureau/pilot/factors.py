"""The ONE table of emission factors the generator's expected-emissions recomputation uses.

Every number comes from ``shared/reference/domain-data.md`` (the project's factor reference)
unless its source says otherwise. The accounting service seeds its own versioned library from
the same reference; the benchmark compares its account totals with the recomputation made with
this table, so a difference in factor choice shows up as a named, explainable gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Factor:
    """tCO2 per canonical unit of the indicator (per MWh for grid electricity)."""

    value: Decimal
    unit: str
    source: str


_FUEL_SRC = "domain-data.md §3: NCV (GB/T 2589) × carbon content × oxidation × 44/12"

FACTORS: dict[str, Factor] = {
    # scope 1, combustion
    "energy.raw_coal": Factor(Decimal("1.9003"), "tCO2/t", _FUEL_SRC),
    "energy.coke": Factor(Decimal("2.8604"), "tCO2/t", _FUEL_SRC),
    "energy.crude_oil": Factor(Decimal("3.0202"), "tCO2/t", _FUEL_SRC),
    "energy.fuel_oil": Factor(Decimal("3.1705"), "tCO2/t", _FUEL_SRC),
    "energy.gasoline": Factor(Decimal("2.9251"), "tCO2/t", _FUEL_SRC),
    "energy.kerosene": Factor(Decimal("3.0179"), "tCO2/t", _FUEL_SRC),
    "energy.diesel": Factor(Decimal("3.0959"), "tCO2/t", _FUEL_SRC),
    "energy.lpg": Factor(Decimal("3.1013"), "tCO2/t", _FUEL_SRC),
    "energy.refinery_gas": Factor(Decimal("3.0119"), "tCO2/t", _FUEL_SRC),
    "energy.natural_gas": Factor(Decimal("21.622"), "tCO2/1e4 Nm3", _FUEL_SRC),
    # scope 1, process (NOT in domain-data.md: IPCC defaults, marked as such)
    "process.clinker": Factor(
        Decimal("0.52"),
        "tCO2/t clinker",
        "IPCC 2006 GL Vol.3 Ch.2 Eq.2.4 default EFclc 0.51 × CKD 1.02 (unverified here)",
    ),
    "process.carbonate": Factor(
        Decimal("0.43971"),
        "tCO2/t",
        "IPCC 2006 GL Vol.3 Ch.2 Table 2.1, calcite CaCO3 stoichiometric 0.43971",
    ),
    # scope 2, location-based
    "heat.purchased": Factor(Decimal("0.11"), "tCO2/GJ", "domain-data.md §2: China ETS guidance default"),
}

# Grid electricity, national average (MEE/NBS), by accounting year. Years after the last
# published one use the latest published factor (domain-data.md §2: "latest published").
GRID_LOCATION_BY_YEAR: dict[int, Factor] = {
    2021: Factor(
        Decimal("0.5568"), "tCO2/MWh", "domain-data.md §2: MEE/NBS national average, data year 2021"
    ),
    2022: Factor(
        Decimal("0.5366"), "tCO2/MWh", "domain-data.md §2: MEE/NBS national average, data year 2022"
    ),
    2023: Factor(
        Decimal("0.5306"), "tCO2/MWh", "domain-data.md §2: MEE/NBS national average, data year 2023"
    ),
}

COMBUSTION = frozenset(k for k in FACTORS if k.startswith("energy."))
PROCESS = frozenset(k for k in FACTORS if k.startswith("process."))


def grid_factor(year: int) -> Factor:
    """Location-based grid factor for an accounting year (clamped to the published years)."""
    years = sorted(GRID_LOCATION_BY_YEAR)
    return GRID_LOCATION_BY_YEAR[min(max(year, years[0]), years[-1])]


def as_table() -> dict[str, dict[str, str]]:
    """The factor table as JSON-ready strings, written into ``expectations.json``."""
    table = {k: {"value": str(f.value), "unit": f.unit, "source": f.source} for k, f in FACTORS.items()}
    for year, f in GRID_LOCATION_BY_YEAR.items():
        table[f"electricity.purchased@{year}"] = {"value": str(f.value), "unit": f.unit, "source": f.source}
    return table
