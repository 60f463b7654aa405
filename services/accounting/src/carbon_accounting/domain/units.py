"""Canonical units accounting expects per indicator family, with the spellings it tolerates.

Ingest converts every value to the catalogue's canonical unit (docs/indicators.md) before
publishing ``FactRecorded``; accounting is a tolerant reader of the spelling only. A value in a
unit outside these sets can never be accounted and is dead-lettered rather than guessed at.
"""

from __future__ import annotations

TONNE = frozenset({"t", "tonne", "tonnes", "metric_ton"})
NM3_1E4 = frozenset({"1e4 Nm3", "10^4 Nm3", "10000 Nm3", "1e4 m3", "10^4 m3", "1e4*Nm3", "万立方米"})
MWH = frozenset({"MWh", "megawatt_hour"})
GJ = frozenset({"GJ", "gigajoule"})
TCO2 = frozenset({"tCO2", "tCO2e", "t CO2", "t", "tonne"})
CNY_10K = frozenset({"10k CNY", "1e4 CNY", "10^4 CNY", "万元", "10k_CNY"})

_BY_INDICATOR: dict[str, frozenset[str]] = {
    "energy.natural_gas": NM3_1E4,
    "electricity.purchased": MWH,
    "electricity.green_purchased": MWH,
    "electricity.exported": MWH,
    "heat.exported": GJ,
    "production.power_supplied": MWH,
    "heat.purchased": GJ,
    "emissions.verified": TCO2,
    "finance.revenue": CNY_10K,
    "finance.value_added": CNY_10K,
}
_BY_PREFIX: tuple[tuple[str, frozenset[str]], ...] = (
    ("energy.", TONNE),
    ("process.", TONNE),
    ("production.", TONNE),
    ("scope3.", TCO2),
)

#: the indicator families accounting reads; everything else on the facts topic is ignored
ACCOUNTED_PREFIXES = ("energy.", "electricity.", "heat.", "process.", "production.", "scope3.")
ACCOUNTED_EXACT = frozenset({"finance.revenue", "finance.value_added", "emissions.verified"})


def is_accounted(indicator: str) -> bool:
    return indicator in ACCOUNTED_EXACT or indicator.startswith(ACCOUNTED_PREFIXES)


def accepted_units(indicator: str) -> frozenset[str] | None:
    if indicator in _BY_INDICATOR:
        return _BY_INDICATOR[indicator]
    for prefix, units in _BY_PREFIX:
        if indicator.startswith(prefix):
            return units
    return None


def unit_ok(indicator: str, unit: str) -> bool:
    units = accepted_units(indicator)
    return units is None or unit.strip() in units
