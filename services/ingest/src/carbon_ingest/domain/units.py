"""Unit conversion with ``pint``: every accepted unit string to its indicator's canonical unit.

Departments write units the way Chinese statistics do (``1e4 Nm3`` = 万立方米, ``10k CNY`` = 万元).
Those strings are not pint syntax (and pint reads ``kt`` as *knot*), so each accepted string is
mapped to a pint expression here; the conversion itself is pint's, never a hand-written factor.
Factors are computed once per (unit, canonical) pair: a pint conversion costs ~75 µs, which a
10,000-record batch cannot afford per record.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import pint

#: extra definitions: normal cubic metres, CO2 mass and currency as their own dimensions, so a
#: tonne of coal can never be converted into a tonne of CO2 or into yuan by accident
_DEFINITIONS = (
    "Nm3 = meter ** 3",  # m3 of gas is read as m3 at normal conditions (GB/T 2589 reports gas so)
    "ten_thousand_Nm3 = 10000 * Nm3",
    "kgCO2 = [co2_mass]",
    "tCO2 = 1000 * kgCO2",
    "ktCO2 = 1000 * tCO2",
    "CNY = [currency]",
    "ten_thousand_CNY = 10000 * CNY",
)

#: the unit strings of the catalogue → pint expressions (strings absent here are passed to pint as is)
PINT_SPELLING = {
    "t": "tonne",
    "kt": "kilotonne",
    "kg": "kilogram",
    "1e4 Nm3": "ten_thousand_Nm3",
    "m3": "meter ** 3",
    "10k CNY": "ten_thousand_CNY",
    "count": "count",
}


class UnitError(ValueError):
    """A unit pint cannot convert to the canonical one."""


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry[Decimal]:
    ureg: pint.UnitRegistry[Decimal] = pint.UnitRegistry(non_int_type=Decimal)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    return ureg


@lru_cache(maxsize=512)
def factor(unit: str, canonical: str) -> Decimal:
    """How many ``canonical`` units one ``unit`` is (exact Decimal)."""
    ureg = registry()
    try:
        q = ureg.Quantity(Decimal(1), PINT_SPELLING.get(unit, unit)).to(
            PINT_SPELLING.get(canonical, canonical)
        )
    except (pint.errors.PintError, AttributeError, TypeError, ValueError) as exc:
        raise UnitError(f"{unit!r} cannot be converted to {canonical!r}") from exc
    return Decimal(q.magnitude)


def convert(value: Decimal, unit: str, canonical: str) -> Decimal:
    """``value`` in ``canonical`` units, in plain notation (``1250``, never ``1.25E+3``: the JSON
    of ``FactRecorded`` carries ``str(value)``)."""
    return convert_spelled(value, unit, canonical)[0]


def convert_spelled(value: Decimal, unit: str, canonical: str) -> tuple[Decimal, str]:
    """``convert`` and the result's ``canonical_decimal`` text (hashes and statements reuse it)."""
    result = value if unit == canonical else value * factor(unit, canonical)
    text = canonical_decimal(result)
    return Decimal(text), text


def canonical_decimal(value: Decimal) -> str:
    """The one string form of a value (no exponent, no trailing zeros) for hashing and JSON."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
