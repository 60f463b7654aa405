"""A small machine-readable copy of the indicator table in ``docs/indicators.md``.

Why a copy: the ingest service owns the real catalogue and the generator must not import a
service (import-linter). The generator only needs enough of it to emit valid records (units,
which department kinds may report what, required attributes) and to convert its own alternate
units back to canonical values for the expected-emissions recomputation. A lead-level cross
test compares the generated records with ingest's catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

_MASS = {"t": Decimal(1), "kt": Decimal(1000), "kg": Decimal("0.001")}
_GAS = {"1e4 Nm3": Decimal(1), "Nm3": Decimal("0.0001"), "m3": Decimal("0.0001")}
_ENERGY = {"MWh": Decimal(1), "kWh": Decimal("0.001"), "GWh": Decimal(1000)}
_HEAT = {"GJ": Decimal(1), "MJ": Decimal("0.001"), "TJ": Decimal(1000)}
_MONEY = {"10k CNY": Decimal(1), "CNY": Decimal("0.0001")}
_CO2 = {"tCO2": Decimal(1), "kgCO2": Decimal("0.001"), "ktCO2": Decimal(1000)}

STATS, GRID, EEB, TAX, ETS, NDRC, SELF = "stats", "grid", "eeb", "tax", "ets", "ndrc", "self"
KINDS: tuple[str, ...] = (GRID, EEB, TAX, STATS, ETS, NDRC, SELF)


@dataclass(frozen=True, slots=True)
class Indicator:
    """One catalogue row: canonical unit, accepted units (factor to canonical), reporting kinds."""

    code: str
    canonical: str
    units: dict[str, Decimal]
    kinds: frozenset[str]
    places: int  # decimal places the generator keeps in canonical units
    required_attributes: tuple[str, ...] = ()
    signed: bool = False  # may legitimately be negative (value added of a loss-making firm)

    def alternate_unit(self) -> str:
        """The first accepted non-canonical unit (or the canonical one if there is none)."""
        for unit in self.units:
            if unit != self.canonical:
                return unit
        return self.canonical


def _ind(
    code: str, canonical: str, units: dict[str, Decimal], allowed: tuple[str, ...], places: int, *req: str
) -> Indicator:
    # order: canonical first, then the other accepted units
    ordered = {canonical: units[canonical], **{u: f for u, f in units.items() if u != canonical}}
    return Indicator(code, canonical, ordered, frozenset(allowed), places, tuple(req))


def _pick(table: dict[str, Decimal], *names: str) -> dict[str, Decimal]:
    return {n: table[n] for n in names}


_ONE_T = {"t": Decimal(1)}
_COUNT = {"count": Decimal(1)}

_ROWS: tuple[Indicator, ...] = (
    _ind("energy.raw_coal", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("energy.coke", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("energy.natural_gas", "1e4 Nm3", _GAS, (STATS, SELF), 4),
    _ind("energy.diesel", "t", _pick(_MASS, "t", "kg"), (STATS, SELF), 3),
    _ind("energy.fuel_oil", "t", _ONE_T, (STATS, SELF), 3),
    _ind("energy.gasoline", "t", _pick(_MASS, "t", "kg"), (STATS, SELF), 3),
    _ind("energy.lpg", "t", _pick(_MASS, "t", "kg"), (STATS, SELF), 3),
    _ind("energy.crude_oil", "t", _ONE_T, (STATS, SELF), 3),
    _ind("energy.kerosene", "t", _ONE_T, (STATS, SELF), 3),
    _ind("energy.refinery_gas", "t", _ONE_T, (STATS, SELF), 3),
    _ind("electricity.purchased", "MWh", _ENERGY, (GRID, SELF), 3),
    _ind("electricity.green_purchased", "MWh", _pick(_ENERGY, "MWh", "kWh"), (GRID, SELF), 3),
    _ind("electricity.exported", "MWh", _ENERGY, (GRID, SELF), 3),
    _ind("heat.purchased", "GJ", _HEAT, (STATS, SELF), 2),
    _ind("heat.exported", "GJ", _HEAT, (STATS, SELF), 2),
    _ind("process.clinker", "t", _pick(_MASS, "t", "kt"), (STATS, EEB, SELF), 2),
    _ind("process.carbonate", "t", _ONE_T, (STATS, EEB, SELF), 2),
    _ind("production.power_supplied", "MWh", {**_pick(_ENERGY, "MWh", "GWh", "kWh")}, (STATS, GRID, SELF), 3),
    _ind("production.crude_steel", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.coke", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.clinker", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.cement", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.coal_mined", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.aluminium", "t", _ONE_T, (STATS, SELF), 2),
    _ind("production.chemicals", "t", _pick(_MASS, "t", "kt"), (STATS, SELF), 2),
    _ind("production.other", "t", _ONE_T, (STATS, SELF), 2),
    _ind("scope3.purchased_goods", "tCO2", _pick(_CO2, "tCO2", "kgCO2"), (SELF,), 2),
    _ind("scope3.transport", "tCO2", _pick(_CO2, "tCO2", "kgCO2"), (SELF,), 2),
    _ind("finance.revenue", "10k CNY", _MONEY, (TAX, SELF), 2),
    Indicator("finance.value_added", "10k CNY", _MONEY, frozenset((STATS,)), 2, signed=True),
    _ind("finance.reduction_capex", "10k CNY", _MONEY, (NDRC, SELF), 2),
    _ind("finance.total_capex", "10k CNY", _MONEY, (NDRC, STATS, SELF), 2),
    _ind("finance.total_debt", "10k CNY", _MONEY, (TAX, STATS, SELF), 2),
    # equity is negative when liabilities exceed assets (ingest: no lower bound)
    Indicator("finance.total_equity", "10k CNY", _MONEY, frozenset((TAX, STATS, SELF)), 2, signed=True),
    _ind("compliance.env_penalty", "count", _COUNT, (EEB,), 0, "severity"),
    _ind("compliance.permit_violation", "count", _COUNT, (EEB,), 0),
    _ind("ets.allocated", "t", _ONE_T, (ETS,), 0),
    _ind("ets.verified", "tCO2", {"tCO2": Decimal(1)}, (ETS,), 0),
    _ind("ets.surrendered", "t", _ONE_T, (ETS,), 0),
    _ind("ets.borrowed", "t", _ONE_T, (ETS,), 0),
    _ind("ets.overdraft", "t", _ONE_T, (ETS,), 0),
    _ind("transition.milestones_planned", "count", _COUNT, (NDRC, SELF), 0),
    _ind("transition.milestones_met", "count", _COUNT, (NDRC,), 0),
    _ind("emissions.verified", "tCO2", _pick(_CO2, "tCO2", "ktCO2"), (EEB, ETS), 2),
)

CATALOGUE: dict[str, Indicator] = {row.code: row for row in _ROWS}
PENALTY_SEVERITIES: tuple[str, ...] = ("minor", "major", "serious")


def department_kind(department: str) -> str:
    """``grid-140400`` -> ``grid``."""
    return department.split("-", 1)[0]


def to_canonical(indicator: str, value: Decimal, unit: str) -> Decimal:
    """Exact (decimal) conversion of a value in an accepted unit to the canonical unit."""
    return value * CATALOGUE[indicator].units[unit]


def is_allowed(department: str, indicator: str, unit: str) -> bool:
    """True if the department's kind may report the indicator in that unit."""
    row = CATALOGUE.get(indicator)
    return row is not None and department_kind(department) in row.kinds and unit in row.units
