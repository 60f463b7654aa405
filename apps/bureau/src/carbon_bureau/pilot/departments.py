"""Which department reports what for an enterprise, and in which unit it writes it.

Real life splits reporting by level: county power-supply companies, statistics and tax bureaus
serve SMEs; the city-level ones serve large enterprises; ecology & environment, development &
reform and self-declarations are per city; the carbon market registry and the provincial
verification office are province-wide. That gives about 100 sources, as in the pilot (102).
County-level departments with an odd code (and self-declarations) write their figures in the
smallest accepted unit (kWh, kg, Nm3, CNY) so that unit conversion is exercised.
"""

from __future__ import annotations

from .catalogue import CATALOGUE, EEB, ETS, GRID, NDRC, SELF, STATS, TAX
from .enterprises import Enterprise
from .regions import CITIES, PROVINCE_CODE

VERIFIER = f"{EEB}-{PROVINCE_CODE}"  # provincial verification of yearly emissions
REGISTRY = f"{ETS}-{PROVINCE_CODE}"  # national carbon market registry (its Shanxi view)
_BIG_UNIT_AT_CITY = frozenset(("production.coal_mined", "production.crude_steel"))


def home(kind: str, ent: Enterprise) -> str:
    """The department of ``kind`` that reports for the enterprise."""
    if kind in (GRID, STATS, TAX):
        return f"{kind}-{ent.city.code if ent.size_class == 'large' else ent.region_code}"
    if kind in (EEB, NDRC, SELF):
        return f"{kind}-{ent.city.code}"
    if kind == ETS:
        return REGISTRY
    raise ValueError(kind)


def all_departments() -> list[str]:
    """Every reporting source the generator can use (at full size all of them report)."""
    out = [REGISTRY, VERIFIER]
    for city in CITIES:
        out += [f"{k}-{city.code}" for k in (GRID, STATS, TAX, EEB, NDRC, SELF)]
        out += [f"{k}-{code}" for code, _ in city.counties for k in (GRID, STATS, TAX)]
    return sorted(out)


def unit_for(department: str, indicator: str) -> str:
    """The unit a department writes an indicator in (always one the catalogue accepts)."""
    row = CATALOGUE[indicator]
    kind, code = department.split("-", 1)
    county_level = not code.endswith("00")
    if kind == SELF or (county_level and int(code) % 2 == 1):
        return min(row.units, key=lambda u: row.units[u])
    if department == VERIFIER or (kind == STATS and indicator in _BIG_UNIT_AT_CITY):
        return max(row.units, key=lambda u: row.units[u])
    return row.canonical
